//! A raw event read once, into typed fields borrowed from its text, and the
//! hand-written form of the JSON Schemas of contract v1 (`schemas/v1`) over
//! those fields: the fast path of [`crate::contract::Contract::check`].
//!
//! The schemas stay the specification. [`RawEvent::conforms`] only says
//! "certainly valid": whatever it does not accept (a wrong type, a missing
//! field, but also a leap second or a number written `2.0`) goes to the schema
//! validator, which gives the verdict and words the refusal. So the fast path
//! can only be wrong by accepting what a schema refuses, and the tests
//! (`contract::fast_tests`) compare both on every example and on random
//! mutations of them.
//!
//! Objects are read as `serde_json::Value` reads them: a repeated key's last
//! value counts.

use crate::model::EventType;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// A JSON value as far as the contract looks at it: scalars kept, arrays and
/// objects only skipped (an object's `personal` / `organization` flags are
/// noted: `document.issued`'s `signature`).
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Field<'a> {
    #[default]
    Absent,
    Null,
    Bool(bool),
    /// A non-negative integer written without a fraction or exponent.
    Int(u64),
    /// Any other number.
    Number,
    Str(Cow<'a, str>),
    Array,
    /// An object; `true` when every `personal` and `organization` in it is a boolean.
    Object(bool),
}

impl<'a> Field<'a> {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Field::Str(s) => Some(s),
            _ => None,
        }
    }

    fn is_absent(&self) -> bool {
        matches!(self, Field::Absent)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Field<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FieldVisitor)
    }
}

struct FieldVisitor;

impl<'de> Visitor<'de> for FieldVisitor {
    type Value = Field<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Field::Null)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Field::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Field::Bool(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Field::Int(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(u64::try_from(v).map_or(Field::Number, Field::Int))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Field::Number)
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Owned(v)))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Field::Array)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut personal, mut organization) = (true, true);
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match key.as_ref() {
                "personal" => personal = matches!(map.next_value::<Field>()?, Field::Bool(_)),
                "organization" => {
                    organization = matches!(map.next_value::<Field>()?, Field::Bool(_))
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Field::Object(personal && organization))
    }
}

/// The payload fields any event type declares or transform reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PayloadFields<'a> {
    pub document_id: Field<'a>,
    pub dossier_id: Field<'a>,
    pub sender: Field<'a>,
    pub channel: Field<'a>,
    pub due_at: Field<'a>,
    pub priority: Field<'a>,
    pub signed: Field<'a>,
    pub signature: Field<'a>,
    pub procedure_code: Field<'a>,
    pub field_code: Field<'a>,
    pub service_level: Field<'a>,
    pub applicant_type: Field<'a>,
    pub reason: Field<'a>,
}

impl<'de: 'a, 'a> Deserialize<'de> for PayloadFields<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(PayloadVisitor)
    }
}

struct PayloadVisitor;

impl<'de> Visitor<'de> for PayloadVisitor {
    type Value = PayloadFields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a payload object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut p = PayloadFields::default();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            let slot = match key.as_ref() {
                "document_id" => &mut p.document_id,
                "dossier_id" => &mut p.dossier_id,
                "sender" => &mut p.sender,
                "channel" => &mut p.channel,
                "due_at" => &mut p.due_at,
                "priority" => &mut p.priority,
                "signed" => &mut p.signed,
                "signature" => &mut p.signature,
                "procedure_code" => &mut p.procedure_code,
                "field_code" => &mut p.field_code,
                "service_level" => &mut p.service_level,
                "applicant_type" => &mut p.applicant_type,
                "reason" => &mut p.reason,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            *slot = map.next_value()?;
        }
        Ok(p)
    }
}

/// An event as sent, read once: the envelope's fields borrowed from the
/// text, the payload's text as it was sent.
#[derive(Debug, Clone)]
pub struct RawEvent<'a> {
    pub event_id: Field<'a>,
    pub event_type: Field<'a>,
    pub occurred_at: Field<'a>,
    pub unit_code: Field<'a>,
    pub schema_version: Field<'a>,
    /// The payload's JSON text exactly as sent.
    pub payload: Option<&'a RawValue>,
    /// A key the envelope does not allow.
    pub unexpected_key: bool,
}

