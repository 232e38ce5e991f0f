//! Country scale: the 2021 stream sent by two provinces. Province 1's events
//! are those of the one-province stream byte for byte (so its figures are the
//! 2021 report's, `tests/report2021.rs`); province 2's are the same events
//! with its own unit codes; and, through the reference on a sample of units,
//! province 2's figures over every window of the report are province 1's.

use egov_scenario::provinces::unit_code;
use egov_scenario::reference::Reference;
use egov_scenario::report2021::{Report2021, DEFAULT_SEED, WINDOWS};
use egov_scenario::units::SERVICE_CENTER;
use serde_json::Value;
use std::collections::HashSet;
use std::sync::Arc;

/// `event` as province 2 sends it: unit code and the ids (which start
/// with it) of province 2.
fn as_province_two(mut event: Value) -> Value {
    let prefix = |v: &mut Value| {
        if let Some(text) = v.as_str() {
            *v = Value::String(format!("S02-{text}"));
        }
    };
    prefix(&mut event["unit_code"]);
    prefix(&mut event["event_id"]);
    for id in ["document_id", "dossier_id"] {
        if let Some(v) = event["payload"].get_mut(id) {
            prefix(v);
        }
    }
    event
}

#[test]
fn two_provinces_each_send_the_2021_mix_with_their_own_codes() -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let one = Report2021::generate(DEFAULT_SEED)?;
    let two = Arc::new(Report2021::generate_provinces(DEFAULT_SEED, 2)?);
    assert_eq!((one.provinces(), two.provinces()), (1, 2));
    assert_eq!(two.len(), 2 * one.len());
    assert_eq!(two.catalogue().len(), 2 * one.catalogue().len());

    // The natural order: each event of province 1, then the same of province 2.
    let mut stream = two.events(false);
    let (mut json, mut first_json) = (Vec::new(), Vec::new());
    for (i, event) in one.events(false).enumerate() {
        let (Some(first), Some(second)) = (stream.next(), stream.next()) else {
            anyhow::bail!("the two-province stream ends at event {i}");
        };
        assert_eq!((first.province(), second.province()), (1, 2));
        assert_eq!(first.identity(), second.identity());
        json.clear();
        first_json.clear();
        event.write_json(&mut json);
        first.write_json(&mut first_json);
        assert_eq!(json, first_json, "province 1's event {i} differs");
        if i % 50 == 0 {
            assert_eq!(second.to_value()?, as_province_two(event.to_value()?));
        }
    }
    assert!(stream.next().is_none());
    eprintln!("province 1 compared after {:?}", started.elapsed());

    // Exactly the reverse order too.
    let forward: Vec<(u32, u16)> = two
        .events(false)
        .step_by(1_001)
        .map(|e| (e.identity(), e.province()))
        .collect();
    let mut backward: Vec<(u32, u16)> = two
        .events(true)
        .skip((two.len() - 1) % 1_001)
        .step_by(1_001)
        .map(|e| (e.identity(), e.province()))
        .collect();
    backward.reverse();
    assert_eq!(forward, backward);

    // Request bodies of one system each, never an id twice, though the
    // provinces' copies of an event share its identity (the first 100).
    let mut mixed = 0;
    for batch in two.batches(2_000, false).take(100) {
        let values = batch.to_values()?;
        let ids: HashSet<(&str, &str)> = values
            .iter()
            .map(|v| {
                (
                    v["unit_code"].as_str().unwrap_or_default(),
                    v["event_id"].as_str().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(ids.len(), values.len());
        mixed += usize::from(
            ids.iter().any(|(unit, _)| unit.starts_with("S02-"))
                && ids.iter().any(|(unit, _)| !unit.starts_with("S02-")),
        );
    }
    assert_eq!(mixed, 100, "a batch of one province only");
    eprintln!("stream checked after {:?}", started.elapsed());

    // The figures, on a sample of units that has every level (the province
    // row, an agency, the Service Center, a district and its communes): each
    // province's are province 1's.
    let base = one.catalogue();
    let sampled = |code: &str| {
        let code = code.strip_prefix("S02-").unwrap_or(code);
        base.get(code).is_some_and(|u| {
            ["26", "000.00.05.H62", SERVICE_CENTER, "253"].contains(&u.code.as_str())
                || u.district_code.as_deref() == Some("253")
        })
    };
    let mut reference = Reference::with_catalogue(two.catalogue());
    let mut added = 0u64;
    for event in two.events(false).filter(|e| sampled(e.unit_code())) {
        json.clear();
        event.write_json(&mut json);
        reference.add_json(&json)?;
        added += 1;
    }
    eprintln!(
        "{added} events of the sample added after {:?}",
        started.elapsed()
    );
    assert!(added > two.len() as u64 / 20);
    let sample = |province| -> HashSet<String> {
        base.units()
            .filter(|u| sampled(&u.code))
            .map(|u| unit_code(&u.code, province).into_owned())
            .collect()
    };
    let (first, second) = (sample(1), sample(2));
    assert!(first.is_disjoint(&second));
    assert_eq!(first.len(), second.len());
    for window in WINDOWS {
        let of = |units| reference.report(window.from, window.to, Some(units));
        let (p1, p2) = (of(&first), of(&second));
        assert_eq!(p1, p2, "window {}..{}", window.from, window.to);
        for level in [
            &p1.dossiers.province,
            &p1.dossiers.district,
            &p1.dossiers.commune,
        ] {
            assert!(level.received > 0 && level.due > 0, "{level:?}");
        }
        let d = &p1.documents;
        assert!(
            d.province.incoming > 0 && d.district.outgoing > 0 && d.commune.outgoing_signed > 0
        );
        let all = reference.report(window.from, window.to, None);
        assert_eq!(all.documents.total.incoming, 2 * d.total.incoming);
        assert_eq!(all.dossiers.total.due, 2 * p1.dossiers.total.due);
    }
    Ok(())
}
