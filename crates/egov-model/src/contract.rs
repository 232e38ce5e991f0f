//! Contract v1: validation of one event against the JSON Schemas in `schemas/v1`
//! plus the rules a schema cannot say (time bounds, the unit catalogue).
//! Ingest uses it at the door; transform uses it again on whatever it reads,
//! since anything can be written straight to a topic.

use crate::catalogue::{Catalogue, Unit};
use crate::model::EventType;
use crate::raw_event::{PayloadFields, RawEvent};
use chrono::{DateTime, FixedOffset, TimeDelta, Utc};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

const ENVELOPE_SCHEMA: &str = include_str!("../../../schemas/v1/envelope.schema.json");

/// The payload schema of every event type, by type.
const PAYLOAD_SCHEMAS: [(EventType, &str); 10] = [
    (
        EventType::DocumentReceived,
        include_str!("../../../schemas/v1/payload/document.received.schema.json"),
    ),
    (
        EventType::DocumentIssued,
        include_str!("../../../schemas/v1/payload/document.issued.schema.json"),
    ),
    (
        EventType::DocumentCompleted,
        include_str!("../../../schemas/v1/payload/document.completed.schema.json"),
    ),
    (
        EventType::DossierReceived,
        include_str!("../../../schemas/v1/payload/dossier.received.schema.json"),
    ),
    (
        EventType::DossierSupplementRequested,
        include_str!("../../../schemas/v1/payload/dossier.supplement_requested.schema.json"),
    ),
    (
        EventType::DossierSupplementReceived,
        include_str!("../../../schemas/v1/payload/dossier.supplement_received.schema.json"),
    ),
    (
        EventType::DossierResolved,
        include_str!("../../../schemas/v1/payload/dossier.resolved.schema.json"),
    ),
    (
        EventType::DossierReturned,
        include_str!("../../../schemas/v1/payload/dossier.returned.schema.json"),
    ),
    (
        EventType::DossierRefused,
        include_str!("../../../schemas/v1/payload/dossier.refused.schema.json"),
    ),
    (
        EventType::DossierWithdrawn,
        include_str!("../../../schemas/v1/payload/dossier.withdrawn.schema.json"),
    ),
];

/// How far ahead of the ingest clock `occurred_at` may be.
pub const MAX_CLOCK_SKEW: TimeDelta = TimeDelta::minutes(5);
/// A message longer than this is cut: it names a problem, it does not echo the input.
const MAX_MESSAGE_CHARS: usize = 300;

#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    #[error("schema {name} is not valid JSON: {source}")]
    Json {
        name: String,
        source: serde_json::Error,
    },
    #[error("schema {name} cannot be compiled: {message}")]
    Compile { name: String, message: String },
}

/// The per-event error codes of contract section 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    Invalid,
    Forbidden,
    UnknownUnit,
    DuplicateInRequest,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Invalid => "invalid",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::UnknownUnit => "unknown_unit",
            ErrorCode::DuplicateInRequest => "duplicate_in_request",
        }
    }
}

/// Why one event was refused: a code, a JSON pointer into the event, and a
/// sentence its sender can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub code: ErrorCode,
    pub path: String,
    pub message: String,
}

impl Violation {
    pub fn new(code: ErrorCode, path: impl Into<String>, message: impl Into<String>) -> Self {
        let mut message: String = message.into();
        if message.chars().count() > MAX_MESSAGE_CHARS {
            message = message.chars().take(MAX_MESSAGE_CHARS).collect::<String>() + "…";
        }
        Self {
            code,
            path: path.into(),
            message,
        }
    }

    fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Invalid, path, message)
    }
}

/// The facts of a valid event that routing and authorisation need.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidEvent<'a> {
    pub event_id: &'a str,
    pub event_type: EventType,
    pub occurred_at: DateTime<FixedOffset>,
    pub unit: &'a Unit,
}

pub struct Contract {
    envelope: jsonschema::Validator,
    payloads: HashMap<EventType, jsonschema::Validator>,
}

impl std::fmt::Debug for Contract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contract").finish_non_exhaustive()
    }
}

