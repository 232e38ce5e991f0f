//! Event scenarios for the egov pipeline:
//!
//! - [`report2021`]: the deterministic 2021 stream of Vĩnh Phúc that reproduces
//!   the figures of the 2021 report (`egov scenario report-2021`), sent by
//!   one province or, at country scale, by N ([`provinces`]: their codes and
//!   their national unit catalogue);
//! - [`random`]: small random scenarios for end-to-end tests;
//! - [`reference`]: an independent in-memory implementation of the figures of
//!   contract section 5, to compare `egov report` with;
//! - [`push`]: posting batches to the ingest API concurrently, with retries;
//! - [`sample`]: the demo's small fixed sample.
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod batch;
pub mod clock;
pub mod procedures;
pub mod provinces;
pub mod push;
pub mod random;
pub mod reference;
pub mod report2021;
pub mod sample;
pub mod units;

pub use batch::{batches_of_values, Batch, DEFAULT_BATCH_SIZE};
pub use push::{push, PushError, PushOptions, PushStats, Target};
pub use reference::{figures, Reference, Report};
pub use report2021::Report2021;

/// Why a scenario could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("unit catalogue: {0}")]
    Catalogue(#[from] egov_model::catalogue::CatalogueError),
    #[error("calendar: {0}")]
    Calendar(#[from] clock::CalendarError),
    #[error("unit `{0}` is not in the catalogue")]
    MissingUnit(String),
    #[error("scenario plan: {0}")]
    Plan(String),
}
