//! The life of one dossier, consistent with the fate it must have at the end
//! of its window: its procedure, receipt, due dates in working days,
//! supplement requests that restart the clock, resolution and hand-over.

use super::dossiers::{Group, Mode};
use super::plan::Kind;
use super::samplers::{geometric, office_second};
use super::targets::{Cohort, Fate, LAST_RECEIPT};
use super::Builder;
use crate::clock::{self, instant, local_day, Day};
use crate::procedures::{Procedure, PROCEDURES};
use egov_model::Level;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// One event of a dossier being built.
#[derive(Debug, Clone, Copy)]
pub(super) struct Step {
    pub(super) kind: Kind,
    pub(super) at: i64,
    /// n-th event of this kind of the dossier.
    pub(super) ordinal: u8,
}

impl Step {
    fn new(kind: Kind, at: i64, ordinal: u8) -> Self {
        Self { kind, at, ordinal }
    }
}

/// A dossier being built: its receipt and its events.
pub(super) struct Draft {
    pub(super) unit: u16,
    pub(super) procedure: u16,
    pub(super) level: Level,
    pub(super) received_at: i64,
    pub(super) forced_online: bool,
    pub(super) events: Vec<Step>,
}

impl Builder<'_> {
    /// The last receipt day (at 9:00) whose due day is at most `max_due`.
    pub(super) fn latest_receipt(&self, days: u32, max_due: Day) -> Day {
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
    pub(super) fn earliest_receipt(&self, days: u32, min_due: Day) -> Day {
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
    pub(super) fn receipt_time(&self, rng: &mut ChaCha8Rng, day: Day) -> (i64, bool) {
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

    pub(super) fn returned(&self, rng: &mut ChaCha8Rng, events: &mut Vec<Step>, resolved_at: i64) {
        if rng.random_bool(0.004) {
            let day = self
                .cal
                .add_working(local_day(resolved_at), rng.random_range(1..10));
            if let Some(at) = self.time_after(rng, day, resolved_at) {
                events.push(Step::new(Kind::Resolved, at, 1));
            }
        }
        if rng.random_bool(0.88) {
            let day = self
                .cal
                .add_working(local_day(resolved_at), geometric(rng, 1.6, 10) - 1);
            if let Some(at) = self.time_after(rng, day, resolved_at) {
                events.push(Step::new(Kind::Returned, at, 0));
            }
        }
    }

    #[allow(clippy::too_many_lines)]
    pub(super) fn try_dossier(
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
        let mut events = vec![Step::new(Kind::Received { due }, received_at, 0)];
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
            events.push(Step::new(Kind::SupplementRequested, requested_at, k));
            events.push(Step::new(Kind::SupplementReceived { due }, supplied_at, k));
            last = supplied_at;
        }
        let last_day = local_day(last);
        let not_before = if carried { f } else { last_day };

        match (cohort, fate) {
            (Cohort::Received | Cohort::CarriedOver, Fate::ResolvedEarly) => {
                let day = self.pick_working(rng, last_day.max(not_before), (due - 1).min(t))?;
                let at = self.time_after(rng, day, last)?;
                events.push(Step::new(Kind::Resolved, at, 0));
                self.returned(rng, &mut events, at);
            }
            (Cohort::Received | Cohort::CarriedOver, Fate::ResolvedOnTime) => {
                if due > t || due < last_day.max(not_before) {
                    return None;
                }
                let at = self.time_after(rng, due, last)?;
                events.push(Step::new(Kind::Resolved, at, 0));
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
                events.push(Step::new(Kind::Resolved, at, 0));
                self.returned(rng, &mut events, at);
            }
            (Cohort::Received | Cohort::CarriedOver, Fate::PendingOverdue) => {
                if due > t {
                    return None;
                }
                if rng.random_bool(0.8) {
                    let day = self.pick_working(rng, t + 1, t + 45)?;
                    let at = self.time_after(rng, day, last)?;
                    events.push(Step::new(Kind::Resolved, at, 0));
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
                    events.push(Step::new(Kind::Resolved, at, 0));
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
                events.push(Step::new(Kind::SupplementRequested, requested_at, 0));
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
                    events.push(Step::new(
                        Kind::SupplementReceived { due: new_due },
                        supplied_at,
                        0,
                    ));
                    if rng.random_bool(0.8) {
                        let day = self.pick_working(rng, local_day(supplied_at), new_due)?;
                        let at = self.time_after(rng, day, supplied_at)?;
                        events.push(Step::new(Kind::Resolved, at, 0));
                        self.returned(rng, &mut events, at);
                    }
                } else if u < 0.85 {
                    // Never supplemented.
                } else {
                    let day = self.pick_working(rng, t + 1, t + 40)?;
                    let at = self.time_after(rng, day, requested_at)?;
                    events.push(Step::new(Kind::Withdrawn, at, 0));
                }
            }
            (Cohort::Received | Cohort::CarriedOver, Fate::Closed) => {
                let start = received_day.max(not_before);
                if rng.random_bool(0.6) {
                    let day = self.pick_working(rng, start, cal.add_working(start, 3).min(t))?;
                    let at = self.time_after(rng, day, last)?;
                    events.push(Step::new(Kind::Refused, at, 0));
                } else {
                    let mut after = last;
                    let mut from_day = start;
                    if rng.random_bool(0.5) {
                        let request_day =
                            self.pick_working(rng, received_day, due.min(t).max(received_day))?;
                        let requested_at = self.time_after(rng, request_day, last)?;
                        events.push(Step::new(Kind::SupplementRequested, requested_at, 0));
                        after = requested_at;
                        from_day = from_day.max(request_day);
                    }
                    let day =
                        self.pick_working(rng, from_day, cal.add_working(from_day, 25).min(t))?;
                    let at = self.time_after(rng, day, after)?;
                    events.push(Step::new(Kind::Withdrawn, at, 0));
                }
            }
            (Cohort::Closed2020, _) => {
                let u = rng.random::<f64>();
                let end = f - 1;
                if u < 0.88 {
                    let hi = cal.add_working(due, 3).min(end);
                    let day = self.pick_working(rng, last_day, hi)?;
                    let at = self.time_after(rng, day, last)?;
                    events.push(Step::new(Kind::Resolved, at, 0));
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
                    events.push(Step::new(kind, at, 0));
                }
            }
            (Cohort::After, _) => {
                let u = rng.random::<f64>();
                if u < 0.015 {
                    let day = self.pick_working(rng, last_day, cal.add_working(last_day, 3))?;
                    let at = self.time_after(rng, day, last)?;
                    events.push(Step::new(Kind::Refused, at, 0));
                } else if u < 0.03 {
                    // Still open at the end of the scenario.
                } else {
                    let day = if u < 0.07 {
                        cal.add_working(due, geometric(rng, 3.0, 20))
                    } else {
                        self.pick_working(rng, last_day, due.max(last_day))?
                    };
                    let at = self.time_after(rng, day, last)?;
                    events.push(Step::new(Kind::Resolved, at, 0));
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
}
