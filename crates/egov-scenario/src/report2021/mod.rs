//! `report-2021`: a deterministic event stream of Vĩnh Phúc's 2021 whose
//! figures, counted as contract section 5 says, are those of the 2021 report
//! (`docs/figures-2021.md`) over the report's windows.
//!
//! How it is built. Every dossier is given a *fate* at the end of its window
//! (resolved early, on time or late, pending overdue, pending in time, paused,
//! refused or withdrawn) in exact numbers that add up to the report's figures,
//! and then a life consistent with it: a procedure with its legal processing
//! time, a receipt (working hours, or any time online), due dates counted in
//! working days (weekends and `seeds/holidays.csv` skipped, counting from the
//! next working day after 15:00), supplement requests that restart the clock,
//! a resolution, the hand-over of the result. Documents are drawn in exact
//! numbers per level over the window, plus the weeks before and after it.
//!
//! The plan is compact (about 40 bytes per event); JSON is written batch by
//! batch, so the whole stream is never held as JSON values.
//!
//! The parts: `targets` (the report's figures as targets), `samplers`
//! (random draws), `plan` (the compact plan), `documents`, `dossiers` and
//! `lifecycle` (building the plan), `delivery` (the natural order and
//! resends), `json` (an event's JSON); this module holds the scenario and
//! its stream.
//!
//! Country scale: [`Report2021::generate_provinces`] sends the same plan once
//! per province, each copy with its province's unit codes
//! ([`crate::provinces`]): every event of the natural order is followed by its
//! copies in provinces 2..=N, so all provinces send at the same pace. With one
//! province the stream is exactly [`Report2021::generate`]'s.

mod delivery;
mod documents;
mod dossiers;
mod json;
mod lifecycle;
mod plan;
mod samplers;
mod targets;

pub use targets::{
    Cohort, Fate, Window, CENTER_WINDOW, DEFAULT_SEED, DOCUMENTS_WINDOW, ONESTOP_WINDOW,
    ONLINE_SHARE, WINDOWS,
};

use crate::batch::{Batch, Batcher};
use crate::clock::{self, instant, ymd, Calendar, Day};
use crate::provinces;
use crate::reference::{Reference, ReferenceError};
use crate::units::{self, UnitInfo};
use crate::ScenarioError;
use dossiers::DossierMeta;
use egov_model::{Catalogue, EventType, System};
use plan::{DocPlan, DossierPlan, Ev, Kind};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use samplers::{mix, office_second, season, DayWeights};
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use targets::{CENTER, DISTRICT_COMMUNE, FIRST_DAY};

/// Counts that describe the scenario.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Composition {
    pub seed: u64,
    /// Events in the stream, resends included.
    pub events: u64,
    /// Distinct events.
    pub distinct_events: u64,
    /// Extra copies of events sent again (same id and content, later batch).
    pub resent_copies: u64,
    /// Distinct events delivered more than an hour after they occurred.
    pub delayed_events: u64,
    /// Dossiers whose `dossier.received` arrives after their `dossier.resolved`.
    pub received_after_resolved: u64,
    pub events_by_type: BTreeMap<String, u64>,
    /// Documents per level: incoming / outgoing in the documents window, and outside it.
    pub documents: BTreeMap<String, BTreeMap<String, u64>>,
    /// Dossiers per group, cohort and fate (at the group's window end).
    pub dossiers: BTreeMap<String, BTreeMap<String, u64>>,
    /// Dossiers per channel.
    pub dossier_channels: BTreeMap<String, u64>,
}

/// The generated scenario: a compact plan and the events in natural order,
/// sent by one or more provinces.
#[derive(Debug)]
pub struct Report2021 {
    seed: u64,
    calendar: Calendar,
    /// Province 1's units, which the plan indexes.
    units: Vec<UnitInfo>,
    /// The provinces that send the plan, 1..=[`provinces::MAX_PROVINCES`].
    provinces: u16,
    /// Every province's unit codes, province after province, in the order of `units`.
    codes: Vec<String>,
    /// The units of every province.
    catalogue: Catalogue,
    senders: [Vec<String>; 3],
    docs: Vec<DocPlan>,
    dossiers: Vec<DossierPlan>,
    events: Vec<Ev>,
    composition: Composition,
}

