//! Small random scenarios for end-to-end tests that compare `egov report`
//! with [`crate::reference::figures`].
//!
//! Each scenario has documents and dossiers at units of every level (the same
//! ids at different units are different documents), events on both sides of
//! the period's bounds (many within minutes of local midnight), occurred_at in
//! +07:00, `Z` and -05:00, dossiers without a receipt, supplements (some never
//! answered), several resolutions, refusals and withdrawals, a few results
//! recorded before the receipt, and exact duplicates, all shuffled.
//!
//! Dates cluster around the scenario's own window ([`suggested_window`]) and
//! around [`STANDARD_PERIOD`] (2021-03-01..2021-09-30), so both make good
//! report periods.
//!
//! The scenarios stay inside what contract section 5 defines: a dossier has
//! at most one distinct `dossier.received` (resends are identical), and no two
//! events of a dossier share an instant.

use crate::clock::{self, instant, ymd, Day};
use chrono::{DateTime, FixedOffset, NaiveDate, SecondsFormat};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

/// A period every random scenario has plenty of events around.
pub const STANDARD_PERIOD: (NaiveDate, NaiveDate) = (ymd(2021, 3, 1), ymd(2021, 9, 30));

/// Units of every level and kind (all in the catalogue).
pub const UNITS: [&str; 16] = [
    "26",
    "000.00.01.H62",
    "000.00.02.H62",
    "000.00.03.H62",
    "000.00.17.H62",
    "243",
    "244",
    "249",
    "252",
    "08707",
    "08710",
    "08734",
    "08935",
    "09025",
    "09076",
    "08773",
];

/// A random scenario and the window it was built around.
#[derive(Debug, Clone)]
pub struct RandomScenario {
    pub seed: u64,
    pub events: Vec<Value>,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

fn rng_of(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ 0x005e_ed0f_2021)
}

/// The window a scenario of `seed` is built around: 0 to 45 days within 2021
/// (a single day one time in ten).
pub fn suggested_window(seed: u64) -> (NaiveDate, NaiveDate) {
    let mut rng = rng_of(seed);
    let from = clock::day_of(ymd(2021, 1, 20)) + rng.random_range(0..290);
    let length = if rng.random_bool(0.1) {
        0
    } else {
        rng.random_range(1..46)
    };
    (clock::date_of(from), clock::date_of(from + length))
}

/// About `size` events (duplicates included), shuffled.
pub fn random_scenario(seed: u64, size: usize) -> Vec<Value> {
    random_scenario_with_window(seed, size).events
}

/// The events and the window of a scenario.
pub fn random_scenario_with_window(seed: u64, size: usize) -> RandomScenario {
    let (from, to) = suggested_window(seed);
    let mut generator = Generator {
        rng: rng_of(seed ^ 0xe7e7),
        seed,
        anchors: [
            clock::day_of(from),
            clock::day_of(to),
            clock::day_of(STANDARD_PERIOD.0),
            clock::day_of(STANDARD_PERIOD.1),
        ],
        events: Vec::with_capacity(size + size / 8),
        next_event: 0,
        entities: 0,
    };
    while generator.events.len() < size {
        if generator.rng.random_bool(0.55) {
            generator.dossier();
        } else {
            generator.document();
        }
    }
    let mut events = generator.events;
    let mut rng = generator.rng;
    let originals = events.len();
    for i in 0..originals {
        if rng.random_bool(0.08) {
            let copy = events[i].clone();
            events.push(copy);
        }
    }
    events.shuffle(&mut rng);
    RandomScenario {
        seed,
        events,
        from,
        to,
    }
}

struct Generator {
    rng: ChaCha8Rng,
    seed: u64,
    anchors: [Day; 4],
    events: Vec<Value>,
    next_event: u64,
    entities: u64,
}

impl Generator {
    /// An instant near one of the anchors, or anywhere in 2021; one in six
    /// within two minutes of local midnight.
    fn anchor_instant(&mut self) -> i64 {
        let day = if self.rng.random_bool(0.6) {
            let anchor = self.anchors[self.rng.random_range(0..self.anchors.len())];
            anchor + self.rng.random_range(-12..=12)
        } else {
            clock::day_of(ymd(2021, 1, 10)) + self.rng.random_range(0..320)
        };
        let second = if self.rng.random_bool(1.0 / 6.0) {
            86_400 + self.rng.random_range(-120..120)
        } else {
            self.rng.random_range(6 * 3600..22 * 3600)
        };
        instant(day, second)
    }

