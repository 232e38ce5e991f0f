//! An independent in-memory implementation of the figures of contract
//! section 5, computed from events as they are sent (JSON), for checking the
//! ClickHouse report against.
//!
//! Order and duplicate independence hold by construction: every event is
//! reduced to facts kept in sorted sets per document or dossier, so the state
//! after any sequence of events is a function of the *set* of events, and the
//! figures only use minima, maxima and "there is one" over those sets.
//!
//! Semantics (contract section 5 made precise, the same as `egov report`):
//! - local dates in UTC+7; only events whose local date is <= `to` count;
//! - a document is (unit_code, document_id); incoming / outgoing: it has a
//!   `document.received` / `document.issued` whose local date is in
//!   [from, to]; outgoing_signed: it has a `document.issued` in the period
//!   with `signed` = true;
//! - a dossier is (unit_code, dossier_id) and counts only if it has a
//!   `dossier.received` (local date <= to). Its received date is the smallest
//!   local date of those; its channel and original due date are those of its
//!   earliest `dossier.received` (by instant; ties: smaller channel, then
//!   smaller due date — the scenarios never send two different ones);
//! - received: received date in [from, to]; carried_over: received date <
//!   from and no resolved / refused / withdrawn with a local date < from;
//! - closed (left out of everything but received / carried_over / in_period):
//!   a refused or withdrawn with local date <= to;
//! - resolved date: the smallest local date of `dossier.resolved` (<= to);
//! - due date: the `due_at` date of the latest `dossier.supplement_received`
//!   (by instant, ties: the larger due date) with local date <= to, else the
//!   received one;
//! - paused: the latest `supplement_requested` (<= to) is later, by instant,
//!   than the latest `supplement_received` (<= to), or there is a request and
//!   no supplement received;
//! - instants are compared at millisecond precision, as the pipeline stores them.

use crate::clock::{self, Day};
use chrono::{DateTime, NaiveDate};
use egov_common::{Catalogue, Level};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("unit catalogue: {0}")]
    Catalogue(#[from] egov_common::catalogue::CatalogueError),
    #[error("event {index}: {message}")]
    Invalid { index: u64, message: String },
}

/// The `period` object of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// Document figures of one level (or the total).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DocumentFigures {
    pub incoming: u64,
    pub outgoing: u64,
    pub outgoing_signed: u64,
    pub signed_rate: Option<f64>,
}

/// Dossier figures of one level (or the total).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DossierFigures {
    pub received: u64,
    pub carried_over: u64,
    pub in_period: u64,
    pub due: u64,
    pub resolved_early: u64,
    pub resolved_on_time: u64,
    pub resolved_late: u64,
    pub pending_in_time: u64,
    pub pending_overdue: u64,
    pub on_time_rate: Option<f64>,
    pub online: u64,
    pub online_share: Option<f64>,
}

/// Figures per level, and their total.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Levels<T> {
    pub province: T,
    pub district: T,
    pub commune: T,
    pub total: T,
}

impl<T> Levels<T> {
    pub fn level(&self, level: Level) -> &T {
        match level {
            Level::Province => &self.province,
            Level::District => &self.district,
            Level::Commune => &self.commune,
        }
    }

    fn level_mut(&mut self, level: Level) -> &mut T {
        match level {
            Level::Province => &mut self.province,
            Level::District => &mut self.district,
            Level::Commune => &mut self.commune,
        }
    }
}

/// The report of contract section 7, in its JSON shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub period: Period,
    pub documents: Levels<DocumentFigures>,
    pub dossiers: Levels<DossierFigures>,
}

fn rate(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

impl DocumentFigures {
    fn add(&mut self, other: &Self) {
        self.incoming += other.incoming;
        self.outgoing += other.outgoing;
        self.outgoing_signed += other.outgoing_signed;
    }

    fn finish(&mut self) {
        self.signed_rate = rate(self.outgoing_signed, self.outgoing);
    }
}

impl DossierFigures {
    fn add(&mut self, o: &Self) {
        self.received += o.received;
        self.carried_over += o.carried_over;
        self.in_period += o.in_period;
        self.due += o.due;
        self.resolved_early += o.resolved_early;
        self.resolved_on_time += o.resolved_on_time;
        self.resolved_late += o.resolved_late;
        self.pending_in_time += o.pending_in_time;
        self.pending_overdue += o.pending_overdue;
        self.online += o.online;
    }

    fn finish(&mut self) {
        self.on_time_rate = rate(self.resolved_early + self.resolved_on_time, self.due);
        self.online_share = rate(self.online, self.received);
    }
}

#[derive(Deserialize)]
struct WireEvent<'a> {
    #[serde(borrow)]
    event_type: Cow<'a, str>,
    #[serde(borrow)]
    occurred_at: Cow<'a, str>,
    #[serde(borrow)]
    unit_code: Cow<'a, str>,
    #[serde(borrow)]
    payload: WirePayload<'a>,
}