/// Builds the plan: documents, dossiers, channels, numbers, delivery.
struct Builder<'a> {
    seed: u64,
    cal: &'a Calendar,
    units: &'a [UnitInfo],
    doc_days: DayWeights,
    dossier_days: DayWeights,
    docs: Vec<DocPlan>,
    dossiers: Vec<DossierPlan>,
    meta: Vec<DossierMeta>,
    events: Vec<Ev>,
    composition: Composition,
}

impl Builder<'_> {
    fn rng(&self, stream: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(mix(self.seed ^ mix(stream)))
    }

    fn push(&mut self, kind: Kind, at: i64, entity: u32, ordinal: u8) {
        self.events.push(Ev {
            deliver: at,
            at,
            entity,
            uid: 0,
            kind,
            ordinal,
            copy: 0,
        });
    }

    fn pick_working(&self, rng: &mut ChaCha8Rng, lo: Day, hi: Day) -> Option<Day> {
        if hi < lo {
            return None;
        }
        let count = self.cal.working_days(lo, hi).count();
        if count == 0 {
            return None;
        }
        self.cal
            .working_days(lo, hi)
            .nth(rng.random_range(0..count))
    }

    /// An office-hours instant on `day`, at least a minute after `after`.
    fn time_after(&self, rng: &mut ChaCha8Rng, day: Day, after: i64) -> Option<i64> {
        let t = instant(day, office_second(rng));
        if t > after + 60 {
            return Some(t);
        }
        let (lo, hi) = (after + 60, instant(day, 17 * 3600 + 1800));
        (lo < hi).then(|| rng.random_range(lo..hi))
    }
}

#[derive(Debug, Clone, Copy)]
pub struct EventRef<'a> {
    scenario: &'a Report2021,
    ev: &'a Ev,
    /// 0-based.
    province: u16,
}

impl EventRef<'_> {
    pub fn event_type(&self) -> EventType {
        self.ev.kind.event_type()
    }

    pub fn system(&self) -> System {
        self.event_type().system()
    }

    /// Copies of one event (resends) share the identity; the same event of
    /// two provinces too (see [`EventRef::province`]).
    pub fn identity(&self) -> u32 {
        self.ev.uid
    }

    /// The province that sends the event, 1-based (1: Vĩnh Phúc's own codes).
    pub fn province(&self) -> u16 {
        self.province + 1
    }

    /// 0 for the first sending, 1.. for resends.
    pub fn copy(&self) -> u8 {
        self.ev.copy
    }

    /// The code of the unit that sends it (its province's).
    pub fn unit_code(&self) -> &str {
        self.scenario.event_unit_code(self.ev, self.province)
    }

    /// occurred_at, seconds since the epoch.
    pub fn occurred_at(&self) -> i64 {
        self.ev.at
    }

    /// The event as JSON, appended to `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        self.scenario.write_event(self.ev, self.province, out);
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(400);
        self.write_json(&mut out);
        out
    }

    pub fn to_value(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.to_json())
    }
}

impl Report2021 {
    /// Builds the scenario of `seed` (about 2.4 million events; a few seconds
    /// in release, about 100 MB).
    pub fn generate(seed: u64) -> Result<Self, ScenarioError> {
        Self::generate_provinces(seed, 1)
    }