fn compile(name: &str, text: &str) -> Result<jsonschema::Validator, ContractError> {
    let schema: Value = serde_json::from_str(text).map_err(|source| ContractError::Json {
        name: name.to_owned(),
        source,
    })?;
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)
        .map_err(|e| ContractError::Compile {
            name: name.to_owned(),
            message: e.to_string(),
        })
}

impl Contract {
    /// The v1 schemas built into the binary.
    pub fn v1() -> Result<Self, ContractError> {
        let envelope = compile("envelope", ENVELOPE_SCHEMA)?;
        let payloads = PAYLOAD_SCHEMAS
            .iter()
            .map(|(event_type, text)| Ok((*event_type, compile(event_type.as_str(), text)?)))
            .collect::<Result<_, ContractError>>()?;
        Ok(Self { envelope, payloads })
    }

    /// Checks one event as contract v1 says, at ingest time `now`. The first
    /// problem found is returned, schema problems before catalogue ones.
    pub fn validate<'a>(
        &self,
        event: &'a Value,
        now: DateTime<Utc>,
        catalogue: &'a Catalogue,
    ) -> Result<ValidEvent<'a>, Violation> {
        first_schema_error(&self.envelope, event, "")?;
        // The envelope schema guarantees these shapes; reading them again keeps
        // this function free of panics if the schema is ever loosened.
        let field = |name: &str| event.get(name).and_then(Value::as_str).unwrap_or_default();
        let event_type: EventType = field("event_type")
            .parse()
            .map_err(|_| Violation::invalid("/event_type", "unknown event_type"))?;
        let payload = event.get("payload").unwrap_or(&Value::Null);
        if let Some(validator) = self.payloads.get(&event_type) {
            first_schema_error(validator, payload, "/payload")?;
        }
        let (occurred_at, unit) =
            after_schemas(field("occurred_at"), field("unit_code"), now, catalogue)?;
        Ok(ValidEvent {
            event_id: field("event_id"),
            event_type,
            occurred_at,
            unit,
        })
    }

    /// [`Contract::validate`] on an event's JSON text, reading it once into
    /// borrowed, typed fields and checking them by hand ([`RawEvent::conforms`]).
    /// Whatever the hand-written checks do not accept is parsed again and
    /// given to the schemas, which decide and word the refusal: the verdict,
    /// code, path and message are always the schemas'.
    pub fn check<'a>(
        &self,
        text: &'a str,
        now: DateTime<Utc>,
        catalogue: &'a Catalogue,
    ) -> Result<CheckedEvent<'a>, Refusal> {
        self.check_with_seal(text, now, catalogue, false)
    }

    /// [`Contract::check`], or, when `sealed`, of an event this pipeline's
    /// ingest has already checked (its signature verified:
    /// `egov_runtime::seal`): then the schema checks are skipped, the rules
    /// that need the catalogue and the clock are not.
    pub fn check_with_seal<'a>(
        &self,
        text: &'a str,
        now: DateTime<Utc>,
        catalogue: &'a Catalogue,
        sealed: bool,
    ) -> Result<CheckedEvent<'a>, Refusal> {
        let read = RawEvent::read(text)
            .and_then(|raw| Some((raw.event_type()?, raw.payload_fields()?, raw)));
        let trusted = read
            .as_ref()
            .is_some_and(|(_, fields, raw)| sealed || raw.conforms(fields));
        if !trusted {
            self.schemas_decide(text, now, catalogue)?;
        }
        let Some((event_type, fields, raw)) = read else {
            // The schemas accept only objects with a known event type and an
            // object payload, and those are always read.
            return Err(Refusal::Contract {
                violation: Violation::invalid("", "the event cannot be read"),
                event_id: None,
            });
        };
        let occurred_at = raw.occurred_at.as_str().unwrap_or_default();
        let unit_code = raw.unit_code.as_str().unwrap_or_default();
        match after_schemas(occurred_at, unit_code, now, catalogue) {
            Ok((occurred_at, unit)) => Ok(CheckedEvent {
                event_type,
                occurred_at,
                unit,
                raw,
                fields,
            }),
            Err(violation) => Err(Refusal::Contract {
                event_id: raw.event_id.as_str().map(str::to_owned),
                violation,
            }),
        }
    }

    /// The schemas' verdict on an event the hand-written checks did not
    /// accept (most often an invalid one; sometimes a valid one in a form the
    /// fast path leaves to them, e.g. a leap second or `2.0`).
    fn schemas_decide(
        &self,
        text: &str,
        now: DateTime<Utc>,
        catalogue: &Catalogue,
    ) -> Result<(), Refusal> {
        let value: Value = serde_json::from_str(text).map_err(Refusal::NotJson)?;
        match self.validate(&value, now, catalogue) {
            Ok(_) => Ok(()),
            Err(violation) => Err(Refusal::Contract {
                violation,
                event_id: value
                    .get("event_id")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            }),
        }
    }
}

