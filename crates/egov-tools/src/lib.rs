//! The operator's tools, each a command of `egov`: `migrate` (the ClickHouse
//! schema on one server or a cluster, and the unit catalogue), `reconcile`
//! (accepted events against rows in ClickHouse), `status` (one screen for an
//! operator) and `dlq` (the dead letters listed and replayed). None of them
//! is a service; the services' own code is in egov-ingest, egov-transform and
//! egov-load.
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod dlq;
pub mod migrate;
pub mod migrate_cluster;
pub mod reconcile;
pub mod status;
