//! Shared pieces of the egov pipeline: configuration, telemetry, Kafka plumbing,
//! the unit catalogue, the event contract and the curated event model.
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod catalogue;
pub mod config;
pub mod contract;
pub mod dead_letter;
pub mod kafka;
pub mod lag;
pub mod model;
pub mod ops;
pub mod raw_event;
pub mod seal;
pub mod shutdown;
pub mod stall;
pub mod telemetry;
pub mod time;
pub mod tls;
pub mod topics;

pub use catalogue::{Catalogue, Unit};
pub use config::Settings;
pub use model::{CuratedEvent, EventType, Level, System};