/// Why [`Contract::check`] refused an event.
#[derive(Debug)]
pub enum Refusal {
    /// The text is not JSON.
    NotJson(serde_json::Error),
    /// JSON the contract refuses; `event_id` as sent, when it is a string.
    Contract {
        violation: Violation,
        event_id: Option<String>,
    },
}

/// An event [`Contract::check`] accepted, read once from its text.
#[derive(Debug, Clone)]
pub struct CheckedEvent<'a> {
    pub event_type: EventType,
    pub occurred_at: DateTime<FixedOffset>,
    pub unit: &'a Unit,
    pub raw: RawEvent<'a>,
    pub fields: PayloadFields<'a>,
}

impl CheckedEvent<'_> {
    pub fn event_id(&self) -> &str {
        self.raw.event_id.as_str().unwrap_or_default()
    }

    /// The payload's JSON text as it was sent.
    pub fn payload_text(&self) -> &str {
        self.raw.payload.map_or("{}", |p| p.get())
    }
}

/// The rules after the schemas: `occurred_at` readable and in bounds, the
/// unit in the catalogue.
fn after_schemas<'c>(
    occurred_at: &str,
    unit_code: &str,
    now: DateTime<Utc>,
    catalogue: &'c Catalogue,
) -> Result<(DateTime<FixedOffset>, &'c Unit), Violation> {
    let occurred_at = DateTime::parse_from_rfc3339(occurred_at).map_err(|e| {
        Violation::invalid(
            "/occurred_at",
            format!("occurred_at must be an RFC 3339 date-time with an offset: {e}"),
        )
    })?;
    check_occurred_at(occurred_at, now)?;
    let unit = catalogue.get(unit_code).ok_or_else(|| {
        Violation::new(
            ErrorCode::UnknownUnit,
            "/unit_code",
            format!("unit_code `{unit_code}` is not in the unit catalogue"),
        )
    })?;
    Ok((occurred_at, unit))
}

fn first_schema_error(
    validator: &jsonschema::Validator,
    instance: &Value,
    prefix: &str,
) -> Result<(), Violation> {
    match validator.iter_errors(instance).next() {
        None => Ok(()),
        Some(error) => {
            let mut path = format!("{prefix}{}", error.instance_path().as_str());
            // Validators report a missing or an unexpected property at the object
            // that lacks or holds it; the sender is told the property's own path.
            if let Some(name) = property_of(error.kind()) {
                path.push('/');
                path.push_str(&name.replace('~', "~0").replace('/', "~1"));
            }
            let message = error.to_string();
            Err(Violation::invalid(path, message))
        }
    }
}

/// The property a `required` or `additionalProperties` error is about: the
/// first one named, as the path names one field.
fn property_of(kind: &jsonschema::error::ValidationErrorKind) -> Option<&str> {
    use jsonschema::error::ValidationErrorKind;
    match kind {
        ValidationErrorKind::Required { property } => property.as_str(),
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            unexpected.first().map(String::as_str)
        }
        _ => None,
    }
}