    fn later(&mut self, at: i64) -> i64 {
        at + if self.rng.random_bool(0.3) {
            self.rng.random_range(60..12 * 3600)
        } else {
            self.rng.random_range(3_600..15 * 86_400)
        }
    }

    fn timestamp(&mut self, at: i64) -> String {
        let offset = match self.rng.random_range(0..20) {
            0..16 => 7 * 3600,
            16..19 => 0,
            _ => -5 * 3600,
        };
        let zone = FixedOffset::east_opt(offset).unwrap_or(clock_utc());
        DateTime::from_timestamp(at, 0)
            .map(|t| {
                t.with_timezone(&zone)
                    .to_rfc3339_opts(SecondsFormat::Secs, true)
            })
            .unwrap_or_default()
    }

    fn unit_pair(&mut self) -> (&'static str, &'static str) {
        let a = self.rng.random_range(0..UNITS.len());
        let b = (a + self.rng.random_range(1..UNITS.len())) % UNITS.len();
        (UNITS[a], UNITS[b])
    }

    fn push(&mut self, event_type: &str, at: i64, unit: &str, payload: Value) {
        self.next_event += 1;
        let event = json!({
            "event_id": format!("rnd{:x}-{}", self.seed, self.next_event),
            "event_type": event_type,
            "occurred_at": self.timestamp(at),
            "unit_code": unit,
            "schema_version": 1,
            "payload": payload,
        });
        self.events.push(event);
    }

    /// Two dossiers with the same id at two units.
    fn dossier(&mut self) {
        self.entities += 1;
        let id = format!("HS{:x}-{}", self.seed, self.entities);
        let (a, b) = self.unit_pair();
        let count = if self.rng.random_bool(0.3) { 2 } else { 1 };
        for unit in [a, b].into_iter().take(count) {
            self.one_dossier(&id, unit);
        }
    }

    fn one_dossier(&mut self, id: &str, unit: &str) {
        let received_at = self.anchor_instant();
        let mut at = received_at;
        if self.rng.random_bool(0.92) {
            let channel = ["direct", "online", "postal"][self.rng.random_range(0..3)];
            let due = received_at + self.rng.random_range(-86_400..20 * 86_400);
            let due = self.timestamp(due);
            self.push(
                "dossier.received",
                received_at,
                unit,
                json!({"dossier_id": id, "procedure_code": "1.004227", "field_code": "KINH_DOANH",
                       "channel": channel, "service_level": 3, "applicant_type": "citizen", "due_at": due}),
            );
        }
        if self.rng.random_bool(0.3) {
            for _ in 0..self.rng.random_range(1..3) {
                at = self.later(at);
                self.push(
                    "dossier.supplement_requested",
                    at,
                    unit,
                    json!({"dossier_id": id}),
                );
                if self.rng.random_bool(0.7) {
                    at = self.later(at);
                    let due = at + self.rng.random_range(0..15 * 86_400);
                    let due = self.timestamp(due);
                    self.push(
                        "dossier.supplement_received",
                        at,
                        unit,
                        json!({"dossier_id": id, "due_at": due}),
                    );
                }
            }
        }
        let u = self.rng.random::<f64>();
        if u < 0.1 {
            at = self.later(at);
            let kind = if u < 0.06 {
                "dossier.refused"
            } else {
                "dossier.withdrawn"
            };
            self.push(
                kind,
                at,
                unit,
                json!({"dossier_id": id, "reason": "random"}),
            );
        } else if u < 0.8 {
            // A few results are dated before the receipt (bad source data).
            let resolved_at = if self.rng.random_bool(0.04) {
                received_at - self.rng.random_range(3_600..5 * 86_400)
            } else {
                at = self.later(at);
                at
            };
            self.push(
                "dossier.resolved",
                resolved_at,
                unit,
                json!({"dossier_id": id}),
            );
            if self.rng.random_bool(0.1) {
                at = self.later(at.max(resolved_at));
                self.push("dossier.resolved", at, unit, json!({"dossier_id": id}));
            }
            if self.rng.random_bool(0.5) {
                at = self.later(at.max(resolved_at));
                self.push("dossier.returned", at, unit, json!({"dossier_id": id}));
            }
        }
    }