    /// The scenario of `seed` sent by `provinces` provinces (clamped to
    /// 1..=[`provinces::MAX_PROVINCES`]): `provinces` times the events,
    /// each province's figures those of the 2021 report; the plan (and the
    /// memory) is one province's.
    pub fn generate_provinces(seed: u64, provinces: u16) -> Result<Self, ScenarioError> {
        let provinces = provinces.clamp(1, provinces::MAX_PROVINCES);
        let calendar = Calendar::embedded()?;
        let base = Catalogue::embedded()?;
        let units = units::units(&base);
        let catalogue = provinces::national_catalogue(&base, provinces)?;
        let codes = (1..=provinces)
            .flat_map(|p| {
                units
                    .iter()
                    .map(move |u| provinces::unit_code(&u.code, p).into_owned())
            })
            .collect();
        let (first, last) = (clock::day_of(FIRST_DAY), clock::day_of(ymd(2022, 3, 31)));
        let doc_days = DayWeights::new(first, last, |day| {
            season(day) * if calendar.is_working(day) { 1.0 } else { 0.03 }
        });
        let dossier_days = DayWeights::new(first, last, |day| {
            season(day) * if calendar.is_working(day) { 1.0 } else { 0.025 }
        });
        let mut builder = Builder {
            seed,
            cal: &calendar,
            units: &units,
            doc_days,
            dossier_days,
            docs: Vec::with_capacity(1_600_000),
            dossiers: Vec::with_capacity(300_000),
            meta: Vec::with_capacity(300_000),
            events: Vec::with_capacity(2_600_000),
            composition: Composition {
                seed,
                ..Composition::default()
            },
        };
        builder.documents()?;
        builder.dossier_group(&DISTRICT_COMMUNE, 0)?;
        builder.dossier_group(&CENTER, 1)?;
        builder.channels()?;
        builder.number_dossiers();
        builder.document_composition();
        builder.deliver();
        let Builder {
            docs,
            dossiers,
            events,
            composition,
            ..
        } = builder;
        let senders = json::senders(&units);
        Ok(Self {
            seed,
            calendar,
            units,
            provinces,
            codes,
            catalogue,
            senders,
            docs,
            dossiers,
            events,
            composition,
        })
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The provinces that send the stream.
    pub fn provinces(&self) -> u16 {
        self.provinces
    }

    /// The unit catalogue of every province of the stream (`seeds/units.csv`
    /// for one province).
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    /// Events in the stream, resends included, of every province.
    pub fn len(&self) -> usize {
        self.events.len() * usize::from(self.provinces)
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// What one province's stream contains (every province's is the same).
    pub fn composition(&self) -> &Composition {
        &self.composition
    }

    /// The stream in natural order, or in exactly the opposite order.
    pub fn events(&self, reverse: bool) -> Box<dyn Iterator<Item = EventRef<'_>> + '_> {
        let len = self.len();
        let at = move |i: usize| if reverse { len - 1 - i } else { i };
        Box::new((0..len).filter_map(move |i| self.event_at(at(i))))
    }

    /// The `index`th event of the natural order: event `index / provinces`
    /// of the plan, sent by province `index % provinces`.
    fn event_at(&self, index: usize) -> Option<EventRef<'_>> {
        let provinces = usize::from(self.provinces);
        let ev = self.events.get(index / provinces)?;
        let province = u16::try_from(index % provinces).ok()?;
        Some(EventRef {
            scenario: self,
            ev,
            province,
        })
    }

    /// Request bodies of at most `batch_size` events, per source system.
    pub fn batches(self: &Arc<Self>, batch_size: usize, reverse: bool) -> Batches {
        Batches {
            scenario: Arc::clone(self),
            reverse,
            next: 0,
            batcher: Batcher::new(batch_size),
            ready: VecDeque::new(),
            flushed: false,
        }
    }

    /// The reference figures' accumulator over the whole stream (as JSON),
    /// over the catalogue of its provinces.
    pub fn reference(&self, reverse: bool) -> Result<Reference, ReferenceError> {
        let mut reference = Reference::with_catalogue(&self.catalogue);
        let mut buf = Vec::with_capacity(512);
        for event in self.events(reverse) {
            buf.clear();
            event.write_json(&mut buf);
            reference.add_json(&buf)?;
        }
        Ok(reference)
    }
}

#[derive(Debug)]
pub struct Batches {
    scenario: Arc<Report2021>,
    reverse: bool,
    next: usize,
    /// An event's identity and province.
    batcher: Batcher<(u32, u16)>,
    ready: VecDeque<Batch>,
    flushed: bool,
}

impl Iterator for Batches {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        loop {
            if let Some(batch) = self.ready.pop_front() {
                return Some(batch);
            }
            let len = self.scenario.len();
            if self.next >= len {
                if self.flushed {
                    return None;
                }
                self.flushed = true;
                self.ready.extend(self.batcher.flush());
                continue;
            }
            let index = if self.reverse {
                len - 1 - self.next
            } else {
                self.next
            };
            self.next += 1;
            if let Some(event) = self.scenario.event_at(index) {
                let identity = (event.identity(), event.province);
                let full = self
                    .batcher
                    .push(event.system(), identity, |out| event.write_json(out));
                self.ready.extend(full);
            }
        }
    }
}