fn check_occurred_at(
    occurred_at: DateTime<FixedOffset>,
    now: DateTime<Utc>,
) -> Result<(), Violation> {
    // Dates are local (Asia/Ho_Chi_Minh): 2000 begins at 00:00 UTC+7.
    let earliest = DateTime::parse_from_rfc3339("2000-01-01T00:00:00+07:00")
        .map_err(|e| Violation::invalid("/occurred_at", format!("internal date constant: {e}")))?;
    if occurred_at < earliest {
        return Err(Violation::invalid(
            "/occurred_at",
            format!("occurred_at {occurred_at} is before 2000-01-01"),
        ));
    }
    if occurred_at.with_timezone(&Utc) > now + MAX_CLOCK_SKEW {
        return Err(Violation::invalid(
            "/occurred_at",
            format!(
                "occurred_at {occurred_at} is more than 5 minutes after the time it was received ({})",
                now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod fast_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::examples::examples;

    #[test]
    fn every_valid_example_is_accepted() -> anyhow::Result<()> {
        let (contract, catalogue) = (Contract::v1()?, Catalogue::embedded()?);
        let examples = examples("valid")?;
        for (name, example) in &examples {
            let verdict = contract.validate(&example["event"], Utc::now(), &catalogue);
            assert!(verdict.is_ok(), "{name}: {verdict:?}");
        }
        assert!(examples.len() >= 10);
        Ok(())
    }

    #[test]
    fn every_invalid_example_is_refused_with_its_code_and_path() -> anyhow::Result<()> {
        let (contract, catalogue) = (Contract::v1()?, Catalogue::embedded()?);
        for (name, example) in examples("invalid")? {
            let expect = &example["expect"];
            let violation = match contract.validate(&example["event"], Utc::now(), &catalogue) {
                Ok(_) => anyhow::bail!("{name} was accepted"),
                Err(violation) => violation,
            };
            let Some(code) = expect["code"].as_str() else {
                anyhow::bail!("{name}: expect.code is missing");
            };
            assert_eq!(violation.code.as_str(), code, "{name}: {violation:?}");
            let Some(path) = expect["path"].as_str() else {
                anyhow::bail!("{name}: expect.path is missing (\"\" is the event itself)");
            };
            assert_eq!(violation.path, path, "{name}: {violation:?}");
            assert!(!violation.message.is_empty());
        }
        Ok(())
    }

    #[test]
    fn a_missing_or_unexpected_property_is_reported_at_its_own_escaped_path() -> anyhow::Result<()>
    {
        let schema = serde_json::json!({
            "type": "object",
            "required": ["a/b~c"],
            "properties": {"a/b~c": {"type": "string"}, "inner": {"type": "object", "required": ["x"]}},
            "additionalProperties": false
        });
        let validator = compile("test", &schema.to_string())?;
        let at = |instance: Value| first_schema_error(&validator, &instance, "/payload");
        let missing = at(serde_json::json!({}));
        assert_eq!(
            missing.map_err(|v| v.path),
            Err("/payload/a~1b~0c".to_owned())
        );
        let unexpected = at(serde_json::json!({"a/b~c": "", "x/y": 1}));
        assert_eq!(
            unexpected.map_err(|v| v.path),
            Err("/payload/x~1y".to_owned())
        );
        let nested = at(serde_json::json!({"a/b~c": "", "inner": {}}));
        assert_eq!(
            nested.map_err(|v| v.path),
            Err("/payload/inner/x".to_owned())
        );
        Ok(())
    }

    #[test]
    fn occurred_at_bounds() -> anyhow::Result<()> {
        let now = DateTime::parse_from_rfc3339("2021-06-01T00:00:00Z")?.with_timezone(&Utc);
        let at = |s: &str| DateTime::parse_from_rfc3339(s);
        assert!(check_occurred_at(at("2021-06-01T00:04:59Z")?, now).is_ok());
        assert!(check_occurred_at(at("2021-06-01T00:05:01Z")?, now).is_err());
        assert!(check_occurred_at(at("2000-01-01T00:00:00+07:00")?, now).is_ok());
        assert!(check_occurred_at(at("1999-12-31T16:59:59Z")?, now).is_err());
        Ok(())
    }
}