    /// Two documents with the same id at two units.
    fn document(&mut self) {
        self.entities += 1;
        let id = format!("VB{:x}-{}", self.seed, self.entities);
        let (a, b) = self.unit_pair();
        let count = if self.rng.random_bool(0.3) { 2 } else { 1 };
        for unit in [a, b].into_iter().take(count) {
            let mut at = self.anchor_instant();
            let received = self.rng.random_bool(0.6);
            if received {
                for _ in 0..if self.rng.random_bool(0.1) { 2 } else { 1 } {
                    self.push(
                        "document.received",
                        at,
                        unit,
                        json!({"document_id": id, "sender": "Bộ Nội vụ", "channel": "national_axis", "priority": 1}),
                    );
                    at = self.later(at);
                }
            }
            if !received || self.rng.random_bool(0.2) {
                for _ in 0..if self.rng.random_bool(0.15) { 2 } else { 1 } {
                    let signed = self.rng.random_bool(0.8);
                    self.push(
                        "document.issued",
                        at,
                        unit,
                        json!({"document_id": id, "signed": signed,
                               "signature": {"personal": signed, "organization": signed}}),
                    );
                    at = self.later(at);
                }
            }
            if received && self.rng.random_bool(0.2) {
                self.push("document.completed", at, unit, json!({"document_id": id}));
            }
        }
    }
}

fn clock_utc() -> FixedOffset {
    FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::{figures, Reference};
    use chrono::Utc;
    use egov_model::contract::Contract;
    use egov_model::Catalogue;
    use proptest::prelude::{any, prop_assert_eq, proptest, ProptestConfig, TestCaseError};
    use std::collections::HashSet;

    #[test]
    fn scenarios_are_valid_deterministic_and_varied() -> anyhow::Result<()> {
        let (contract, catalogue) = (Contract::v1()?, Catalogue::embedded()?);
        for unit in UNITS {
            assert!(catalogue.get(unit).is_some(), "{unit}");
        }
        let s = random_scenario_with_window(3, 2_000);
        assert_eq!(s.events, random_scenario(3, 2_000));
        assert_ne!(s.events, random_scenario(4, 2_000));
        assert!(s.events.len() >= 2_000);
        assert!(s.from <= s.to);
        for event in &s.events {
            if let Err(v) = contract.validate(event, Utc::now(), &catalogue) {
                panic!("{event}: {v:?}");
            }
        }
        let ids: HashSet<&str> = s
            .events
            .iter()
            .filter_map(|e| e["event_id"].as_str())
            .collect();
        assert!(ids.len() < s.events.len(), "no duplicates");
        let offsets: HashSet<&str> = s
            .events
            .iter()
            .filter_map(|e| e["occurred_at"].as_str())
            .map(|t| if t.ends_with('Z') { "Z" } else { &t[19..] })
            .collect();
        assert!(offsets.len() >= 3, "{offsets:?}");
        for (from, to) in [(s.from, s.to), STANDARD_PERIOD] {
            let r = figures(&s.events, from, to, None)?;
            let d = &r.dossiers.total;
            assert!(d.received > 0 && d.carried_over > 0 && d.due > 0, "{d:?}");
            assert!(r.documents.total.incoming > 0 && r.documents.total.outgoing > 0);
        }
        Ok(())
    }

    fn duplicated_and_shuffled(events: &[Value], seed: u64, share: f64) -> Vec<Value> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut out = events.to_vec();
        for event in events {
            if rng.random_bool(share) {
                out.push(event.clone());
            }
        }
        out.shuffle(&mut rng);
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn shuffling_and_duplicating_leaves_the_figures_unchanged(
            seed in any::<u64>(),
            size in 10usize..500,
            shuffle in any::<u64>(),
            share in 0.0f64..0.6,
        ) {
            let s = random_scenario_with_window(seed, size);
            let other = duplicated_and_shuffled(&s.events, shuffle, share);
            let mut reversed = s.events.clone();
            reversed.reverse();
            let center: HashSet<String> = ["000.00.02.H62".to_owned(), "08707".to_owned()].into();
            let fail = |e: crate::reference::ReferenceError| TestCaseError::fail(e.to_string());
            let mut a = Reference::new().map_err(fail)?;
            let mut b = Reference::new().map_err(fail)?;
            let mut c = Reference::new().map_err(fail)?;
            for e in &s.events { a.add(e).map_err(fail)?; }
            for e in &other { b.add(e).map_err(fail)?; }
            for e in &reversed { c.add(e).map_err(fail)?; }
            let (from, to) = (s.from, s.to);
            for (from, to) in [(from, to), STANDARD_PERIOD, (to, to), (from - chrono::Days::new(40), to)] {
                for units in [None, Some(&center)] {
                    let base = a.report(from, to, units);
                    prop_assert_eq!(&base, &b.report(from, to, units));
                    prop_assert_eq!(&base, &c.report(from, to, units));
                }
            }
        }
    }
}
