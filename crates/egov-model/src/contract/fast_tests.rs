//! The fast path ([`Contract::check`] over [`RawEvent`]) against the schema
//! validator ([`Contract::validate`] over a `serde_json::Value`): the same
//! verdict, code, path and message on every example of `schemas/v1` and on
//! random mutations of the valid ones; and the hand-written checks alone
//! accept every valid example (so the fast path is the one taken).

use super::*;
use proptest::prelude::*;
use serde_json::json;
use std::sync::OnceLock;

fn setup() -> &'static (Contract, Catalogue) {
    static SETUP: OnceLock<(Contract, Catalogue)> = OnceLock::new();
    SETUP.get_or_init(|| {
        let contract = Contract::v1().unwrap_or_else(|e| panic!("contract: {e}"));
        let catalogue = Catalogue::embedded().unwrap_or_else(|e| panic!("catalogue: {e}"));
        (contract, catalogue)
    })
}

/// The events of the examples of `kind`.
fn examples(kind: &str) -> Vec<(String, Value)> {
    crate::examples::examples(kind)
        .unwrap_or_else(|e| panic!("examples: {e}"))
        .into_iter()
        .map(|(name, example)| (name, example["event"].clone()))
        .collect()
}

/// A verdict as both paths can state it.
#[derive(Debug, PartialEq)]
enum Verdict {
    Accepted {
        event_id: String,
        event_type: EventType,
        occurred_at: DateTime<FixedOffset>,
        unit: String,
    },
    Refused(Violation),
    NotJson,
}

fn by_schemas(text: &str, now: DateTime<Utc>) -> Verdict {
    let (contract, catalogue) = setup();
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return Verdict::NotJson;
    };
    match contract.validate(&value, now, catalogue) {
        Ok(valid) => Verdict::Accepted {
            event_id: valid.event_id.to_owned(),
            event_type: valid.event_type,
            occurred_at: valid.occurred_at,
            unit: valid.unit.code.clone(),
        },
        Err(violation) => Verdict::Refused(violation),
    }
}

fn by_fast_path(text: &str, now: DateTime<Utc>) -> Verdict {
    let (contract, catalogue) = setup();
    match contract.check(text, now, catalogue) {
        Ok(checked) => Verdict::Accepted {
            event_id: checked.event_id().to_owned(),
            event_type: checked.event_type,
            occurred_at: checked.occurred_at,
            unit: checked.unit.code.clone(),
        },
        Err(Refusal::Contract { violation, .. }) => Verdict::Refused(violation),
        Err(Refusal::NotJson(_)) => Verdict::NotJson,
    }
}

/// The event's text, compact and pretty-printed.
fn texts(event: &Value) -> Vec<String> {
    let pretty = serde_json::to_string_pretty(event).unwrap_or_default();
    vec![event.to_string(), pretty]
}

#[test]
fn every_example_gets_the_schemas_verdict_code_and_path() {
    let now = Utc::now();
    for kind in ["valid", "invalid"] {
        for (name, event) in examples(kind) {
            for text in texts(&event) {
                let schemas = by_schemas(&text, now);
                assert_eq!(by_fast_path(&text, now), schemas, "{name}");
                assert_eq!(
                    matches!(schemas, Verdict::Accepted { .. }),
                    kind == "valid",
                    "{name}: {schemas:?}"
                );
            }
        }
    }
}

#[test]
fn the_hand_written_checks_accept_every_valid_example_and_no_invalid_one() {
    for (kind, expected) in [("valid", true), ("invalid", false)] {
        for (name, event) in examples(kind) {
            let text = event.to_string();
            let conforms = RawEvent::read(&text).is_some_and(|raw| {
                raw.payload_fields()
                    .is_some_and(|fields| raw.conforms(&fields))
            });
            // Three invalid examples break rules the schemas cannot say
            // (time bounds, the catalogue): their schema part is fine.
            let in_code = [
                "occurred-at-before-2000",
                "occurred-at-far-future",
                "unknown-unit-code",
            ]
            .iter()
            .any(|n| name.contains(n));
            assert_eq!(conforms, expected || in_code, "{name}");
        }
    }
}