#[derive(Deserialize)]
struct WirePayload<'a> {
    #[serde(borrow, default)]
    document_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    dossier_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    channel: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    due_at: Option<Cow<'a, str>>,
    #[serde(default)]
    signed: Option<bool>,
}

const DOC_RECEIVED: u32 = 0;
const DOC_ISSUED: u32 = 1;
const DOC_ISSUED_SIGNED: u32 = 2;

/// Channel codes; only `online` matters to the figures.
const CHANNEL_OTHER: u8 = 0;
const CHANNEL_ONLINE: u8 = 1;

#[derive(Debug, Default)]
struct DossierFacts {
    /// (instant ms, channel, due day), sorted and unique.
    received: Vec<(i64, u8, Day)>,
    supplement_requested: Vec<i64>,
    /// (instant ms, due day).
    supplement_received: Vec<(i64, Day)>,
    resolved: Vec<Day>,
    /// Refused or withdrawn.
    closed: Vec<Day>,
}

fn insert_sorted<T: Ord>(set: &mut Vec<T>, value: T) {
    if let Err(at) = set.binary_search(&value) {
        set.insert(at, value);
    }
}

fn day_of_ms(ms: i64) -> Day {
    clock::local_day(ms.div_euclid(1000))
}

type EntityKey = (u16, Box<str>);

/// Accumulates events; [`Reference::report`] computes the figures of any period.
#[derive(Debug)]
pub struct Reference {
    units: HashMap<String, (u16, Level)>,
    codes: Vec<String>,
    /// Per document: the sorted set of `day << 2 | kind`.
    documents: HashMap<EntityKey, Vec<u32>>,
    dossiers: HashMap<EntityKey, DossierFacts>,
    events: u64,
}

impl Reference {
    /// An empty reference over the unit catalogue built into the binary.
    pub fn new() -> Result<Self, ReferenceError> {
        let catalogue = Catalogue::embedded()?;
        let mut units = HashMap::new();
        let mut codes = Vec::new();
        for unit in catalogue.units() {
            let index = u16::try_from(codes.len()).unwrap_or(u16::MAX);
            units.insert(unit.code.clone(), (index, unit.level));
            codes.push(unit.code.clone());
        }
        Ok(Self {
            units,
            codes,
            documents: HashMap::new(),
            dossiers: HashMap::new(),
            events: 0,
        })
    }

    /// Events added so far (duplicates included).
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Distinct documents and dossiers seen.
    pub fn entities(&self) -> (usize, usize) {
        (self.documents.len(), self.dossiers.len())
    }

    /// Adds one event given as a JSON value.
    pub fn add(&mut self, event: &Value) -> Result<(), ReferenceError> {
        let index = self.events;
        let wire = WireEvent::deserialize(event).map_err(|e| ReferenceError::Invalid {
            index,
            message: e.to_string(),
        })?;
        self.add_wire(wire)
    }

    /// Adds one event given as JSON text (as sent).
    pub fn add_json(&mut self, json: &[u8]) -> Result<(), ReferenceError> {
        let index = self.events;
        let wire: WireEvent<'_> =
            serde_json::from_slice(json).map_err(|e| ReferenceError::Invalid {
                index,
                message: e.to_string(),
            })?;
        self.add_wire(wire)
    }

