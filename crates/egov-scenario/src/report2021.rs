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

use crate::batch::{Batch, Batcher};
use crate::clock::{self, instant, local_day, ymd, Calendar, Day};
use crate::procedures::{Procedure, Tier, PROCEDURES};
use crate::reference::{Reference, ReferenceError};
use crate::units::{self, UnitInfo, SERVICE_CENTER};
use crate::ScenarioError;
use chrono::NaiveDate;
use egov_common::{Catalogue, EventType, Level, System};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// The seed of the published scenario (the report is 365/BC-BCĐ).
pub const DEFAULT_SEED: u64 = 365;

/// A report window of `docs/figures-2021.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    pub name: &'static str,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// Documents: cut-off 15/12/2021.
pub const DOCUMENTS_WINDOW: Window = Window {
    name: "documents",
    from: ymd(2021, 1, 1),
    to: ymd(2021, 12, 15),
};
/// One-stop at district and commune level (and the online share): cut-off 14/11/2021.
pub const ONESTOP_WINDOW: Window = Window {
    name: "one-stop, district and commune level",
    from: ymd(2021, 1, 1),
    to: ymd(2021, 11, 14),
};
/// One-stop at the provincial Public Administration Service Center: cut-off 20/11/2021.
pub const CENTER_WINDOW: Window = Window {
    name: "one-stop, provincial Public Administration Service Center",
    from: ymd(2021, 1, 1),
    to: ymd(2021, 11, 20),
};
pub const WINDOWS: [Window; 3] = [DOCUMENTS_WINDOW, ONESTOP_WINDOW, CENTER_WINDOW];

/// online / received over all levels in [`ONESTOP_WINDOW`] (7.4% in the report).
pub const ONLINE_SHARE: f64 = 0.074;

/// (level, incoming, outgoing, outgoing_signed) in [`DOCUMENTS_WINDOW`].
const DOCUMENT_TARGETS: [(Level, u32, u32, u32); 3] = [
    (Level::Province, 319_228, 106_457, 105_537),
    (Level::District, 157_487, 80_037, 76_936),
    (Level::Commune, 639_796, 93_355, 86_485),
];

/// The state of a dossier at the end of its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fate {
    ResolvedEarly,
    ResolvedOnTime,
    ResolvedLate,
    PendingOverdue,
    /// Not resolved, due after the end of the window.
    PendingInTime,
    /// Not resolved, waiting for a supplement (counts as pending in time).
    Paused,
    /// Refused or withdrawn.
    Closed,
    /// Outside the window's counts: no constraint.
    Free,
}

const FATES: [Fate; 7] = [
    Fate::ResolvedEarly,
    Fate::ResolvedOnTime,
    Fate::ResolvedLate,
    Fate::PendingOverdue,
    Fate::PendingInTime,
    Fate::Paused,
    Fate::Closed,
];

impl Fate {
    pub fn as_str(self) -> &'static str {
        match self {
            Fate::ResolvedEarly => "resolved_early",
            Fate::ResolvedOnTime => "resolved_on_time",
            Fate::ResolvedLate => "resolved_late",
            Fate::PendingOverdue => "pending_overdue",
            Fate::PendingInTime => "pending_in_time",
            Fate::Paused => "paused",
            Fate::Closed => "refused_or_withdrawn",
            Fate::Free => "any",
        }
    }
}

/// When a dossier was received, relative to its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cohort {
    /// Received in the window.
    Received,
    /// Received in 2020 and still open on 2021-01-01.
    CarriedOver,
    /// Received in late 2020 and closed before 2021.
    Closed2020,
    /// Received after the window's end (until 2021-12-31).
    After,
}

impl Cohort {
    pub fn as_str(self) -> &'static str {
        match self {
            Cohort::Received => "received",
            Cohort::CarriedOver => "carried_over",
            Cohort::Closed2020 => "closed_in_2020",
            Cohort::After => "received_after_window",
        }
    }
}

struct GroupSpec {
    name: &'static str,
    tiers: &'static [(Tier, f64)],
    to: NaiveDate,
    /// Per fate of [`FATES`].
    received: [u32; 7],
    carried_over: [u32; 7],
    closed_2020: u32,
    supplement_share: f64,
}

/// District and commune level at 2021-11-14: 157,054 received, 7,009 carried
/// over (164,063 in the period); due 161,578 of which 146,777 early or on time.
const DISTRICT_COMMUNE: GroupSpec = GroupSpec {
    name: "district+commune",
    tiers: &[(Tier::District, 0.34), (Tier::Commune, 0.66)],
    to: ONESTOP_WINDOW.to,
    received: [113_600, 27_277, 12_000, 1_761, 1_485, 351, 580],
    carried_over: [4_800, 1_100, 950, 90, 0, 29, 40],
    closed_2020: 3_000,
    supplement_share: 0.06,
};

/// The Service Center at 2021-11-20: 51,754 received, 9,509 carried over
/// (61,263); due 51,007 of which 50,817 early or on time.
const CENTER: GroupSpec = GroupSpec {
    name: "service center",
    tiers: &[(Tier::Center, 1.0)],
    to: CENTER_WINDOW.to,
    received: [36_700, 4_917, 60, 20, 5_206, 3_651, 1_200],
    carried_over: [8_200, 1_000, 100, 10, 0, 149, 50],
    closed_2020: 1_500,
    supplement_share: 0.12,
};

/// Receipts of the scenario end on this day; later events (resolutions,
/// hand-overs) may run into 2022.
const LAST_RECEIPT: NaiveDate = ymd(2021, 12, 31);
/// The earliest day the scenario has events on.
const FIRST_DAY: NaiveDate = ymd(2020, 8, 1);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    DocumentReceived,
    DocumentIssued,
    DocumentCompleted,
    Received,
    SupplementRequested,
    SupplementReceived,
    Resolved,
    Returned,
    Refused,
    Withdrawn,
}

impl Kind {
    fn event_type(self) -> EventType {
        match self {
            Kind::DocumentReceived => EventType::DocumentReceived,
            Kind::DocumentIssued => EventType::DocumentIssued,
            Kind::DocumentCompleted => EventType::DocumentCompleted,
            Kind::Received => EventType::DossierReceived,
            Kind::SupplementRequested => EventType::DossierSupplementRequested,
            Kind::SupplementReceived => EventType::DossierSupplementReceived,
            Kind::Resolved => EventType::DossierResolved,
            Kind::Returned => EventType::DossierReturned,
            Kind::Refused => EventType::DossierRefused,
            Kind::Withdrawn => EventType::DossierWithdrawn,
        }
    }

    /// The suffix of the event id.
    fn tag(self) -> &'static str {
        match self {
            Kind::DocumentReceived => "in",
            Kind::DocumentIssued => "out",
            Kind::DocumentCompleted => "done",
            Kind::Received => "rcv",
            Kind::SupplementRequested => "sreq",
            Kind::SupplementReceived => "srec",
            Kind::Resolved => "res",
            Kind::Returned => "ret",
            Kind::Refused => "ref",
            Kind::Withdrawn => "wdr",
        }
    }

    fn is_document(self) -> bool {
        matches!(
            self,
            Kind::DocumentReceived | Kind::DocumentIssued | Kind::DocumentCompleted
        )
    }
}

/// One event of the plan.
#[derive(Debug, Clone, Copy)]
struct Ev {
    /// Sort key of the natural order (seconds).
    deliver: i64,
    /// occurred_at (seconds).
    at: i64,
    /// Index of the document or dossier.
    entity: u32,
    /// Due day of `dossier.received` and `dossier.supplement_received`.
    aux: i32,
    /// Identity of the event: copies (resends) share it.
    uid: u32,
    kind: Kind,
    /// n-th event of this kind of the entity (part of the event id).
    ordinal: u8,
    /// `document.issued`: signed.
    signed: bool,
    /// 0 for the original, 1.. for resends.
    copy: u8,
}

