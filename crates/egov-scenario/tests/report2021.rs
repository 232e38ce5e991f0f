//! The full report-2021 stream against `docs/figures-2021.md`, through the reference:
//! generated once, checked for figures, contract validity, resends,
//! out-of-order arrival, batching and the reversed order.

use chrono::Utc;
use egov_model::contract::Contract;
use egov_model::{Catalogue, EventType, System};
use egov_scenario::reference::{DocumentFigures, Reference};
use egov_scenario::report2021::{
    Report2021, CENTER_WINDOW, DEFAULT_SEED, DOCUMENTS_WINDOW, ONESTOP_WINDOW,
};
use egov_scenario::units::SERVICE_CENTER;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

fn check_figures(reference: &Reference) {
    let docs = reference
        .report(DOCUMENTS_WINDOW.from, DOCUMENTS_WINDOW.to, None)
        .documents;
    let got = |f: &DocumentFigures| (f.incoming, f.outgoing, f.outgoing_signed);
    assert_eq!(got(&docs.province), (319_228, 106_457, 105_537));
    assert_eq!(got(&docs.district), (157_487, 80_037, 76_936));
    assert_eq!(got(&docs.commune), (639_796, 93_355, 86_485));
    assert_eq!(got(&docs.total), (1_116_511, 279_849, 268_958));

    let onestop = reference
        .report(ONESTOP_WINDOW.from, ONESTOP_WINDOW.to, None)
        .dossiers;
    let (d, c) = (&onestop.district, &onestop.commune);
    assert_eq!(d.received + c.received, 157_054);
    assert_eq!(d.in_period + c.in_period, 164_063);
    assert_eq!(d.due + c.due, 161_578);
    assert_eq!(
        d.resolved_early + d.resolved_on_time + c.resolved_early + c.resolved_on_time,
        146_777
    );
    let share = onestop.total.online_share.unwrap_or_default();
    assert!((0.0735..0.0745).contains(&share), "online share {share}");
    assert_eq!(format!("{:.1}%", share * 100.0), "7.4%");

    let center_only: HashSet<String> = [SERVICE_CENTER.to_owned()].into();
    for units in [None, Some(&center_only)] {
        let p = reference
            .report(CENTER_WINDOW.from, CENTER_WINDOW.to, units)
            .dossiers
            .province;
        assert_eq!(p.received, 51_754);
        assert_eq!(p.in_period, 61_263);
        assert_eq!(p.due, 51_007);
        assert_eq!(p.resolved_early + p.resolved_on_time, 50_817);
    }
}

#[test]
fn full_stream_reproduces_the_2021_figures() -> anyhow::Result<()> {
    let started = Instant::now();
    let scenario = Arc::new(Report2021::generate(DEFAULT_SEED)?);
    let generated = started.elapsed();
    let reference = scenario.reference(false)?;
    eprintln!(
        "{} events; generated in {generated:?}, reference in {:?}",
        scenario.len(),
        started.elapsed() - generated
    );
    check_figures(&reference);

    // Every window's figures again from the reversed stream.
    let reversed = scenario.reference(true)?;
    for w in egov_scenario::report2021::WINDOWS {
        assert_eq!(
            reference.report(w.from, w.to, None),
            reversed.report(w.from, w.to, None)
        );
    }
    drop(reversed);

    // Resends, out-of-order arrival, and batches that never repeat an id.
    let mut copies_per_identity: HashMap<u32, u8> = HashMap::new();
    let mut ids = HashSet::new();
    let mut received_seen: HashSet<Vec<u8>> = HashSet::new();
    let mut resolved_before_received = 0u64;
    let mut later_than_next = 0u64;
    let mut previous_at = 0i64;
    for event in scenario.events(false) {
        *copies_per_identity.entry(event.identity()).or_default() += 1;
        if event.occurred_at() < previous_at - 3_600 {
            later_than_next += 1;
        }
        previous_at = previous_at.max(event.occurred_at());
        if event.copy() == 0 {
            let value = event.to_value()?;
            let id = value["event_id"].as_str().unwrap_or_default().to_owned();
            let system = event.system();
            assert!(ids.insert((system, id.clone())), "{id} twice");
            assert!(id.len() <= 128);
            let dossier = value["payload"]["dossier_id"].as_str().unwrap_or_default();
            let key = format!("{}/{}", value["unit_code"], dossier).into_bytes();
            match event.event_type() {
                EventType::DossierReceived => {
                    received_seen.insert(key);
                }
                EventType::DossierResolved if !received_seen.contains(&key) => {
                    resolved_before_received += 1;
                }
                _ => {}
            }
        }
    }
    let resent = copies_per_identity.values().filter(|n| **n > 1).count();
    eprintln!(
        "{resent} events resent; {later_than_next} events arrive more than an hour after a later one; \
         {resolved_before_received} dossiers resolved before their receipt arrives"
    );
    assert!(resent > 20_000);
    assert!(copies_per_identity.values().any(|n| *n == 3));
    assert!(later_than_next > 20_000);
    assert!(resolved_before_received > 1_000);

    let mut batches = 0usize;
    let mut events = 0usize;
    for batch in scenario.batches(2_000, true) {
        batches += 1;
        events += batch.events;
        assert!(batch.events <= 2_000);
        if batches % 97 == 0 {
            let values = batch.to_values()?;
            let distinct: HashSet<&str> = values
                .iter()
                .map(|v| v["event_id"].as_str().unwrap_or_default())
                .collect();
            assert_eq!(distinct.len(), values.len(), "an id twice in one batch");
            let system = if batch.system == System::Documents {
                "document."
            } else {
                "dossier."
            };
            assert!(values.iter().all(|v| v["event_type"]
                .as_str()
                .unwrap_or_default()
                .starts_with(system)));
        }
    }
    assert_eq!(events, scenario.len());
    assert!(batches >= scenario.len() / 2_000);
    Ok(())
}

#[test]
fn events_are_valid_under_contract_v1() -> anyhow::Result<()> {
    let scenario = Report2021::generate(DEFAULT_SEED)?;
    let (contract, catalogue) = (Contract::v1()?, Catalogue::embedded()?);
    let now = Utc::now();
    let mut seen_types = HashSet::new();
    let mut checked = 0usize;
    let step = scenario.len() / 20_000;
    for (i, event) in scenario.events(false).enumerate() {
        let first_of_type = seen_types.insert(event.event_type());
        if !first_of_type && i % step != 0 {
            continue;
        }
        let value = event.to_value()?;
        if let Err(violation) = contract.validate(&value, now, &catalogue) {
            panic!("{value}: {violation:?}");
        }
        checked += 1;
    }
    assert_eq!(seen_types.len(), EventType::ALL.len());
    assert!(checked >= 20_000);
    Ok(())
}

#[test]
fn generation_is_deterministic_per_seed() -> anyhow::Result<()> {
    let digest = |scenario: &Report2021| {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        for event in scenario.events(false).step_by(101) {
            event.to_json().hash(&mut hasher);
        }
        hasher.finish()
    };
    let a = Report2021::generate(DEFAULT_SEED)?;
    let first = digest(&a);
    drop(a);
    assert_eq!(first, digest(&Report2021::generate(DEFAULT_SEED)?));
    let other = Report2021::generate(7)?;
    assert_ne!(first, digest(&other));
    check_figures(&other.reference(false)?);
    Ok(())
}
