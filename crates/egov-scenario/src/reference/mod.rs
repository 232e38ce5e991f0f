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

mod figures;
#[cfg(test)]
mod tests;

use figures::Sums;
pub use figures::{DocumentFigures, DossierFigures, Levels, Period, Report};

use crate::clock::{self, Day};
use chrono::{DateTime, NaiveDate};
use egov_model::{Catalogue, Level};
use serde::Deserialize;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("unit catalogue: {0}")]
    Catalogue(#[from] egov_model::catalogue::CatalogueError),
    #[error("event {index}: {message}")]
    Invalid { index: u64, message: String },
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

/// What a document event says that counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum DocumentFact {
    Received,
    Issued,
    IssuedSigned,
}

/// A dossier's channel as far as the figures care: online or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Channel {
    Other,
    Online,
}

#[derive(Debug, Default)]
struct DossierFacts {
    /// (instant ms, channel, due day), sorted and unique.
    received: Vec<(i64, Channel, Day)>,
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
    /// Per document: the sorted set of (local day, fact).
    documents: HashMap<EntityKey, Vec<(Day, DocumentFact)>>,
    dossiers: HashMap<EntityKey, DossierFacts>,
    events: u64,
}

impl Reference {
    /// An empty reference over the unit catalogue built into the binary.
    pub fn new() -> Result<Self, ReferenceError> {
        Ok(Self::with_catalogue(&Catalogue::embedded()?))
    }

    /// An empty reference over `catalogue` (e.g. the national one of
    /// several provinces, [`crate::provinces::national_catalogue`]).
    pub fn with_catalogue(catalogue: &Catalogue) -> Self {
        let mut units = HashMap::new();
        let mut codes = Vec::new();
        for unit in catalogue.units() {
            let index = u16::try_from(codes.len()).unwrap_or(u16::MAX);
            units.insert(unit.code.clone(), (index, unit.level));
            codes.push(unit.code.clone());
        }
        Self {
            units,
            codes,
            documents: HashMap::new(),
            dossiers: HashMap::new(),
            events: 0,
        }
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
                "received" => Some(DocumentFact::Received),
                "issued" => Some(match payload.signed {
                    Some(true) => DocumentFact::IssuedSigned,
                    Some(false) => DocumentFact::Issued,
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
                insert_sorted(facts, (day, fact));
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
                        Some("online") => Channel::Online,
                        _ => Channel::Other,
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
        for ((unit, _), facts) in &self.documents {
            let Some(level) = self.level_of(*unit, units) else {
                continue;
            };
            let (mut incoming, mut outgoing, mut signed) = (false, false, false);
            for (_, fact) in facts
                .iter()
                .filter(|(day, _)| (from_day..=to_day).contains(day))
            {
                match fact {
                    DocumentFact::Received => incoming = true,
                    DocumentFact::Issued => outgoing = true,
                    DocumentFact::IssuedSigned => (outgoing, signed) = (true, true),
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
            let d = *documents.level(level);
            documents.total.add(&d);
            let o = *dossiers.level(level);
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
    if received && channel == Channel::Online {
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