#[derive(Debug, Clone, Copy)]
struct DocPlan {
    first_at: i64,
    unit: u16,
    incoming: bool,
    channel: u8,
    seq: u32,
}

const DOC_CHANNELS: [&str; 4] = ["national_axis", "provincial_axis", "email", "paper"];
const NATIONAL_AXIS: u8 = 0;
const PROVINCIAL_AXIS: u8 = 1;
const EMAIL: u8 = 2;
const PAPER: u8 = 3;

#[derive(Debug, Clone, Copy)]
struct DossierPlan {
    received_at: i64,
    unit: u16,
    procedure: u16,
    seq: u16,
    channel: u8,
    applicant: u8,
}

const DOSSIER_CHANNELS: [&str; 3] = ["direct", "online", "postal"];
const DIRECT: u8 = 0;
const ONLINE: u8 = 1;
const POSTAL: u8 = 2;
const APPLICANTS: [&str; 3] = ["citizen", "business", "organization"];

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

/// The generated scenario: a compact plan and the events in natural order.
#[derive(Debug)]
pub struct Report2021 {
    seed: u64,
    calendar: Calendar,
    units: Vec<UnitInfo>,
    senders: [Vec<String>; 3],
    docs: Vec<DocPlan>,
    dossiers: Vec<DossierPlan>,
    events: Vec<Ev>,
    composition: Composition,
}

fn level_slot(level: Level) -> usize {
    match level {
        Level::Province => 0,
        Level::District => 1,
        Level::Commune => 2,
    }
}