impl<'a> RawEvent<'a> {
    /// Reads `text` as one JSON object; `None` if it is not one (the schema
    /// validator then says why).
    pub fn read(text: &'a str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    /// The event type, if the envelope names a known one.
    pub fn event_type(&self) -> Option<EventType> {
        self.event_type.as_str()?.parse().ok()
    }

    /// The payload's fields (`None` if the payload is missing or not an object).
    pub fn payload_fields(&self) -> Option<PayloadFields<'a>> {
        let payload = self.payload?.get();
        if !payload.starts_with('{') {
            return None;
        }
        serde_json::from_str(payload).ok()
    }

    /// True only if the envelope schema and the payload schema of its type
    /// certainly accept this event (`fields` are [`Self::payload_fields`]).
    pub fn conforms(&self, fields: &PayloadFields<'_>) -> bool {
        let envelope = !self.unexpected_key
            && self.event_id.as_str().is_some_and(is_event_id)
            && self.event_type().is_some()
            && self.occurred_at.as_str().is_some_and(is_date_time)
            && self
                .unit_code
                .as_str()
                .is_some_and(|s| chars_within(s, 1, 64))
            && matches!(self.schema_version, Field::Absent | Field::Int(1));
        envelope
            && self
                .event_type()
                .is_some_and(|t| payload_conforms(t, fields))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for RawEvent<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EnvelopeVisitor)
    }
}

struct EnvelopeVisitor;

impl<'de> Visitor<'de> for EnvelopeVisitor {
    type Value = RawEvent<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an event object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut event = RawEvent {
            event_id: Field::Absent,
            event_type: Field::Absent,
            occurred_at: Field::Absent,
            unit_code: Field::Absent,
            schema_version: Field::Absent,
            payload: None,
            unexpected_key: false,
        };
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            let slot = match key.as_ref() {
                "event_id" => &mut event.event_id,
                "event_type" => &mut event.event_type,
                "occurred_at" => &mut event.occurred_at,
                "unit_code" => &mut event.unit_code,
                "schema_version" => &mut event.schema_version,
                "payload" => {
                    event.payload = Some(map.next_value::<&'de RawValue>()?);
                    continue;
                }
                _ => {
                    event.unexpected_key = true;
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            *slot = map.next_value()?;
        }
        Ok(event)
    }
}

const DOCUMENT_CHANNELS: [&str; 4] = ["national_axis", "provincial_axis", "email", "paper"];
const DOSSIER_CHANNELS: [&str; 3] = ["direct", "online", "postal"];
const APPLICANT_TYPES: [&str; 3] = ["citizen", "business", "organization"];

/// `payload/<type>.schema.json`, by hand.
fn payload_conforms(event_type: EventType, p: &PayloadFields<'_>) -> bool {
    let id = |f: &Field<'_>| f.as_str().is_some_and(|s| chars_within(s, 1, 128));
    let optional = |f: &Field<'_>, check: &dyn Fn(&Field<'_>) -> bool| f.is_absent() || check(f);
    let one_of = |set: &'static [&'static str]| {
        move |f: &Field<'_>| f.as_str().is_some_and(|s| set.contains(&s))
    };
    let string = |f: &Field<'_>| f.as_str().is_some();
    let date_time = |f: &Field<'_>| f.as_str().is_some_and(is_date_time);
    match event_type {
        EventType::DocumentReceived => {
            id(&p.document_id)
                && optional(&p.sender, &string)
                && optional(&p.channel, &one_of(&DOCUMENT_CHANNELS))
                && optional(&p.due_at, &date_time)
                && optional(&p.priority, &|f| matches!(f, Field::Int(0..=3)))
        }
        EventType::DocumentIssued => {
            id(&p.document_id)
                && matches!(p.signed, Field::Bool(_))
                && optional(&p.signature, &|f| matches!(f, Field::Object(true)))
                && optional(&p.channel, &one_of(&DOCUMENT_CHANNELS))
        }
        EventType::DocumentCompleted => id(&p.document_id),
        EventType::DossierReceived => {
            let code = |f: &Field<'_>| f.as_str().is_some_and(|s| chars_within(s, 1, 64));
            id(&p.dossier_id)
                && code(&p.procedure_code)
                && optional(&p.field_code, &code)
                && one_of(&DOSSIER_CHANNELS)(&p.channel)
                && optional(&p.service_level, &|f| matches!(f, Field::Int(2..=4)))
                && optional(&p.applicant_type, &one_of(&APPLICANT_TYPES))
                && date_time(&p.due_at)
        }
        EventType::DossierSupplementReceived => id(&p.dossier_id) && date_time(&p.due_at),
        EventType::DossierRefused | EventType::DossierWithdrawn => {
            id(&p.dossier_id)
                && optional(&p.reason, &|f| {
                    f.as_str().is_some_and(|s| chars_within(s, 0, 2000))
                })
        }
        EventType::DossierSupplementRequested
        | EventType::DossierResolved
        | EventType::DossierReturned => id(&p.dossier_id),
    }
}