    fn add_wire(&mut self, wire: WireEvent<'_>) -> Result<(), ReferenceError> {
        let index = self.events;
        let invalid = |message: String| ReferenceError::Invalid { index, message };
        let at_ms = parse_ms(&wire.occurred_at).ok_or_else(|| {
            invalid(format!(
                "occurred_at `{}` is not an RFC 3339 date-time",
                wire.occurred_at
            ))
        })?;
        let day = day_of_ms(at_ms);
        let unit = self
            .units
            .get(wire.unit_code.as_ref())
            .map(|(index, _)| *index)
            .ok_or_else(|| {
                invalid(format!(
                    "unit_code `{}` is not in the catalogue",
                    wire.unit_code
                ))
            })?;
        let payload = wire.payload;
        let event_type = wire.event_type.as_ref();
        if let Some(kind) = event_type.strip_prefix("document.") {
            let id = payload
                .document_id
                .ok_or_else(|| invalid("no payload.document_id".into()))?;
            let fact = match kind {
                "received" => Some(DOC_RECEIVED),
                "issued" => Some(match payload.signed {
                    Some(true) => DOC_ISSUED_SIGNED,
                    Some(false) => DOC_ISSUED,
                    None => return Err(invalid("document.issued without payload.signed".into())),
                }),
                "completed" => None,
                other => return Err(invalid(format!("unknown event type document.{other}"))),
            };
            let facts = self
                .documents
                .entry((unit, id.into_owned().into_boxed_str()))
                .or_default();
            if let Some(fact) = fact {
                // Local dates of accepted events are after 2000, so positive.
                let day = u32::try_from(day).unwrap_or_default();
                insert_sorted(facts, day << 2 | fact);
            }
        } else if let Some(kind) = event_type.strip_prefix("dossier.") {
            let id = payload
                .dossier_id
                .ok_or_else(|| invalid("no payload.dossier_id".into()))?;
            let due_day = |due: Option<Cow<'_, str>>| -> Result<Day, ReferenceError> {
                let due =
                    due.ok_or_else(|| invalid(format!("{event_type} without payload.due_at")))?;
                parse_ms(&due)
                    .map(day_of_ms)
                    .ok_or_else(|| invalid(format!("due_at `{due}` is not an RFC 3339 date-time")))
            };
            let facts = self
                .dossiers
                .entry((unit, id.into_owned().into_boxed_str()))
                .or_default();
            match kind {
                "received" => {
                    let channel = match payload.channel.as_deref() {
                        Some("online") => CHANNEL_ONLINE,
                        _ => CHANNEL_OTHER,
                    };
                    let due = due_day(payload.due_at)?;
                    insert_sorted(&mut facts.received, (at_ms, channel, due));
                }
                "supplement_requested" => insert_sorted(&mut facts.supplement_requested, at_ms),
                "supplement_received" => {
                    let due = due_day(payload.due_at)?;
                    insert_sorted(&mut facts.supplement_received, (at_ms, due));
                }
                "resolved" => insert_sorted(&mut facts.resolved, day),
                "refused" | "withdrawn" => insert_sorted(&mut facts.closed, day),
                "returned" => {}
                other => return Err(invalid(format!("unknown event type dossier.{other}"))),
            }
        } else {
            return Err(invalid(format!("unknown event type {event_type}")));
        }
        self.events += 1;
        Ok(())
    }

    fn level_of(&self, unit: u16, filter: Option<&HashSet<String>>) -> Option<Level> {
        let code = self.codes.get(usize::from(unit))?;
        if filter.is_some_and(|units| !units.contains(code)) {
            return None;
        }
        self.units.get(code).map(|(_, level)| *level)
    }

    /// The figures of `from..=to`, of the units in `units` if given.
    pub fn report(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        units: Option<&HashSet<String>>,
    ) -> Report {
        let (from_day, to_day) = (clock::day_of(from), clock::day_of(to));
        let mut documents = Levels::<DocumentFigures>::default();
        let (lo, hi) = (
            u32::try_from(from_day).unwrap_or_default() << 2,
            (u32::try_from(to_day).unwrap_or_default() << 2) | 3,
        );
        for ((unit, _), facts) in &self.documents {
            let Some(level) = self.level_of(*unit, units) else {
                continue;
            };
            let (mut incoming, mut outgoing, mut signed) = (false, false, false);
            for fact in facts.iter().filter(|f| (lo..=hi).contains(*f)) {
                match fact & 3 {
                    DOC_RECEIVED => incoming = true,
                    DOC_ISSUED => outgoing = true,
                    _ => (outgoing, signed) = (true, true),
                }
            }
            let figures = documents.level_mut(level);
            figures.incoming += u64::from(incoming);
            figures.outgoing += u64::from(outgoing);
            figures.outgoing_signed += u64::from(signed);
        }
        let mut dossiers = Levels::<DossierFigures>::default();
        for ((unit, _), facts) in &self.dossiers {
            let Some(level) = self.level_of(*unit, units) else {
                continue;
            };
            classify(facts, from_day, to_day, dossiers.level_mut(level));
        }
        for level in Level::ALL {
            let d = documents.level(level).clone();
            documents.total.add(&d);
            let o = dossiers.level(level).clone();
            dossiers.total.add(&o);
        }
        for figures in [
            &mut documents.province,
            &mut documents.district,
            &mut documents.commune,
            &mut documents.total,
        ] {
            figures.finish();
        }
        for figures in [
            &mut dossiers.province,
            &mut dossiers.district,
            &mut dossiers.commune,
            &mut dossiers.total,
        ] {
            figures.finish();
        }
        Report {
            period: Period { from, to },
            documents,
            dossiers,
        }
    }
}

