//! The pure part of transform: one raw message in, one curated event or the
//! reason it is poison out. No I/O, so every schema example can test it.

use chrono::{DateTime, Utc};
use egov_model::catalogue::Catalogue;
use egov_model::contract::{Contract, Refusal, Violation};
use egov_model::model::{CuratedEvent, Level, System};
use egov_model::raw_event::Field;
use egov_model::time::{date_to_days, local_date};
use egov_runtime::dead_letter::Reason;

/// Why a raw message cannot become a curated event. Its `reason` is the
/// low-cardinality label used in headers and metrics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Poison {
    #[error("the message has no value")]
    Empty,
    #[error("the message is not JSON: {0}")]
    NotJson(String),
    #[error("{code} at `{path}`: {message}", code = .0.code.as_str(), path = .0.path, message = .0.message)]
    Contract(Violation),
    #[error("the event's time or due date is outside the range ClickHouse dates can hold")]
    OutOfRange,
}

impl Poison {
    pub fn reason(&self) -> Reason {
        match self {
            Poison::Empty => Reason::Empty,
            Poison::NotJson(_) => Reason::NotJson,
            Poison::Contract(v) => v.code.into(),
            Poison::OutOfRange => Reason::OutOfRange,
        }
    }
}

/// What transform knows of a raw message besides its bytes.
#[derive(Debug, Clone, Copy)]
pub struct RawMeta {
    /// When ingest accepted it: the reference for the clock-skew rule.
    pub received_at: DateTime<Utc>,
    /// Its seal verified: ingest checked it against the schemas already
    /// ([`Contract::check_with_seal`]).
    pub sealed: bool,
}