#[test]
fn the_payload_is_kept_as_sent() {
    let (contract, catalogue) = setup();
    let text = r#"{"event_id":"e-1","event_type":"dossier.resolved","occurred_at":"2021-05-01T08:00:00+07:00","unit_code":"08707","payload":{ "z": [1, 2],  "dossier_id": "HS-1" }}"#;
    let checked = contract.check(text, Utc::now(), catalogue);
    assert_eq!(
        checked.as_ref().map(CheckedEvent::payload_text).ok(),
        Some(r#"{ "z": [1, 2],  "dossier_id": "HS-1" }"#)
    );
}

/// Values that sit on or next to the schemas' edges.
fn edge_values() -> Vec<Value> {
    let mut values = vec![
        json!(null),
        json!(true),
        json!(false),
        json!(0),
        json!(1),
        json!(2),
        json!(3),
        json!(4),
        json!(5),
        json!(7),
        json!(-1),
        json!(1.0),
        json!(2.0),
        json!(1.5),
        json!(1e300),
        json!(u64::MAX),
        json!([]),
        json!(["x"]),
        json!({}),
        json!({"personal": 1}),
        json!({"personal": true, "organization": false, "x": null}),
        json!(""),
        json!("x"),
        json!("a:b.c_d-9"),
        json!("bad id"),
        json!("x".repeat(64)),
        json!("x".repeat(65)),
        json!("x".repeat(128)),
        json!("x".repeat(129)),
        json!("ệ".repeat(64)),
        json!("ệ".repeat(65)),
        json!("x".repeat(2000)),
        json!("x".repeat(2001)),
        json!("2021-05-01T08:00:00+07:00"),
        json!("2021-05-01t08:00:00.5z"),
        json!("2021-12-31T23:59:60Z"),
        json!("2021-12-31T16:59:60-07:00"),
        json!("2021-06-30T23:59:60+01:00"),
        json!("2021-02-29T08:00:00Z"),
        json!("2021-05-01T08:00:00"),
        json!("2021-05-01"),
        json!("1999-12-31T23:00:00+07:00"),
        json!("2999-01-01T00:00:00Z"),
        json!("08707"),
        json!("26"),
        json!("99999"),
    ];
    for name in EventType::ALL {
        values.push(json!(name.as_str()));
    }
    for word in [
        "national_axis",
        "provincial_axis",
        "email",
        "paper",
        "direct",
        "online",
        "postal",
        "citizen",
        "business",
        "organization",
    ] {
        values.push(json!(word));
    }
    values
}

const ENVELOPE_KEYS: [&str; 8] = [
    "event_id",
    "event_type",
    "occurred_at",
    "unit_code",
    "schema_version",
    "payload",
    "extra",
    "a/b~c",
];
const PAYLOAD_KEYS: [&str; 15] = [
    "document_id",
    "dossier_id",
    "sender",
    "channel",
    "due_at",
    "priority",
    "signed",
    "signature",
    "procedure_code",
    "field_code",
    "service_level",
    "applicant_type",
    "reason",
    "vendor_field",
    "a/b~c",
];

#[derive(Debug, Clone)]
enum Mutation {
    /// Remove a key of the envelope (`false`) or of the payload (`true`).
    Remove(bool, usize),
    /// Set a key of the envelope or the payload to an edge value.
    Set(bool, usize, usize),
    /// Replace the whole payload, or the whole event, with an edge value.
    Replace(bool, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let values = edge_values().len();
    prop_oneof![
        (any::<bool>(), 0..PAYLOAD_KEYS.len()).prop_map(|(p, k)| Mutation::Remove(p, k)),
        (any::<bool>(), 0..PAYLOAD_KEYS.len(), 0..values)
            .prop_map(|(p, k, v)| Mutation::Set(p, k, v)),
        (any::<bool>(), 0..values).prop_map(|(whole, v)| Mutation::Replace(whole, v)),
    ]
}

fn apply(event: &mut Value, mutation: &Mutation) {
    let values = edge_values();
    let key = |payload: bool, k: usize| {
        if payload {
            PAYLOAD_KEYS[k % PAYLOAD_KEYS.len()]
        } else {
            ENVELOPE_KEYS[k % ENVELOPE_KEYS.len()]
        }
    };
    match *mutation {
        Mutation::Remove(payload, k) => {
            let object = if payload {
                event.get_mut("payload")
            } else {
                Some(&mut *event)
            };
            if let Some(Value::Object(map)) = object {
                map.remove(key(payload, k));
            }
        }
        Mutation::Set(payload, k, v) => {
            let object = if payload {
                event.get_mut("payload")
            } else {
                Some(&mut *event)
            };
            if let Some(Value::Object(map)) = object {
                map.insert(key(payload, k).to_owned(), values[v].clone());
            }
        }
        Mutation::Replace(whole, v) => {
            if whole {
                *event = values[v].clone();
            } else if let Value::Object(map) = event {
                map.insert("payload".into(), values[v].clone());
            }
        }
    }
}

/// A repeated key whose last value is the real one: how `Value` reads it.
fn with_repeated_key(text: &str) -> String {
    match text.strip_prefix('{') {
        Some(rest) if rest.len() > 1 => format!(r#"{{"event_id": 12, "payload": [], {rest}"#),
        _ => text.to_owned(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn random_mutations_get_the_schemas_verdict_code_and_path(
        example in 0usize..64,
        mutations in proptest::collection::vec(mutation(), 1..4),
        form in 0u8..3,
    ) {
        static VALID: OnceLock<Vec<(String, Value)>> = OnceLock::new();
        let valid = VALID.get_or_init(|| examples("valid"));
        let mut event = valid[example % valid.len()].1.clone();
        for mutation in &mutations {
            apply(&mut event, mutation);
        }
        let text = match form {
            0 => event.to_string(),
            1 => serde_json::to_string_pretty(&event).unwrap_or_default(),
            _ => with_repeated_key(&event.to_string()),
        };
        let now = Utc::now();
        prop_assert_eq!(by_fast_path(&text, now), by_schemas(&text, now), "{}", text);
    }
}