/// Adds one dossier to `out` as section 5 says.
fn classify(facts: &DossierFacts, from: Day, to: Day, out: &mut DossierFigures) {
    // The earliest received event; sorted by instant, so its day is the minimum.
    let Some(&(_, channel, received_due)) = facts.received.first() else {
        return;
    };
    let received_day = facts
        .received
        .first()
        .map(|r| day_of_ms(r.0))
        .unwrap_or(to + 1);
    if received_day > to {
        return;
    }
    let received = received_day >= from;
    let carried_over = received_day < from
        && !facts.resolved.iter().any(|d| *d < from)
        && !facts.closed.iter().any(|d| *d < from);
    if !received && !carried_over {
        return;
    }
    out.received += u64::from(received);
    out.carried_over += u64::from(carried_over);
    out.in_period += 1;
    if received && channel == CHANNEL_ONLINE {
        out.online += 1;
    }
    if facts.closed.iter().any(|d| *d <= to) {
        return;
    }
    let last_supplement = facts
        .supplement_received
        .iter()
        .rfind(|(at, _)| day_of_ms(*at) <= to);
    let due = last_supplement.map_or(received_due, |(_, due)| *due);
    match facts.resolved.first().filter(|d| **d <= to) {
        Some(resolved) => {
            out.due += 1;
            match resolved.cmp(&due) {
                std::cmp::Ordering::Less => out.resolved_early += 1,
                std::cmp::Ordering::Equal => out.resolved_on_time += 1,
                std::cmp::Ordering::Greater => out.resolved_late += 1,
            }
        }
        None => {
            let last_request = facts
                .supplement_requested
                .iter()
                .rfind(|at| day_of_ms(**at) <= to);
            let paused = match (last_request, last_supplement) {
                (Some(request), Some((supplement, _))) => request > supplement,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if !paused && due <= to {
                out.pending_overdue += 1;
                out.due += 1;
            } else {
                out.pending_in_time += 1;
            }
        }
    }
}

fn parse_ms(text: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// The figures of `from..=to` over `events`, of the units in `units` if given.
pub fn figures<'a>(
    events: impl IntoIterator<Item = &'a Value>,
    from: NaiveDate,
    to: NaiveDate,
    units: Option<&HashSet<String>>,
) -> Result<Report, ReferenceError> {
    let mut reference = Reference::new()?;
    for event in events {
        reference.add(event)?;
    }
    Ok(reference.report(from, to, units))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ymd;
    use serde_json::json;

    fn ev(id: &str, kind: &str, at: &str, unit: &str, payload: Value) -> Value {
        json!({"event_id": id, "event_type": kind, "occurred_at": at, "unit_code": unit, "payload": payload})
    }

    fn received(id: &str, at: &str, due: &str, channel: &str) -> Value {
        ev(
            &format!("{id}:rcv"),
            "dossier.received",
            at,
            "244",
            json!({"dossier_id": id, "procedure_code": "1.004227", "channel": channel, "due_at": due}),
        )
    }

    fn simple(id: &str, kind: &str, at: &str) -> Value {
        ev(
            &format!("{id}:{kind}:{at}"),
            &format!("dossier.{kind}"),
            at,
            "244",
            json!({"dossier_id": id}),
        )
    }

    fn report(events: &[Value], from: NaiveDate, to: NaiveDate) -> anyhow::Result<Report> {
        Ok(figures(events, from, to, None)?)
    }

    #[test]
    fn documents_count_once_per_unit_and_id_with_local_dates() -> anyhow::Result<()> {
        let doc = |id: &str, kind: &str, at: &str, unit: &str, signed: Option<bool>| {
            let mut payload = json!({"document_id": "VB-1"});
            if let Some(s) = signed {
                payload["signed"] = json!(s);
            }
            ev(id, kind, at, unit, payload)
        };
        let events = vec![
            doc(
                "a",
                "document.received",
                "2021-03-01T09:00:00+07:00",
                "26",
                None,
            ),
            doc(
                "b",
                "document.received",
                "2021-03-02T09:00:00+07:00",
                "26",
                None,
            ),
            // Same id at another unit: another document.
            doc(
                "c",
                "document.received",
                "2021-03-02T09:00:00+07:00",
                "243",
                None,
            ),
            // 2021-03-31T18:00Z is 1 April locally: outside March.
            doc(
                "d",
                "document.received",
                "2021-03-31T18:00:00Z",
                "08707",
                None,
            ),
            doc(
                "e",
                "document.issued",
                "2021-03-05T09:00:00+07:00",
                "243",
                Some(false),
            ),
            doc(
                "f",
                "document.issued",
                "2021-03-06T09:00:00+07:00",
                "243",
                Some(true),
            ),
            doc(
                "g",
                "document.issued",
                "2021-03-05T09:00:00+07:00",
                "08707",
                Some(true),
            ),
            doc(
                "h",
                "document.issued",
                "2021-04-05T09:00:00+07:00",
                "08710",
                Some(true),
            ),
            doc(
                "i",
                "document.issued",
                "2021-03-07T09:00:00+07:00",
                "08710",
                Some(false),
            ),
            doc(
                "j",
                "document.completed",
                "2021-03-07T09:00:00+07:00",
                "08710",
                None,
            ),
        ];
        let r = report(&events, ymd(2021, 3, 1), ymd(2021, 3, 31))?;
        assert_eq!(r.documents.province.incoming, 1);
        assert_eq!(r.documents.district.incoming, 1);
        assert_eq!(r.documents.commune.incoming, 0);
        assert_eq!(
            (
                r.documents.district.outgoing,
                r.documents.district.outgoing_signed
            ),
            (1, 1)
        );
        assert_eq!(
            (
                r.documents.commune.outgoing,
                r.documents.commune.outgoing_signed
            ),
            (2, 1)
        );
        assert_eq!(r.documents.total.signed_rate, Some(2.0 / 3.0));
        assert_eq!(r.documents.province.signed_rate, None);
        Ok(())
    }

    #[test]
    fn dossier_states_at_the_end_of_the_period() -> anyhow::Result<()> {
        let (from, to) = (ymd(2021, 3, 1), ymd(2021, 3, 31));
        let events = vec![
            // early, online
            received(
                "A",
                "2021-03-01T09:00:00+07:00",
                "2021-03-05T17:00:00+07:00",
                "online",
            ),
            simple("A", "resolved", "2021-03-04T09:00:00+07:00"),
            // on time, resolved twice: the first counts
            received(
                "B",
                "2021-03-01T09:00:00+07:00",
                "2021-03-05T17:00:00+07:00",
                "direct",
            ),
            simple("B", "resolved", "2021-03-05T16:00:00+07:00"),
            simple("B", "resolved", "2021-03-09T16:00:00+07:00"),
            // late
            received(
                "C",
                "2021-03-01T09:00:00+07:00",
                "2021-03-05T17:00:00+07:00",
                "direct",
            ),
            simple("C", "resolved", "2021-03-08T09:00:00+07:00"),
            // supplement moves the due date: on time
            received(
                "D",
                "2021-03-01T09:00:00+07:00",
                "2021-03-05T17:00:00+07:00",
                "direct",
            ),
            simple("D", "supplement_requested", "2021-03-02T09:00:00+07:00"),
            ev(
                "D:sr",
                "dossier.supplement_received",
                "2021-03-10T09:00:00+07:00",
                "244",
                json!({"dossier_id": "D", "due_at": "2021-03-15T17:00:00+07:00"}),
            ),
            simple("D", "resolved", "2021-03-15T09:00:00+07:00"),
            // pending overdue
            received(
                "E",
                "2021-03-01T09:00:00+07:00",
                "2021-03-05T17:00:00+07:00",
                "postal",
            ),
            // paused: pending in time even though its due date passed
            received(
                "F",
                "2021-03-01T09:00:00+07:00",
                "2021-03-05T17:00:00+07:00",
                "direct",
            ),
            simple("F", "supplement_requested", "2021-03-03T09:00:00+07:00"),
            // due after the period: pending in time
            received(
                "G",
                "2021-03-30T09:00:00+07:00",
                "2021-04-05T17:00:00+07:00",
                "online",
            ),
            // refused: received and in period only
            received(
                "H",
                "2021-03-01T09:00:00+07:00",
                "2021-03-05T17:00:00+07:00",
                "online",
            ),
            simple("H", "refused", "2021-03-02T09:00:00+07:00"),
            // carried over, resolved late in the period
            received(
                "I",
                "2021-02-20T09:00:00+07:00",
                "2021-02-26T17:00:00+07:00",
                "direct",
            ),
            simple("I", "resolved", "2021-03-02T09:00:00+07:00"),
            // resolved before the period: neither received nor carried over
            received(
                "J",
                "2021-02-20T09:00:00+07:00",
                "2021-02-26T17:00:00+07:00",
                "direct",
            ),
            simple("J", "resolved", "2021-02-25T09:00:00+07:00"),
            // received after the period: nothing
            received(
                "K",
                "2021-04-01T09:00:00+07:00",
                "2021-04-05T17:00:00+07:00",
                "direct",
            ),
            // no received event: nothing
            simple("L", "resolved", "2021-03-02T09:00:00+07:00"),
            // resolved after the period: pending overdue at its end
            received(
                "M",
                "2021-03-01T09:00:00+07:00",
                "2021-03-05T17:00:00+07:00",
                "direct",
            ),
            simple("M", "resolved", "2021-04-02T09:00:00+07:00"),
            // supplement received after the period does not count: still paused
            received(
                "N",
                "2021-03-01T09:00:00+07:00",
                "2021-03-05T17:00:00+07:00",
                "direct",
            ),
            simple("N", "supplement_requested", "2021-03-03T09:00:00+07:00"),
            ev(
                "N:sr",
                "dossier.supplement_received",
                "2021-03-31T17:30:00Z",
                "244",
                json!({"dossier_id": "N", "due_at": "2021-04-09T17:00:00+07:00"}),
            ),
        ];
        let r = report(&events, from, to)?;
        let d = &r.dossiers.district;
        assert_eq!(d.received, 10, "{d:?}");
        assert_eq!(d.carried_over, 1);
        assert_eq!(d.in_period, 11);
        assert_eq!(d.resolved_early, 1);
        assert_eq!(d.resolved_on_time, 2);
        assert_eq!(d.resolved_late, 2);
        assert_eq!(d.pending_overdue, 2);
        assert_eq!(d.pending_in_time, 3);
        assert_eq!(d.due, 7);
        assert_eq!(d.online, 3);
        assert_eq!(d.on_time_rate, Some(3.0 / 7.0));
        assert_eq!(r.dossiers.total, {
            let mut t = d.clone();
            t.finish();
            t
        });
        assert_eq!(r.dossiers.province.on_time_rate, None);
        Ok(())
    }

    #[test]
    fn unit_filter_and_serialized_shape() -> anyhow::Result<()> {
        let events = vec![received(
            "A",
            "2021-03-01T09:00:00+07:00",
            "2021-03-05T17:00:00+07:00",
            "online",
        )];
        let only: HashSet<String> = ["000.00.02.H62".to_owned()].into();
        let mut reference = Reference::new()?;
        for e in &events {
            reference.add(e)?;
        }
        let filtered = reference.report(ymd(2021, 3, 1), ymd(2021, 3, 31), Some(&only));
        assert_eq!(filtered.dossiers.total.received, 0);
        let text = serde_json::to_value(&filtered)?;
        assert_eq!(
            text["period"],
            json!({"from": "2021-03-01", "to": "2021-03-31"})
        );
        assert_eq!(
            text["documents"]["province"],
            json!({"incoming": 0, "outgoing": 0, "outgoing_signed": 0, "signed_rate": null})
        );
        let keys: Vec<&str> = text["dossiers"]["total"]
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(keys.len(), 12);
        Ok(())
    }

    #[test]
    fn bad_events_are_errors() -> anyhow::Result<()> {
        let mut reference = Reference::new()?;
        assert!(reference
            .add(&ev(
                "x",
                "dossier.received",
                "2021-03-01T09:00:00+07:00",
                "99999",
                json!({"dossier_id": "A"})
            ))
            .is_err());
        assert!(reference
            .add(&ev(
                "x",
                "dossier.resolved",
                "yesterday",
                "244",
                json!({"dossier_id": "A"})
            ))
            .is_err());
        assert!(reference.add_json(b"{\"event_type\": 1}").is_err());
        Ok(())
    }
}
