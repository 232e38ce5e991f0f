//! The figures of a report, in the JSON shape of contract section 7: the
//! figure objects are `egov_model::figures` (data only); their sums and rates
//! are computed here, on their own, not with `egov-analytics`' code.

pub use egov_model::figures::{DocumentFigures, DossierFigures, Period};
use egov_model::Level;
use serde::{Deserialize, Serialize};

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

    pub(super) fn level_mut(&mut self, level: Level) -> &mut T {
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

/// Figures summed over levels, their rates computed once summed.
pub(super) trait Sums {
    /// Adds `other`'s counts (not its rates).
    fn add(&mut self, other: &Self);
    /// Computes the rates from the counts.
    fn finish(&mut self);
}

impl Sums for DocumentFigures {
    fn add(&mut self, other: &Self) {
        self.incoming += other.incoming;
        self.outgoing += other.outgoing;
        self.outgoing_signed += other.outgoing_signed;
    }

    fn finish(&mut self) {
        self.signed_rate = rate(self.outgoing_signed, self.outgoing);
    }
}

impl Sums for DossierFigures {
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