fn mix(mut x: u64) -> u64 {
    // splitmix64
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Cumulative weights for sampling.
#[derive(Debug, Clone)]
struct Picker<T> {
    items: Vec<T>,
    cumulative: Vec<f64>,
}

impl<T: Copy> Picker<T> {
    fn new(weighted: impl IntoIterator<Item = (T, f64)>) -> Self {
        let mut items = Vec::new();
        let mut cumulative = Vec::new();
        let mut sum = 0.0;
        for (item, weight) in weighted {
            if weight > 0.0 {
                sum += weight;
                items.push(item);
                cumulative.push(sum);
            }
        }
        Self { items, cumulative }
    }

    fn pick(&self, rng: &mut ChaCha8Rng) -> Option<T> {
        let total = *self.cumulative.last()?;
        let u = rng.random::<f64>() * total;
        let i = self.cumulative.partition_point(|c| *c <= u);
        self.items.get(i.min(self.items.len() - 1)).copied()
    }
}

/// Day weights with prefix sums, for drawing days of a range.
#[derive(Debug)]
struct DayWeights {
    first: Day,
    prefix: Vec<f64>,
}

impl DayWeights {
    fn new(first: Day, last: Day, weight: impl Fn(Day) -> f64) -> Self {
        let mut prefix = Vec::with_capacity((last - first + 2).max(1) as usize);
        prefix.push(0.0);
        let mut sum = 0.0;
        for day in first..=last {
            sum += weight(day).max(0.0);
            prefix.push(sum);
        }
        Self { first, prefix }
    }

    fn offset(&self, day: Day) -> usize {
        usize::try_from(day - self.first)
            .unwrap_or(0)
            .min(self.prefix.len() - 1)
    }

    fn mass(&self, lo: Day, hi: Day) -> f64 {
        if hi < lo {
            return 0.0;
        }
        self.prefix[self.offset(hi + 1)] - self.prefix[self.offset(lo)]
    }

    fn sample(&self, rng: &mut ChaCha8Rng, lo: Day, hi: Day) -> Option<Day> {
        let last = self.first + self.prefix.len() as Day - 2;
        let (lo, hi) = (lo.max(self.first), hi.min(last));
        if hi < lo {
            return None;
        }
        let (a, b) = (
            self.prefix[self.offset(lo)],
            self.prefix[self.offset(hi + 1)],
        );
        if b <= a {
            return None;
        }
        let u = a + rng.random::<f64>() * (b - a);
        let i = self.prefix.partition_point(|p| *p <= u);
        Some((self.first + i as Day - 1).clamp(lo, hi))
    }
}

/// Activity over the year: the rush before Tết, the quiet week after it,
/// the May 2021 outbreak, the year-end rush.
fn season(day: Day) -> f64 {
    let date = clock::date_of(day);
    use chrono::Datelike;
    let (m, d) = (date.month(), date.day());
    if date.year() == 2021 && m == 2 && d <= 9 {
        return 1.25;
    }
    if date.year() == 2021 && m == 2 && (17..=19).contains(&d) {
        return 0.7;
    }
    match m {
        1 => 1.05,
        2 => 0.95,
        5 => 0.9,
        6 | 8 => 0.95,
        10 => 1.05,
        11 => 1.1,
        12 => 1.15,
        _ => 1.0,
    }
}

/// A time of day in office hours (7:30–17:00, quieter at lunch), in seconds.
fn office_second(rng: &mut ChaCha8Rng) -> i64 {
    let u = rng.random::<f64>() * 8.1;
    let hours = if u < 4.0 {
        7.5 + u
    } else if u < 4.6 {
        11.5 + (u - 4.0) / 0.3
    } else {
        13.5 + (u - 4.6)
    };
    (hours * 3600.0) as i64
}

/// 1 + a geometric number of mean `mean - 1`, at most `cap`.
fn geometric(rng: &mut ChaCha8Rng, mean: f64, cap: u32) -> u32 {
    let u: f64 = rng.random::<f64>().max(1e-12);
    let n = 1.0 + (-u.ln() * (mean - 1.0).max(0.0)).floor();
    (n as u32).clamp(1, cap.max(1))
}

/// Dossier mode of choosing procedures: dossiers that stay open long are
/// more often of long procedures.
#[derive(Clone, Copy)]
enum Mode {
    Plain,
    Duration,
    Long,
}

struct Group {
    spec: &'static GroupSpec,
    from: Day,
    to: Day,
    procedures: [Picker<(Level, u16)>; 3],
    units: [Picker<u16>; 3],
}

impl Group {
    fn procedure(&self, rng: &mut ChaCha8Rng, mode: Mode) -> Option<(Level, u16)> {
        let slot = match mode {
            Mode::Plain => 0,
            Mode::Duration => 1,
            Mode::Long => 2,
        };
        self.procedures[slot].pick(rng)
    }

    fn unit(&self, rng: &mut ChaCha8Rng, level: Level) -> Option<u16> {
        self.units[level_slot(level)].pick(rng)
    }
}

/// A dossier being built: its receipt and its events (kind, instant, due day, ordinal).
struct Draft {
    unit: u16,
    procedure: u16,
    level: Level,
    received_at: i64,
    forced_online: bool,
    events: Vec<(Kind, i64, Day, u8)>,
}

#[derive(Clone, Copy)]
struct DossierMeta {
    cohort: Cohort,
    level: Level,
    forced_online: bool,
}

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

impl<'a> Builder<'a> {
    fn rng(&self, stream: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(mix(self.seed ^ mix(stream)))
    }

    fn push(&mut self, kind: Kind, at: i64, entity: u32, aux: Day, ordinal: u8, signed: bool) {
        self.events.push(Ev {
            deliver: at,
            at,
            entity,
            aux,
            uid: 0,
            kind,
            ordinal,
            signed,
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

    // ---------------------------------------------------------------- documents

    fn doc_channel(&self, rng: &mut ChaCha8Rng, level: Level, working: bool) -> u8 {
        let u = rng.random::<f64>();
        let electronic_only = !working;
        match level {
            Level::Province => match u {
                u if u < 0.35 => NATIONAL_AXIS,
                u if u < 0.85 => PROVINCIAL_AXIS,
                u if u < 0.92 || electronic_only => EMAIL,
                _ => PAPER,
            },
            Level::District => match u {
                u if u < 0.05 => NATIONAL_AXIS,
                u if u < 0.76 => PROVINCIAL_AXIS,
                u if u < 0.84 || electronic_only => EMAIL,
                _ => PAPER,
            },
            Level::Commune => match u {
                u if u < 0.75 => PROVINCIAL_AXIS,
                u if u < 0.85 || electronic_only => EMAIL,
                _ => PAPER,
            },
        }
    }

    fn doc_time(&self, rng: &mut ChaCha8Rng, day: Day, channel: u8) -> i64 {
        let electronic = channel != PAPER;
        if electronic && (!self.cal.is_working(day) || rng.random_bool(0.06)) {
            // Documents on the axes arrive at any hour.
            instant(day, rng.random_range(0..86_400))
        } else {
            instant(day, office_second(rng))
        }
    }

    fn add_doc(&mut self, unit: u16, incoming: bool, channel: u8, first_at: i64) -> u32 {
        let index = self.docs.len() as u32;
        self.docs.push(DocPlan {
            first_at,
            unit,
            incoming,
            channel,
            seq: 0,
        });
        index
    }

    fn maybe_completed(&mut self, rng: &mut ChaCha8Rng, doc: u32, received_at: i64) {
        if rng.random_bool(0.08) {
            let day = self
                .cal
                .add_working(local_day(received_at), geometric(rng, 5.0, 40));
            if let Some(at) = self.time_after(rng, day, received_at) {
                self.push(Kind::DocumentCompleted, at, doc, 0, 0, false);
            }
        }
    }

    fn incoming_doc(&mut self, rng: &mut ChaCha8Rng, level: Level, unit: u16, day: Day) {
        let channel = self.doc_channel(rng, level, self.cal.is_working(day));
        let at = self.doc_time(rng, day, channel);
        let doc = self.add_doc(unit, true, channel, at);
        self.push(Kind::DocumentReceived, at, doc, 0, 0, false);
        self.maybe_completed(rng, doc, at);
    }

    fn outgoing_doc(
        &mut self,
        rng: &mut ChaCha8Rng,
        unit: u16,
        day: Day,
        signed: bool,
    ) -> (u32, i64) {
        let channel = if signed {
            match rng.random::<f64>() {
                u if u < 0.25 => NATIONAL_AXIS,
                u if u < 0.85 => PROVINCIAL_AXIS,
                _ => EMAIL,
            }
        } else if rng.random_bool(0.8) {
            PAPER
        } else {
            EMAIL
        };
        let at = instant(day, office_second(rng));
        let doc = self.add_doc(unit, false, channel, at);
        self.push(Kind::DocumentIssued, at, doc, 0, 0, signed);
        (doc, at)
    }

    fn documents(&mut self) -> Result<(), ScenarioError> {
        let (from, to) = (
            clock::day_of(DOCUMENTS_WINDOW.from),
            clock::day_of(DOCUMENTS_WINDOW.to),
        );
        let (before_from, after_to) = (
            clock::day_of(ymd(2020, 12, 24)),
            clock::day_of(ymd(2021, 12, 31)),
        );
        for (level, incoming, outgoing, signed) in DOCUMENT_TARGETS {
            let mut rng = self.rng(100 + level_slot(level) as u64);
            let of_level = || {
                self.units
                    .iter()
                    .enumerate()
                    .filter(move |(_, u)| u.level == level)
            };
            let receivers = Picker::new(of_level().map(|(i, u)| (i as u16, u.weight)));
            let issuers = Picker::new(of_level().map(|(i, u)| {
                (
                    i as u16,
                    if u.code == "26" {
                        u.weight * 1.8
                    } else {
                        u.weight
                    },
                )
            }));
            let no_unit = || ScenarioError::Plan(format!("no unit at level {level}"));
            let mass = self.doc_days.mass(from, to);
            let before = self.doc_days.mass(before_from, from - 1) / mass;
            let after = self.doc_days.mass(to + 1, after_to) / mass;

            // Incoming, in the window.
            for i in 0..incoming {
                let unit = receivers.pick(&mut rng).ok_or_else(no_unit)?;
                if i < 8 {
                    // New Year's night on the national axis: 1 January locally,
                    // still 31 December in UTC.
                    let at = instant(from, rng.random_range(0..7 * 3600));
                    let channel = if level == Level::Province {
                        NATIONAL_AXIS
                    } else {
                        EMAIL
                    };
                    let doc = self.add_doc(unit, true, channel, at);
                    self.push(Kind::DocumentReceived, at, doc, 0, 0, false);
                    continue;
                }
                if i < 13 {
                    // Registered in the last days of 2020 and again in January.
                    let first = self
                        .pick_working(&mut rng, clock::day_of(ymd(2020, 12, 28)), from - 1)
                        .unwrap_or(from - 1);
                    let second = self
                        .pick_working(&mut rng, from, from + 7)
                        .unwrap_or(from + 3);
                    let at = instant(first, office_second(&mut rng));
                    let doc = self.add_doc(unit, true, PROVINCIAL_AXIS, at);
                    self.push(Kind::DocumentReceived, at, doc, 0, 0, false);
                    let again = instant(second, office_second(&mut rng));
                    self.push(Kind::DocumentReceived, again, doc, 0, 1, false);
                    continue;
                }
                let day = self.doc_days.sample(&mut rng, from, to).unwrap_or(from);
                let before_len = self.events.len();
                self.incoming_doc(&mut rng, level, unit, day);
                if rng.random_bool(0.002) {
                    // Registered twice (the second registration a few days later).
                    let again = self.cal.add_working(day, rng.random_range(1..4));
                    if let Some(first) = self.events.get(before_len).copied() {
                        if again <= to {
                            let at = instant(again, office_second(&mut rng));
                            self.push(Kind::DocumentReceived, at, first.entity, 0, 1, false);
                        }
                    }
                }
            }

            // Outgoing, in the window: exactly `signed` of them signed.
            let unsigned_total = (outgoing - signed) as usize;
            let mut unsigned = vec![false; outgoing as usize];
            for flag in unsigned.iter_mut().take(10) {
                *flag = true;
            }
            for i in rand::seq::index::sample(
                &mut rng,
                outgoing as usize - 10,
                unsigned_total.saturating_sub(10),
            ) {
                unsigned[i + 10] = true;
            }
            for (i, is_unsigned) in unsigned.iter().enumerate() {
                let unit = issuers.pick(&mut rng).ok_or_else(no_unit)?;
                if i < 5 {
                    // Signed and issued in December 2020, issued again unsigned in
                    // January: outgoing in 2021, but not signed in 2021.
                    let first = self
                        .pick_working(&mut rng, clock::day_of(ymd(2020, 12, 28)), from - 1)
                        .unwrap_or(from - 1);
                    let (doc, _) = self.outgoing_doc(&mut rng, unit, first, true);
                    let second = self
                        .pick_working(&mut rng, from, from + 7)
                        .unwrap_or(from + 3);
                    let at = instant(second, office_second(&mut rng));
                    self.push(Kind::DocumentIssued, at, doc, 0, 1, false);
                    continue;
                }
                if i < 10 {
                    // Issued unsigned in December, signed after the cut-off.
                    let first = self.pick_working(&mut rng, to - 7, to).unwrap_or(to);
                    let (doc, _) = self.outgoing_doc(&mut rng, unit, first, false);
                    let second = self
                        .pick_working(&mut rng, to + 1, to + 9)
                        .unwrap_or(to + 1);
                    let at = instant(second, office_second(&mut rng));
                    self.push(Kind::DocumentIssued, at, doc, 0, 1, true);
                    continue;
                }
                let day = self.doc_days.sample(&mut rng, from, to).unwrap_or(from);
                let signed = !is_unsigned;
                let variant = rng.random::<f64>();
                let again = self.cal.add_working(day, rng.random_range(1..4));
                if signed && variant < 0.003 && again <= to {
                    // First issued on paper, then the digitally signed version.
                    let (doc, _) = self.outgoing_doc(&mut rng, unit, day, false);
                    let at = instant(again, office_second(&mut rng));
                    self.push(Kind::DocumentIssued, at, doc, 0, 1, true);
                } else if signed && variant < 0.004 && again <= to {
                    // Issued twice (a corrected version).
                    let (doc, _) = self.outgoing_doc(&mut rng, unit, day, true);
                    let at = instant(again, office_second(&mut rng));
                    self.push(Kind::DocumentIssued, at, doc, 0, 1, true);
                } else {
                    self.outgoing_doc(&mut rng, unit, day, signed);
                }
            }

            // The weeks around the window.
            let signed_share = f64::from(signed) / f64::from(outgoing);
            for (lo, hi, share) in [(before_from, from - 1, before), (to + 1, after_to, after)] {
                let n_in = (f64::from(incoming) * share).round() as u32;
                let n_out = (f64::from(outgoing) * share).round() as u32;
                for _ in 0..n_in {
                    let unit = receivers.pick(&mut rng).ok_or_else(no_unit)?;
                    let day = self.doc_days.sample(&mut rng, lo, hi).unwrap_or(lo);
                    self.incoming_doc(&mut rng, level, unit, day);
                }
                for _ in 0..n_out {
                    let unit = issuers.pick(&mut rng).ok_or_else(no_unit)?;
                    let day = self.doc_days.sample(&mut rng, lo, hi).unwrap_or(lo);
                    let signed = rng.random_bool(signed_share);
                    self.outgoing_doc(&mut rng, unit, day, signed);
                }
            }
            // The night after the cut-off: 16 December locally, 15 December in UTC.
            for _ in 0..8 {
                let unit = receivers.pick(&mut rng).ok_or_else(no_unit)?;
                let at = instant(to + 1, rng.random_range(0..7 * 3600));
                let doc = self.add_doc(unit, true, EMAIL, at);
                self.push(Kind::DocumentReceived, at, doc, 0, 0, false);
            }
        }
        self.number_documents();
        Ok(())
    }

    /// Numbers documents per unit, direction and year in time order.
    fn number_documents(&mut self) {
        let mut order: Vec<u32> = (0..self.docs.len() as u32).collect();
        let docs = &self.docs;
        order.sort_unstable_by_key(|i| {
            let d = &docs[*i as usize];
            (d.unit, d.incoming, d.first_at, *i)
        });
        let mut last = (u16::MAX, false, 0);
        let mut seq = 0u32;
        for i in order {
            let d = &mut self.docs[i as usize];
            let key = (d.unit, d.incoming, clock::year_of(local_day(d.first_at)));
            if key != last {
                last = key;
                seq = 0;
            }
            seq += 1;
            d.seq = seq;
        }
    }

    // ----------------------------------------------------------------- dossiers

    fn group(&self, spec: &'static GroupSpec) -> Result<Group, ScenarioError> {
        let mut entries = [Vec::new(), Vec::new(), Vec::new()];
        for (tier, share) in spec.tiers {
            let total: f64 = PROCEDURES
                .iter()
                .filter(|p| p.tier == *tier)
                .map(|p| p.weight)
                .sum();
            let level = match tier {
                Tier::Center => Level::Province,
                Tier::District => Level::District,
                Tier::Commune => Level::Commune,
            };
            for (i, p) in PROCEDURES
                .iter()
                .enumerate()
                .filter(|(_, p)| p.tier == *tier)
            {
                let base = share * p.weight / total;
                let days = f64::from(p.days);
                entries[0].push(((level, i as u16), base));
                entries[1].push(((level, i as u16), base * (days + 1.0)));
                entries[2].push(((level, i as u16), base * (days + 3.0)));
            }
        }
        let [plain, duration, long] = entries;
        let picker_of = |level: Level| {
            Picker::new(
                self.units
                    .iter()
                    .enumerate()
                    .filter(|(_, u)| {
                        u.level == level && (level != Level::Province || u.code == SERVICE_CENTER)
                    })
                    .map(|(i, u)| (i as u16, u.weight)),
            )
        };
        let units = [
            picker_of(Level::Province),
            picker_of(Level::District),
            picker_of(Level::Commune),
        ];
        if units[0].items.is_empty() {
            return Err(ScenarioError::MissingUnit(SERVICE_CENTER.into()));
        }
        Ok(Group {
            spec,
            from: clock::day_of(ONESTOP_WINDOW.from),
            to: clock::day_of(spec.to),
            procedures: [Picker::new(plain), Picker::new(duration), Picker::new(long)],
            units,
        })
    }

    /// The last receipt day (at 9:00) whose due day is at most `max_due`.
    fn latest_receipt(&self, days: u32, max_due: Day) -> Day {
        let (mut lo, mut hi) = (max_due - 400, max_due);
        while lo < hi {
            let mid = lo + (hi - lo + 1) / 2;
            if self.cal.due_day(instant(mid, 9 * 3600), days) <= max_due {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        lo
    }

    /// The first receipt day (at 9:00) whose due day is at least `min_due`.
    fn earliest_receipt(&self, days: u32, min_due: Day) -> Day {
        let (mut lo, mut hi) = (min_due - 400, min_due);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.cal.due_day(instant(mid, 9 * 3600), days) >= min_due {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        lo
    }

    /// A receipt time on `day`: office hours, or (online only) any hour.
    fn receipt_time(&self, rng: &mut ChaCha8Rng, day: Day) -> (i64, bool) {
        if !self.cal.is_working(day) {
            (instant(day, rng.random_range(6 * 3600..23 * 3600)), true)
        } else if rng.random_bool(0.03) {
            let second = if rng.random_bool(0.5) {
                rng.random_range(17 * 3600..86_400)
            } else {
                rng.random_range(0..7 * 3600 + 1800)
            };
            (instant(day, second), true)
        } else {
            (instant(day, office_second(rng)), false)
        }
    }

    fn returned(
        &self,
        rng: &mut ChaCha8Rng,
        events: &mut Vec<(Kind, i64, Day, u8)>,
        resolved_at: i64,
    ) {
        if rng.random_bool(0.004) {
            let day = self
                .cal
                .add_working(local_day(resolved_at), rng.random_range(1..10));
            if let Some(at) = self.time_after(rng, day, resolved_at) {
                events.push((Kind::Resolved, at, 0, 1));
            }
        }
        if rng.random_bool(0.88) {
            let day = self
                .cal
                .add_working(local_day(resolved_at), geometric(rng, 1.6, 10) - 1);
            if let Some(at) = self.time_after(rng, day, resolved_at) {
                events.push((Kind::Returned, at, 0, 0));
            }
        }
    }

    #[allow(clippy::too_many_lines)]
    fn try_dossier(
        &self,
        g: &Group,
        cohort: Cohort,
        fate: Fate,
        boundary: Option<Day>,
        rng: &mut ChaCha8Rng,
    ) -> Option<Draft> {
        let cal = self.cal;
        let mode = match (cohort, fate) {
            (Cohort::CarriedOver, _) => Mode::Long,
            (_, Fate::PendingInTime | Fate::Paused) => Mode::Duration,
            _ => Mode::Plain,
        };
        let (level, procedure) = g.procedure(rng, mode)?;
        let p: &Procedure = PROCEDURES.get(usize::from(procedure))?;
        let days = u32::from(p.days);
        let (f, t) = (g.from, g.to);
        let first_working = cal.next_working(f - 1);
        let last_working = if cal.is_working(t) {
            t
        } else {
            cal.previous_working(t)
        };
        let carried = cohort == Cohort::CarriedOver;
        let (lo, hi) = match cohort {
            Cohort::Received => match fate {
                Fate::ResolvedOnTime | Fate::PendingOverdue => (f, self.latest_receipt(days, t)),
                Fate::ResolvedLate => (
                    f,
                    self.latest_receipt(days, cal.previous_working(last_working)),
                ),
                Fate::PendingInTime => (self.earliest_receipt(days, t + 1) - 1, t),
                _ => (f, t),
            },
            Cohort::CarriedOver => {
                let lo = match fate {
                    Fate::ResolvedEarly => {
                        self.earliest_receipt(days, cal.next_working(first_working))
                    }
                    Fate::ResolvedOnTime => self.earliest_receipt(days, first_working),
                    Fate::ResolvedLate => self.earliest_receipt(days, f - 30),
                    _ => f - 130,
                };
                (lo.max(f - 130), f - 1)
            }
            Cohort::Closed2020 => (f - 60, f - 1),
            Cohort::After => (t + 1, clock::day_of(LAST_RECEIPT)),
        };
        let (lo, hi) = match boundary {
            Some(day) => (day, day),
            None => (lo.max(f - 130), hi.min(clock::day_of(LAST_RECEIPT))),
        };
        if hi < lo {
            return None;
        }
        let (received_at, forced_online) = match boundary {
            Some(day) => (instant(day, rng.random_range(60..7 * 3600)), true),
            None => {
                let day = self.dossier_days.sample(rng, lo, hi)?;
                self.receipt_time(rng, day)
            }
        };
        if forced_online && p.service_level < 3 {
            return None;
        }
        let received_day = local_day(received_at);
        let unit = g.unit(rng, level)?;
        let mut due = cal.due_day(received_at, days);
        let mut events = vec![(Kind::Received, received_at, due, 0u8)];
        let mut last = received_at;
        let counted = matches!(cohort, Cohort::Received | Cohort::CarriedOver);

        // Supplements completed before the end of the window.
        let cycles = if fate != Fate::Closed
            && fate != Fate::Paused
            && rng.random_bool(g.spec.supplement_share)
        {
            if rng.random_bool(0.12) {
                2
            } else {
                1
            }
        } else {
            0
        };
        for k in 0..cycles {
            let request_day = self.pick_working(rng, local_day(last), due.max(local_day(last)))?;
            let requested_at = self.time_after(rng, request_day, last)?;
            let supplement_day = cal.add_working(request_day, geometric(rng, 4.0, 25));
            let supplied_at = self.time_after(rng, supplement_day, requested_at)?;
            if counted && local_day(supplied_at) > t {
                return None;
            }
            due = cal.due_day(supplied_at, days);
            events.push((Kind::SupplementRequested, requested_at, 0, k));
            events.push((Kind::SupplementReceived, supplied_at, due, k));
            last = supplied_at;
        }
        let last_day = local_day(last);
        let not_before = if carried { f } else { last_day };

        match (cohort, fate) {
            (Cohort::Received | Cohort::CarriedOver, Fate::ResolvedEarly) => {
                let day = self.pick_working(rng, last_day.max(not_before), (due - 1).min(t))?;
                let at = self.time_after(rng, day, last)?;
                events.push((Kind::Resolved, at, 0, 0));
                self.returned(rng, &mut events, at);
            }
            (Cohort::Received | Cohort::CarriedOver, Fate::ResolvedOnTime) => {
                if due > t || due < last_day.max(not_before) {
                    return None;
                }
                let at = self.time_after(rng, due, last)?;
                events.push((Kind::Resolved, at, 0, 0));
                self.returned(rng, &mut events, at);
            }
            (Cohort::Received | Cohort::CarriedOver, Fate::ResolvedLate) => {
                let mut day = cal.add_working(due, geometric(rng, 3.0, 25));
                if carried && day < f {
                    day = cal.add_working(first_working, rng.random_range(0..10));
                }
                if day > t || day <= due || day < last_day {
                    return None;
                }
                let at = self.time_after(rng, day, last)?;
                events.push((Kind::Resolved, at, 0, 0));
                self.returned(rng, &mut events, at);
            }
            (Cohort::Received | Cohort::CarriedOver, Fate::PendingOverdue) => {
                if due > t {
                    return None;
                }
                if rng.random_bool(0.8) {
                    let day = self.pick_working(rng, t + 1, t + 45)?;
                    let at = self.time_after(rng, day, last)?;
                    events.push((Kind::Resolved, at, 0, 0));
                    self.returned(rng, &mut events, at);
                }
            }
            (Cohort::Received | Cohort::CarriedOver, Fate::PendingInTime) => {
                if due <= t {
                    return None;
                }
                if rng.random_bool(0.85) {
                    let day =
                        self.pick_working(rng, (t + 1).max(last_day), cal.add_working(due, 2))?;
                    let at = self.time_after(rng, day, last)?;
                    events.push((Kind::Resolved, at, 0, 0));
                    self.returned(rng, &mut events, at);
                }
            }
            (Cohort::Received | Cohort::CarriedOver, Fate::Paused) => {
                let request_day =
                    self.pick_working(rng, last_day, t.min(due + 10).max(last_day))?;
                if request_day > t {
                    return None;
                }
                let requested_at = self.time_after(rng, request_day, last)?;
                events.push((Kind::SupplementRequested, requested_at, 0, 0));
                let u = rng.random::<f64>();
                if u < 0.55 {
                    // The supplement comes after the end of the window; a few of
                    // them online in the first hours after midnight.
                    let supplied_at = if u < 0.06 {
                        instant(t + 1, rng.random_range(60..7 * 3600))
                    } else {
                        let day = cal.add_working(t.max(request_day), geometric(rng, 6.0, 30));
                        self.time_after(rng, day, requested_at)?
                    };
                    let new_due = cal.due_day(supplied_at, days);
                    events.push((Kind::SupplementReceived, supplied_at, new_due, 0));
                    if rng.random_bool(0.8) {
                        let day = self.pick_working(rng, local_day(supplied_at), new_due)?;
                        let at = self.time_after(rng, day, supplied_at)?;
                        events.push((Kind::Resolved, at, 0, 0));
                        self.returned(rng, &mut events, at);
                    }
                } else if u < 0.85 {
                    // Never supplemented.
                } else {
                    let day = self.pick_working(rng, t + 1, t + 40)?;
                    let at = self.time_after(rng, day, requested_at)?;
                    events.push((Kind::Withdrawn, at, 0, 0));
                }
            }
            (Cohort::Received | Cohort::CarriedOver, Fate::Closed) => {
                let start = received_day.max(not_before);
                if rng.random_bool(0.6) {
                    let day = self.pick_working(rng, start, cal.add_working(start, 3).min(t))?;
                    let at = self.time_after(rng, day, last)?;
                    events.push((Kind::Refused, at, 0, 0));
                } else {
                    let mut after = last;
                    let mut from_day = start;
                    if rng.random_bool(0.5) {
                        let request_day =
                            self.pick_working(rng, received_day, due.min(t).max(received_day))?;
                        let requested_at = self.time_after(rng, request_day, last)?;
                        events.push((Kind::SupplementRequested, requested_at, 0, 0));
                        after = requested_at;
                        from_day = from_day.max(request_day);
                    }
                    let day =
                        self.pick_working(rng, from_day, cal.add_working(from_day, 25).min(t))?;
                    let at = self.time_after(rng, day, after)?;
                    events.push((Kind::Withdrawn, at, 0, 0));
                }
            }
            (Cohort::Closed2020, _) => {
                let u = rng.random::<f64>();
                let end = f - 1;
                if u < 0.88 {
                    let hi = cal.add_working(due, 3).min(end);
                    let day = self.pick_working(rng, last_day, hi)?;
                    let at = self.time_after(rng, day, last)?;
                    events.push((Kind::Resolved, at, 0, 0));
                    self.returned(rng, &mut events, at);
                } else {
                    let kind = if u < 0.96 {
                        Kind::Refused
                    } else {
                        Kind::Withdrawn
                    };
                    let day =
                        self.pick_working(rng, last_day, cal.add_working(last_day, 3).min(end))?;
                    let at = self.time_after(rng, day, last)?;
                    events.push((kind, at, 0, 0));
                }
            }
            (Cohort::After, _) => {
                let u = rng.random::<f64>();
                if u < 0.015 {
                    let day = self.pick_working(rng, last_day, cal.add_working(last_day, 3))?;
                    let at = self.time_after(rng, day, last)?;
                    events.push((Kind::Refused, at, 0, 0));
                } else if u < 0.03 {
                    // Still open at the end of the scenario.
                } else {
                    let day = if u < 0.07 {
                        cal.add_working(due, geometric(rng, 3.0, 20))
                    } else {
                        self.pick_working(rng, last_day, due.max(last_day))?
                    };
                    let at = self.time_after(rng, day, last)?;
                    events.push((Kind::Resolved, at, 0, 0));
                    self.returned(rng, &mut events, at);
                }
            }
            (Cohort::Received | Cohort::CarriedOver, Fate::Free) => {}
        }
        Some(Draft {
            unit,
            procedure,
            level,
            received_at,
            forced_online,
            events,
        })
    }

    fn add_dossier(
        &mut self,
        g: &Group,
        cohort: Cohort,
        fate: Fate,
        boundary: Option<Day>,
        rng: &mut ChaCha8Rng,
    ) -> Result<(), ScenarioError> {
        const ATTEMPTS: u32 = 2_000;
        for _ in 0..ATTEMPTS {
            let Some(draft) = self.try_dossier(g, cohort, fate, boundary, rng) else {
                continue;
            };
            let index = self.dossiers.len() as u32;
            self.dossiers.push(DossierPlan {
                received_at: draft.received_at,
                unit: draft.unit,
                procedure: draft.procedure,
                seq: 0,
                channel: DIRECT,
                applicant: 0,
            });
            self.meta.push(DossierMeta {
                cohort,
                level: draft.level,
                forced_online: draft.forced_online,
            });
            let resolved_at = draft
                .events
                .iter()
                .find(|e| e.0 == Kind::Resolved && e.3 == 0)
                .map(|e| e.1);
            // Late synchronisation: the receipt reaches the pipeline after the result.
            let late_sync = resolved_at
                .filter(|_| rng.random_bool(0.01))
                .map(|at| at + rng.random_range(3_600..3 * 86_400));
            for (kind, at, aux, ordinal) in draft.events {
                self.push(kind, at, index, aux, ordinal, false);
                if kind == Kind::Received {
                    if let (Some(deliver), Some(ev)) = (late_sync, self.events.last_mut()) {
                        ev.deliver = deliver;
                        self.composition.received_after_resolved += 1;
                    }
                }
            }
            let key = format!("{}/{}", cohort.as_str(), fate.as_str());
            *self
                .composition
                .dossiers
                .entry(g.spec.name.to_owned())
                .or_default()
                .entry(key)
                .or_default() += 1;
            return Ok(());
        }
        Err(ScenarioError::Plan(format!(
            "no dossier of fate {fate:?} ({cohort:?}, {}) after {ATTEMPTS} attempts",
            g.spec.name
        )))
    }

    fn dossier_group(&mut self, spec: &'static GroupSpec, index: u8) -> Result<(), ScenarioError> {
        let g = self.group(spec)?;
        let mut rng = self.rng(200 + u64::from(index));
        for (fate, (received, carried)) in FATES
            .iter()
            .zip(spec.received.iter().zip(spec.carried_over.iter()))
        {
            for i in 0..*received {
                // A few receipts online in the night of New Year's Day (still
                // 31 December in UTC).
                let boundary = (*fate == Fate::ResolvedEarly && i < 12).then_some(g.from);
                self.add_dossier(&g, Cohort::Received, *fate, boundary, &mut rng)?;
            }
            for _ in 0..*carried {
                self.add_dossier(&g, Cohort::CarriedOver, *fate, None, &mut rng)?;
            }
        }
        for _ in 0..spec.closed_2020 {
            self.add_dossier(&g, Cohort::Closed2020, Fate::Free, None, &mut rng)?;
        }
        // After the window, at the same pace.
        let received: u32 = spec.received.iter().sum();
        let pace = f64::from(received) / self.dossier_days.mass(g.from, g.to);
        let after = (pace
            * self
                .dossier_days
                .mass(g.to + 1, clock::day_of(LAST_RECEIPT)))
        .round() as u32;
        for i in 0..after {
            // A few online in the night after the cut-off (the cut-off day in UTC).
            let boundary = (i < 12).then_some(g.to + 1);
            self.add_dossier(&g, Cohort::After, Fate::Free, boundary, &mut rng)?;
        }
        Ok(())
    }

    /// Channels: exactly [`ONLINE_SHARE`] of the dossiers received in
    /// [`ONESTOP_WINDOW`] are online (more at the Center, fewer in communes);
    /// receipts on days off or outside office hours are online anyway.
    fn channels(&mut self) -> Result<(), ScenarioError> {
        let mut rng = self.rng(300);
        let (f, t) = (
            clock::day_of(ONESTOP_WINDOW.from),
            clock::day_of(ONESTOP_WINDOW.to),
        );
        let in_window: Vec<bool> = self
            .dossiers
            .iter()
            .zip(&self.meta)
            .map(|(d, m)| {
                let day = local_day(d.received_at);
                m.cohort == Cohort::Received && (f..=t).contains(&day)
            })
            .collect();
        let count = |level: Level| {
            in_window
                .iter()
                .zip(&self.meta)
                .filter(|(w, m)| **w && m.level == level)
                .count() as f64
        };
        let (n_p, n_d, n_c) = (
            count(Level::Province),
            count(Level::District),
            count(Level::Commune),
        );
        let total = (ONLINE_SHARE * (n_p + n_d + n_c)).round();
        let province = (0.13 * n_p).round();
        let rest = total - province;
        let commune = (rest * n_c / (n_c + 1.4 * n_d)).round();
        let quotas = [province, rest - commune, commune];
        for level in Level::ALL {
            let quota = quotas[level_slot(level)] as usize;
            let mut forced = 0usize;
            let mut eligible = Vec::new();
            for (i, (w, m)) in in_window.iter().zip(&self.meta).enumerate() {
                if !*w || m.level != level {
                    continue;
                }
                if m.forced_online {
                    forced += 1;
                    self.dossiers[i].channel = ONLINE;
                } else if PROCEDURES
                    .get(usize::from(self.dossiers[i].procedure))
                    .is_some_and(|p| p.service_level >= 3)
                {
                    eligible.push(i);
                }
            }
            let wanted = quota.checked_sub(forced).ok_or_else(|| {
                ScenarioError::Plan(format!(
                    "{forced} dossiers at {level} level must be online, more than the quota of {quota}"
                ))
            })?;
            if wanted > eligible.len() {
                return Err(ScenarioError::Plan(format!(
                    "only {} dossiers at {level} level can be online, {wanted} needed",
                    eligible.len()
                )));
            }
            eligible.shuffle(&mut rng);
            for i in eligible.into_iter().take(wanted) {
                self.dossiers[i].channel = ONLINE;
            }
        }
        let outside_share = [0.13, 0.08, 0.055];
        for (i, (w, m)) in in_window.iter().zip(&self.meta).enumerate() {
            let d = &mut self.dossiers[i];
            let p = PROCEDURES.get(usize::from(d.procedure));
            if !*w
                && (m.forced_online
                    || (p.is_some_and(|p| p.service_level >= 3)
                        && rng.random_bool(outside_share[level_slot(m.level)])))
            {
                d.channel = ONLINE;
            }
            if d.channel != ONLINE && rng.random_bool(0.015) {
                d.channel = POSTAL;
            }
            let (business, organization) = p.map_or((0.0, 0.0), |p| (p.business, p.organization));
            let u = rng.random::<f64>();
            d.applicant = if u < business {
                1
            } else if u < business + organization {
                2
            } else {
                0
            };
            *self
                .composition
                .dossier_channels
                .entry(DOSSIER_CHANNELS[usize::from(d.channel)].to_owned())
                .or_default() += 1;
        }
        Ok(())
    }

    /// Numbers dossiers per unit and day of receipt, in receipt order.
    fn number_dossiers(&mut self) {
        let mut order: Vec<u32> = (0..self.dossiers.len() as u32).collect();
        let dossiers = &self.dossiers;
        order.sort_unstable_by_key(|i| {
            let d = &dossiers[*i as usize];
            (d.unit, d.received_at, *i)
        });
        let mut last = (u16::MAX, 0);
        let mut seq = 0u16;
        for i in order {
            let d = &mut self.dossiers[i as usize];
            let key = (d.unit, local_day(d.received_at));
            if key != last {
                last = key;
                seq = 0;
            }
            seq = seq.saturating_add(1);
            d.seq = seq;
        }
    }

    // ----------------------------------------------------------------- delivery

    /// The natural order: by arrival, with late synchronisations, a few units
    /// offline for a week, and resends.
    fn deliver(&mut self) {
        let mut rng = self.rng(400);
        for ev in &mut self.events {
            if ev.deliver == ev.at {
                let lag = if ev.kind.is_document() { 90 } else { 300 };
                ev.deliver = ev.at + rng.random_range(0..lag);
            }
            if rng.random_bool(0.012) {
                ev.deliver = ev.at + rng.random_range(3_600..14 * 86_400);
            }
        }
        // Five communes offline for a week each, synchronised on Sunday evening.
        let communes: Vec<u16> = self
            .units
            .iter()
            .enumerate()
            .filter(|(_, u)| u.level == Level::Commune)
            .map(|(i, _)| i as u16)
            .collect();
        let mut offline = Vec::new();
        for _ in 0..5 {
            if let Some(unit) = communes.get(rng.random_range(0..communes.len().max(1))) {
                let monday = clock::day_of(ymd(2021, 3, 1)) + 7 * rng.random_range(0..30);
                offline.push((*unit, monday));
            }
        }
        let docs = &self.docs;
        let dossiers = &self.dossiers;
        for ev in &mut self.events {
            let unit = if ev.kind.is_document() {
                docs.get(ev.entity as usize).map(|d| d.unit)
            } else {
                dossiers.get(ev.entity as usize).map(|d| d.unit)
            };
            let day = local_day(ev.at);
            for (u, monday) in &offline {
                if unit == Some(*u) && (*monday..*monday + 7).contains(&day) {
                    ev.deliver = instant(*monday + 6, 20 * 3600) + rng.random_range(0..4 * 3600);
                }
            }
        }
        for (i, ev) in self.events.iter_mut().enumerate() {
            ev.uid = i as u32;
        }
        let distinct = self.events.len();
        self.composition.distinct_events = distinct as u64;
        self.composition.delayed_events = self
            .events
            .iter()
            .filter(|e| e.deliver - e.at > 3_600)
            .count() as u64;
        for ev in self.events.iter().take(distinct) {
            *self
                .composition
                .events_by_type
                .entry(ev.kind.event_type().as_str().to_owned())
                .or_default() += 1;
        }
        // Resends: the same event again, in a later batch.
        for i in 0..distinct {
            if rng.random_bool(0.015) {
                let mut copy = self.events[i];
                copy.copy = 1;
                copy.deliver += rng.random_range(300..5 * 86_400);
                self.events.push(copy);
                if rng.random_bool(0.15) {
                    copy.copy = 2;
                    copy.deliver += rng.random_range(3_600..20 * 86_400);
                    self.events.push(copy);
                }
            }
        }
        self.composition.resent_copies = (self.events.len() - distinct) as u64;
        self.composition.events = self.events.len() as u64;
        self.events
            .sort_unstable_by_key(|e| (e.deliver, e.uid, e.copy));
    }

    fn document_composition(&mut self) {
        let (from, to) = (
            clock::day_of(DOCUMENTS_WINDOW.from),
            clock::day_of(DOCUMENTS_WINDOW.to),
        );
        for doc in &self.docs {
            let level = self
                .units
                .get(usize::from(doc.unit))
                .map_or(Level::Province, |u| u.level);
            let inside = (from..=to).contains(&local_day(doc.first_at));
            let key = match (doc.incoming, inside) {
                (true, true) => "incoming_first_in_window",
                (true, false) => "incoming_first_outside_window",
                (false, true) => "outgoing_first_in_window",
                (false, false) => "outgoing_first_outside_window",
            };
            *self
                .composition
                .documents
                .entry(level.as_str().to_owned())
                .or_default()
                .entry(key.to_owned())
                .or_default() += 1;
        }
    }
}

fn senders(units: &[UnitInfo]) -> [Vec<String>; 3] {
    let ministries = [
        "Văn phòng Chính phủ",
        "Bộ Thông tin và Truyền thông",
        "Bộ Nội vụ",
        "Bộ Tài chính",
        "Bộ Kế hoạch và Đầu tư",
        "Bộ Y tế",
        "Bộ Tài nguyên và Môi trường",
        "Bộ Giáo dục và Đào tạo",
        "Tỉnh ủy Vĩnh Phúc",
        "Ban Chỉ đạo phòng, chống dịch COVID-19 tỉnh",
    ];
    let agencies: Vec<String> = units
        .iter()
        .filter(|u| u.kind == "agency")
        .map(|u| u.name.clone())
        .collect();
    let committees: Vec<String> = units
        .iter()
        .filter(|u| u.level == Level::District)
        .map(|u| format!("Ủy ban nhân dân {}", u.name))
        .collect();
    let province = "Ủy ban nhân dân tỉnh Vĩnh Phúc".to_owned();
    let mut p: Vec<String> = ministries.iter().map(|s| (*s).to_owned()).collect();
    p.extend(agencies.iter().cloned());
    p.extend(committees.iter().take(4).cloned());
    p.push(province.clone());
    let mut d = vec![province.clone(), province.clone()];
    d.extend(agencies.iter().cloned());
    d.push("Tỉnh ủy Vĩnh Phúc".to_owned());
    let mut c = vec![province];
    c.extend(committees);
    c.extend(agencies.iter().take(8).cloned());
    [p, d, c]
}

fn push_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes());
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

fn push_number(out: &mut Vec<u8>, n: u64, width: usize) {
    let text = n.to_string();
    for _ in text.len()..width {
        out.push(b'0');
    }
    out.extend_from_slice(text.as_bytes());
}

/// One event of the stream.
#[derive(Debug, Clone, Copy)]
pub struct EventRef<'a> {
    scenario: &'a Report2021,
    ev: &'a Ev,
}

impl EventRef<'_> {
    pub fn event_type(&self) -> EventType {
        self.ev.kind.event_type()
    }

    pub fn system(&self) -> System {
        self.event_type().system()
    }

    /// Copies of one event (resends) share the identity.
    pub fn identity(&self) -> u32 {
        self.ev.uid
    }

    /// 0 for the first sending, 1.. for resends.
    pub fn copy(&self) -> u8 {
        self.ev.copy
    }

    /// occurred_at, seconds since the epoch.
    pub fn occurred_at(&self) -> i64 {
        self.ev.at
    }

    /// The event as JSON, appended to `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        self.scenario.write_event(self.ev, out);
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
        let calendar = Calendar::embedded()?;
        let catalogue = Catalogue::embedded()?;
        let units = units::units(&catalogue);
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
        let senders = senders(&units);
        Ok(Self {
            seed,
            calendar,
            units,
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

    /// Events in the stream, resends included.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    pub fn composition(&self) -> &Composition {
        &self.composition
    }

    /// The stream in natural order, or in exactly the opposite order.
    pub fn events(&self, reverse: bool) -> Box<dyn Iterator<Item = EventRef<'_>> + '_> {
        let wrap = move |ev| EventRef { scenario: self, ev };
        if reverse {
            Box::new(self.events.iter().rev().map(wrap))
        } else {
            Box::new(self.events.iter().map(wrap))
        }
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

    /// The reference figures' accumulator over the whole stream (as JSON).
    pub fn reference(&self, reverse: bool) -> Result<Reference, ReferenceError> {
        let mut reference = Reference::new()?;
        let mut buf = Vec::with_capacity(512);
        for event in self.events(reverse) {
            buf.clear();
            event.write_json(&mut buf);
            reference.add_json(&buf)?;
        }
        Ok(reference)
    }

    fn unit_code(&self, unit: u16) -> &str {
        self.units
            .get(usize::from(unit))
            .map_or("", |u| u.code.as_str())
    }

    fn write_entity_id(&self, ev: &Ev, out: &mut Vec<u8>) {
        if ev.kind.is_document() {
            if let Some(doc) = self.docs.get(ev.entity as usize) {
                out.extend_from_slice(self.unit_code(doc.unit).as_bytes());
                out.extend_from_slice(if doc.incoming { b"-VBDEN-" } else { b"-VBDI-" });
                push_number(out, clock::year_of(local_day(doc.first_at)) as u64, 4);
                out.push(b'-');
                push_number(out, u64::from(doc.seq), 6);
            }
        } else if let Some(dossier) = self.dossiers.get(ev.entity as usize) {
            out.extend_from_slice(self.unit_code(dossier.unit).as_bytes());
            out.push(b'-');
            clock::write_yymmdd(out, local_day(dossier.received_at));
            out.push(b'-');
            push_number(out, u64::from(dossier.seq), 4);
        }
    }

    fn write_due(out: &mut Vec<u8>, day: Day) {
        out.push(b'"');
        clock::write_date(out, day);
        out.extend_from_slice(b"T17:00:00+07:00\"");
    }

    fn write_event(&self, ev: &Ev, out: &mut Vec<u8>) {
        let kind = ev.kind;
        out.extend_from_slice(b"{\"event_id\":\"");
        self.write_entity_id(ev, out);
        out.push(b':');
        out.extend_from_slice(kind.tag().as_bytes());
        push_number(out, u64::from(ev.ordinal), 1);
        out.extend_from_slice(b"\",\"event_type\":\"");
        out.extend_from_slice(kind.event_type().as_str().as_bytes());
        out.extend_from_slice(b"\",\"occurred_at\":\"");
        clock::write_local_rfc3339(out, ev.at);
        out.extend_from_slice(b"\",\"unit_code\":\"");
        let unit = if kind.is_document() {
            self.docs.get(ev.entity as usize).map_or(0, |d| d.unit)
        } else {
            self.dossiers.get(ev.entity as usize).map_or(0, |d| d.unit)
        };
        out.extend_from_slice(self.unit_code(unit).as_bytes());
        out.extend_from_slice(b"\",\"schema_version\":1,\"payload\":{");
        if kind.is_document() {
            out.extend_from_slice(b"\"document_id\":\"");
            self.write_entity_id(ev, out);
            out.push(b'"');
            let h = mix(self.seed ^ (u64::from(ev.entity) << 20) ^ 0xd0c);
            let doc = self.docs.get(ev.entity as usize);
            let channel = doc.map_or(PAPER, |d| d.channel);
            match kind {
                Kind::DocumentReceived => {
                    let level = self
                        .units
                        .get(usize::from(unit))
                        .map_or(Level::Province, |u| u.level);
                    let senders = &self.senders[level_slot(level)];
                    if let Some(sender) = senders.get((h >> 24) as usize % senders.len().max(1)) {
                        out.extend_from_slice(b",\"sender\":");
                        push_json_str(out, sender);
                    }
                    out.extend_from_slice(b",\"channel\":\"");
                    out.extend_from_slice(DOC_CHANNELS[usize::from(channel)].as_bytes());
                    out.extend_from_slice(b"\",\"priority\":");
                    let priority = match h % 100 {
                        0..70 => 0,
                        70..90 => 1,
                        90..98 => 2,
                        _ => 3,
                    };
                    push_number(out, priority, 1);
                    if (h >> 8) % 100 < 40 {
                        let due = self
                            .calendar
                            .add_working(local_day(ev.at), 5 + ((h >> 16) % 11) as u32);
                        out.extend_from_slice(b",\"due_at\":");
                        Self::write_due(out, due);
                    }
                }
                Kind::DocumentIssued => {
                    let personal = ev.signed && (h >> 32) % 20 != 0;
                    out.extend_from_slice(if ev.signed {
                        b",\"signed\":true"
                    } else {
                        b",\"signed\":false"
                    });
                    out.extend_from_slice(b",\"signature\":{\"personal\":");
                    out.extend_from_slice(if personal { b"true" } else { b"false" });
                    out.extend_from_slice(b",\"organization\":");
                    out.extend_from_slice(if ev.signed { b"true" } else { b"false" });
                    out.extend_from_slice(b"},\"channel\":\"");
                    let channel = if !ev.signed && channel != EMAIL {
                        PAPER
                    } else {
                        channel
                    };
                    out.extend_from_slice(DOC_CHANNELS[usize::from(channel)].as_bytes());
                    out.push(b'"');
                }
                _ => {}
            }
        } else {
            out.extend_from_slice(b"\"dossier_id\":\"");
            self.write_entity_id(ev, out);
            out.push(b'"');
            match kind {
                Kind::Received => {
                    let dossier = self.dossiers.get(ev.entity as usize);
                    let procedure = dossier.and_then(|d| PROCEDURES.get(usize::from(d.procedure)));
                    if let (Some(d), Some(p)) = (dossier, procedure) {
                        out.extend_from_slice(b",\"procedure_code\":\"");
                        out.extend_from_slice(p.code.as_bytes());
                        out.extend_from_slice(b"\",\"field_code\":\"");
                        out.extend_from_slice(p.field.as_bytes());
                        out.extend_from_slice(b"\",\"channel\":\"");
                        out.extend_from_slice(DOSSIER_CHANNELS[usize::from(d.channel)].as_bytes());
                        out.extend_from_slice(b"\",\"service_level\":");
                        push_number(out, u64::from(p.service_level), 1);
                        out.extend_from_slice(b",\"applicant_type\":\"");
                        out.extend_from_slice(APPLICANTS[usize::from(d.applicant)].as_bytes());
                        out.push(b'"');
                    }
                    out.extend_from_slice(b",\"due_at\":");
                    Self::write_due(out, ev.aux);
                }
                Kind::SupplementReceived => {
                    out.extend_from_slice(b",\"due_at\":");
                    Self::write_due(out, ev.aux);
                }
                Kind::Refused => {
                    out.extend_from_slice(b",\"reason\":");
                    push_json_str(out, "Hồ sơ không đủ điều kiện giải quyết theo quy định");
                }
                Kind::Withdrawn => {
                    out.extend_from_slice(b",\"reason\":");
                    push_json_str(out, "Người nộp hồ sơ có đơn xin rút hồ sơ");
                }
                _ => {}
            }
        }
        out.extend_from_slice(b"}}");
    }
}

/// Request bodies over the stream (see [`Report2021::batches`]).
#[derive(Debug)]
pub struct Batches {
    scenario: Arc<Report2021>,
    reverse: bool,
    next: usize,
    batcher: Batcher<u32>,
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
            let len = self.scenario.events.len();
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
            let scenario = &self.scenario;
            if let Some(ev) = scenario.events.get(index) {
                let full = self
                    .batcher
                    .push(ev.kind.event_type().system(), ev.uid, |out| {
                        scenario.write_event(ev, out);
                    });
                self.ready.extend(full);
            }
        }
    }
}
