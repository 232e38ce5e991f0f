//! The pure part of transform: one raw message in, one curated event or the
//! reason it is poison out. No I/O, so every schema example can test it.

use chrono::{DateTime, Utc};
use egov_common::catalogue::Catalogue;
use egov_common::contract::{Contract, Violation};
use egov_common::model::{CuratedEvent, Level};
use egov_common::time::{date_to_days, local_date};
use serde_json::Value;

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
    pub fn reason(&self) -> &'static str {
        match self {
            Poison::Empty => "empty",
            Poison::NotJson(_) => "not_json",
            Poison::Contract(v) => v.code.as_str(),
            Poison::OutOfRange => "out_of_range",
        }
    }
}

/// What transform knows of a raw message besides its bytes.
#[derive(Debug, Clone, Copy)]
pub struct RawMeta {
    /// When ingest accepted it: the reference for the clock-skew rule.
    pub received_at: DateTime<Utc>,
}

/// Turns a raw event into its curated form: unit level and district from the
/// catalogue, local dates in Asia/Ho_Chi_Minh, the fields analytics read.
pub fn curate(raw: Option<&[u8]>, meta: RawMeta, contract: &Contract, catalogue: &Catalogue) -> Result<CuratedEvent, Poison> {
    let raw = raw.filter(|r| !r.is_empty()).ok_or(Poison::Empty)?;
    let event: Value = serde_json::from_slice(raw).map_err(|e| Poison::NotJson(e.to_string()))?;
    let valid = contract
        .validate(&event, meta.received_at, catalogue)
        .map_err(Poison::Contract)?;
    let payload = event.get("payload").cloned().unwrap_or(Value::Null);
    let text = |name: &str| payload.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
    let occurred_utc = valid.occurred_at.with_timezone(&Utc);
    let due_utc = payload
        .get("due_at")
        .and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&Utc));
    let due_date = match due_utc {
        Some(due) => Some(date_to_days(local_date(due)).ok_or(Poison::OutOfRange)?),
        None => None,
    };
    let unit = valid.unit;
    let district_code = match unit.level {
        Level::Province => String::new(),
        Level::District => unit.district_code.clone().unwrap_or_else(|| unit.code.clone()),
        Level::Commune => unit.district_code.clone().or_else(|| unit.parent_code.clone()).unwrap_or_default(),
    };
    Ok(CuratedEvent {
        system: valid.event_type.system(),
        event_id: valid.event_id.to_owned(),
        event_type: valid.event_type,
        occurred_ms: occurred_utc.timestamp_millis(),
        local_date: date_to_days(local_date(occurred_utc)).ok_or(Poison::OutOfRange)?,
        unit_code: unit.code.clone(),
        level: unit.level,
        district_code,
        entity_id: text(valid.event_type.entity_field()),
        channel: text("channel"),
        procedure_code: text("procedure_code"),
        signed: payload.get("signed").and_then(Value::as_bool).unwrap_or(false),
        due_ms: due_utc.map(|d| d.timestamp_millis()),
        due_date,
        payload: payload.to_string(),
        ingested_ms: meta.received_at.timestamp_millis(),
    })
}