/// Turns a raw event into its curated form: unit level and district from the
/// catalogue, local dates in Asia/Ho_Chi_Minh, the fields analytics read. The
/// event is read once, into fields borrowed from `raw`.
pub fn curate(
    raw: Option<&[u8]>,
    meta: RawMeta,
    contract: &Contract,
    catalogue: &Catalogue,
) -> Result<CuratedEvent, Poison> {
    let raw = raw.filter(|r| !r.is_empty()).ok_or(Poison::Empty)?;
    let text = std::str::from_utf8(raw)
        .map_err(|e| Poison::NotJson(format!("the message is not UTF-8: {e}")))?;
    let checked = contract
        .check_with_seal(text, meta.received_at, catalogue, meta.sealed)
        .map_err(|refusal| match refusal {
            Refusal::NotJson(e) => Poison::NotJson(e.to_string()),
            Refusal::Contract { violation, .. } => Poison::Contract(violation),
        })?;
    let fields = &checked.fields;
    let text = |field: &Field<'_>| field.as_str().unwrap_or_default().to_owned();
    let occurred_utc = checked.occurred_at.with_timezone(&Utc);
    let due_utc = fields
        .due_at
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&Utc));
    let due_date = match due_utc {
        Some(due) => Some(date_to_days(local_date(due)).ok_or(Poison::OutOfRange)?),
        None => None,
    };
    let unit = checked.unit;
    let district_code = match unit.level {
        Level::Province => String::new(),
        Level::District => unit
            .district_code
            .clone()
            .unwrap_or_else(|| unit.code.clone()),
        Level::Commune => unit
            .district_code
            .clone()
            .or_else(|| unit.parent_code.clone())
            .unwrap_or_default(),
    };
    let system = checked.event_type.system();
    let entity = match system {
        System::Documents => &fields.document_id,
        System::Onestop => &fields.dossier_id,
    };
    Ok(CuratedEvent {
        system,
        event_id: checked.event_id().to_owned(),
        event_type: checked.event_type,
        occurred_ms: occurred_utc.timestamp_millis(),
        local_date: date_to_days(local_date(occurred_utc)).ok_or(Poison::OutOfRange)?,
        unit_code: unit.code.clone(),
        level: unit.level,
        district_code,
        entity_id: text(entity),
        channel: text(&fields.channel),
        procedure_code: text(&fields.procedure_code),
        signed: fields.signed == Field::Bool(true),
        due_ms: due_utc.map(|d| d.timestamp_millis()),
        due_date,
        payload: checked.payload_text().to_owned(),
        ingested_ms: meta.received_at.timestamp_millis(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use egov_model::model::EventType;
    use serde_json::{json, Value};

    fn setup() -> (Contract, Catalogue, RawMeta) {
        let contract = Contract::v1().unwrap_or_else(|e| panic!("contract: {e}"));
        let catalogue = Catalogue::embedded().unwrap_or_else(|e| panic!("catalogue: {e}"));
        (
            contract,
            catalogue,
            RawMeta {
                received_at: Utc::now(),
                sealed: false,
            },
        )
    }

    fn examples(kind: &str) -> Vec<(String, Value)> {
        egov_model::examples::examples(kind).unwrap_or_else(|e| panic!("examples: {e}"))
    }

    #[test]
    fn every_valid_example_curates_to_its_unit_and_local_date() {
        let (contract, catalogue, meta) = setup();
        for (name, example) in examples("valid") {
            let event = &example["event"];
            let raw = event.to_string();
            let curated = curate(Some(raw.as_bytes()), meta, &contract, &catalogue)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                curated.event_id,
                event["event_id"].as_str().unwrap_or_default(),
                "{name}"
            );
            assert_eq!(
                curated.event_type.as_str(),
                event["event_type"].as_str().unwrap_or_default(),
                "{name}"
            );
            let unit = catalogue
                .get(&curated.unit_code)
                .unwrap_or_else(|| panic!("{name}: unit"));
            assert_eq!(curated.level, unit.level, "{name}");
            let entity = &event["payload"][curated.event_type.entity_field()];
            assert_eq!(
                curated.entity_id,
                entity.as_str().unwrap_or_default(),
                "{name}"
            );
            let occurred =
                DateTime::parse_from_rfc3339(event["occurred_at"].as_str().unwrap_or_default())
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                Some(curated.local_date),
                date_to_days(local_date(occurred.with_timezone(&Utc))),
                "{name}"
            );
            assert_eq!(
                serde_json::from_str::<Value>(&curated.payload)
                    .ok()
                    .as_ref(),
                Some(&event["payload"]),
                "{name}: payload kept as sent"
            );
        }
    }

    #[test]
    fn every_invalid_example_is_poison_with_its_code_and_path() {
        let (contract, catalogue, meta) = setup();
        for (name, example) in examples("invalid") {
            let raw = example["event"].to_string();
            match curate(Some(raw.as_bytes()), meta, &contract, &catalogue) {
                Err(Poison::Contract(violation)) => {
                    let expect = &example["expect"];
                    let (Some(code), Some(path)) =
                        (expect["code"].as_str(), expect["path"].as_str())
                    else {
                        panic!("{name}: expect.code and expect.path are required");
                    };
                    assert_eq!(violation.code.as_str(), code, "{name}");
                    assert_eq!(violation.path, path, "{name}");
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_commune_dossier_is_curated_exactly() {
        let (contract, catalogue, _) = setup();
        let received_at = DateTime::parse_from_rfc3339("2021-11-14T17:00:00Z")
            .unwrap_or_default()
            .with_timezone(&Utc);
        let raw = json!({
            "event_id": "os:08707:1", "event_type": "dossier.received",
            "occurred_at": "2021-11-14T23:30:00+07:00", "unit_code": "08707",
            "payload": {"dossier_id": "HS-1", "procedure_code": "1.001", "channel": "online",
                        "due_at": "2021-11-20T17:00:00Z", "extra": [1, 2]}
        })
        .to_string();
        let curated = curate(
            Some(raw.as_bytes()),
            RawMeta {
                received_at,
                sealed: false,
            },
            &contract,
            &catalogue,
        );
        let expected = CuratedEvent {
            system: System::Onestop,
            event_id: "os:08707:1".into(),
            event_type: EventType::DossierReceived,
            occurred_ms: 1_636_907_400_000,
            // 2021-11-14 local; the due date 2021-11-20T17:00Z is 2021-11-21 local.
            local_date: 18_945,
            unit_code: "08707".into(),
            level: Level::Commune,
            district_code: "243".into(),
            entity_id: "HS-1".into(),
            channel: "online".into(),
            procedure_code: "1.001".into(),
            signed: false,
            due_ms: Some(1_637_427_600_000),
            due_date: Some(18_952),
            payload: r#"{"channel":"online","dossier_id":"HS-1","due_at":"2021-11-20T17:00:00Z","extra":[1,2],"procedure_code":"1.001"}"#.into(),
            ingested_ms: 1_636_909_200_000,
        };
        assert_eq!(curated, Ok(expected));
    }

    #[test]
    fn a_sealed_event_is_not_checked_against_the_schemas_again() {
        let (contract, catalogue, meta) = setup();
        // Refused by dossier.received's schema (no procedure_code, channel, due_at),
        // but readable: only a seal makes transform take it as ingest checked it.
        let raw = json!({
            "event_id": "os:08707:2", "event_type": "dossier.received",
            "occurred_at": "2021-11-14T23:30:00+07:00", "unit_code": "08707",
            "payload": {"dossier_id": "HS-2"}
        })
        .to_string();
        let unsealed = curate(Some(raw.as_bytes()), meta, &contract, &catalogue);
        assert!(
            matches!(&unsealed, Err(Poison::Contract(v)) if v.path == "/payload/procedure_code"),
            "{unsealed:?}"
        );
        let sealed = RawMeta {
            sealed: true,
            ..meta
        };
        let curated = curate(Some(raw.as_bytes()), sealed, &contract, &catalogue);
        assert_eq!(curated.map(|c| c.entity_id), Ok("HS-2".to_owned()));
        // What the catalogue and the clock decide is still decided.
        let unknown = raw.replace("08707", "99999");
        assert_eq!(
            curate(Some(unknown.as_bytes()), sealed, &contract, &catalogue).map_err(|p| p.reason()),
            Err(Reason::UnknownUnit)
        );
        assert_eq!(
            curate(Some(b"{oops"), sealed, &contract, &catalogue).map_err(|p| p.reason()),
            Err(Reason::NotJson)
        );
    }

    #[test]
    fn poison_reasons() {
        let (contract, catalogue, meta) = setup();
        assert_eq!(
            curate(None, meta, &contract, &catalogue).map_err(|p| p.reason()),
            Err(Reason::Empty)
        );
        assert_eq!(
            curate(Some(b"{oops"), meta, &contract, &catalogue).map_err(|p| p.reason()),
            Err(Reason::NotJson)
        );
        assert_eq!(
            curate(Some(b"{}"), meta, &contract, &catalogue).map_err(|p| p.reason()),
            Err(Reason::Invalid)
        );
    }
}