/// `minLength` / `maxLength`: counted in characters.
fn chars_within(s: &str, min: usize, max: usize) -> bool {
    // Cheap bounds first: a character is 1 to 4 bytes.
    if s.len() < min || s.len() / 4 > max {
        return false;
    }
    (min..=max).contains(&s.chars().count())
}

/// `^[A-Za-z0-9._:-]{1,128}$`
fn is_event_id(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// The `date-time` pattern and format of the schemas, without leap seconds
/// (those go to the schema validator):
/// `YYYY-MM-DD[Tt]hh:mm:ss(.d+)?([Zz]|[+-]hh:mm)` with a real calendar day.
fn is_date_time(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(range)?;
        part.iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let at = |i: usize, set: &[u8]| b.get(i).is_some_and(|c| set.contains(c));
    let (Some(year), Some(month), Some(day)) = (digits(0..4), digits(5..7), digits(8..10)) else {
        return false;
    };
    let (Some(hour), Some(minute), Some(second)) = (digits(11..13), digits(14..16), digits(17..19))
    else {
        return false;
    };
    if !(at(4, b"-") && at(7, b"-") && at(10, b"Tt") && at(13, b":") && at(16, b":")) {
        return false;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    if day == 0 || day > days || hour > 23 || minute > 59 || second > 59 {
        return false;
    }
    let mut i = 19;
    if at(i, b".") {
        i += 1;
        let start = i;
        while at(i, b"0123456789") {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match b.get(i) {
        Some(b'Z' | b'z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            i + 6 == b.len()
                && at(i + 3, b":")
                && digits(i + 1..i + 3).is_some_and(|h| h <= 23)
                && digits(i + 4..i + 6).is_some_and(|m| m <= 59)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_times() {
        for ok in [
            "2021-03-15T08:30:00+07:00",
            "2020-02-29t00:00:00z",
            "2021-12-31T23:59:59.123456Z",
            "2021-01-01T00:00:00-23:59",
        ] {
            assert!(is_date_time(ok), "{ok}");
        }
        for bad in [
            "2021-02-29T00:00:00Z",
            "2021-13-01T00:00:00Z",
            "2021-01-01T24:00:00Z",
            "2021-01-01T00:00:00",
            "2021-01-01T00:00:00.Z",
            "2021-01-01T00:00:00+7:00",
            "2021-01-01T00:00:00+24:00",
            "2021-01-01",
            "2021-01-01T23:59:60Z",
            "2021-01-01T00:00:00Z ",
            "２021-01-01T00:00:00Z",
        ] {
            assert!(!is_date_time(bad), "{bad}");
        }
    }

    #[test]
    fn a_repeated_key_counts_with_its_last_value() {
        let event = RawEvent::read(r#"{"event_id":"a","event_id":"b","payload":{"x":1}}"#);
        assert_eq!(event.as_ref().and_then(|e| e.event_id.as_str()), Some("b"));
        assert_eq!(
            event.and_then(|e| e.payload.map(|p| p.get().to_owned())),
            Some(r#"{"x":1}"#.to_owned())
        );
    }
}
