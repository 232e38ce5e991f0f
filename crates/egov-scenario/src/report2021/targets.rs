//! The report's figures as targets: the windows, the documents per level,
//! and the dossiers of each group by cohort and fate.

use crate::clock::ymd;
use crate::procedures::Tier;
use chrono::NaiveDate;
use egov_model::Level;
use serde::Serialize;

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
pub(super) const DOCUMENT_TARGETS: [(Level, u32, u32, u32); 3] = [
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

pub(super) const FATES: [Fate; 7] = [
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

pub(super) struct GroupSpec {
    pub(super) name: &'static str,
    pub(super) tiers: &'static [(Tier, f64)],
    pub(super) to: NaiveDate,
    /// Per fate of [`FATES`].
    pub(super) received: [u32; 7],
    pub(super) carried_over: [u32; 7],
    pub(super) closed_2020: u32,
    pub(super) supplement_share: f64,
}

/// District and commune level at 2021-11-14: 157,054 received, 7,009 carried
/// over (164,063 in the period); due 161,578 of which 146,777 early or on time.
pub(super) const DISTRICT_COMMUNE: GroupSpec = GroupSpec {
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
pub(super) const CENTER: GroupSpec = GroupSpec {
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
pub(super) const LAST_RECEIPT: NaiveDate = ymd(2021, 12, 31);
/// The earliest day the scenario has events on.
pub(super) const FIRST_DAY: NaiveDate = ymd(2020, 8, 1);
