//! The operator's tools, each a command of `egov`: `migrate` (the ClickHouse
//! schema on one server or a cluster, the unit catalogue, and the dashboard's
//! read-only user where the server allows: `read_only_user`), `reconcile`
//! (accepted events against rows in ClickHouse), `status` (one screen for an
//! operator) and `dlq` (the dead letters listed and replayed). None of them
//! is a service; the services' own code is in egov-ingest, egov-transform and
//! egov-load.
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod dlq;
pub mod migrate;
pub mod migrate_cluster;
pub mod read_only_user;
pub mod reconcile;
pub mod status;
