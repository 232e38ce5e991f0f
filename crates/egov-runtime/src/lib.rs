//! What the egov services run on: configuration, Kafka plumbing and topics,
//! ClickHouse clients,
//! the ops HTTP server, telemetry, dead letters, seals, stall and lag
//! watching, TLS and shutdown. The model, the contract and the catalogue are
//! `egov_model`'s (no re-exports here).
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod backoff;
pub mod clickhouse;
pub mod config;
pub mod dead_letter;
pub mod kafka;
pub mod lag;
pub mod ops;
pub mod seal;
pub mod shutdown;
pub mod stall;
pub mod telemetry;
pub mod tls;
pub mod topics;

pub use config::Settings;
