//! The pure core of the egov pipeline: the event model, contract v1 (the
//! JSON Schemas and their fast hand-written form over a raw event's fields),
//! the unit catalogue, the figures' JSON shape, local dates (Asia/Ho_Chi_Minh),
//! the holiday calendar and the number format operators read. No Kafka, no
//! HTTP, no async runtime, no file I/O: everything here parses from `&str` or
//! readers.
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod calendar;
pub mod catalogue;
pub mod contract;
#[cfg(any(test, feature = "examples"))]
pub mod examples;
pub mod figures;
pub mod format;
pub mod model;
pub mod raw_event;
pub mod time;

pub use catalogue::{Catalogue, Unit};
pub use model::{CuratedEvent, EventType, Level, System};
