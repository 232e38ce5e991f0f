//! The figures' JSON shape (contract section 7): a period, and the document
//! and dossier figures of a level or a unit. Data only: `egov-analytics`
//! derives them from ClickHouse's counts, and the scenarios' reference
//! (`egov_scenario::reference`) computes them on its own from the events,
//! so that the two computations can be compared key by key.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The `period` object: local dates, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// The document figures of a level, a unit or the total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DocumentFigures {
    pub incoming: u64,
    pub outgoing: u64,
    pub outgoing_signed: u64,
    pub signed_rate: Option<f64>,
}

/// The dossier figures of a level, a unit or the total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
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
