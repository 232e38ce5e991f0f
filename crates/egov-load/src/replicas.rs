//! The replication of the tables load writes to, as the ClickHouse server it
//! talks to (`clickhouse.url`) sees it in `system.replicas`, every
//! [`INTERVAL`], for Prometheus:
//!
//! - `egov_clickhouse_replica_delay_seconds{table,replica}`: how far this
//!   replica is behind (`absolute_delay`: the age of the oldest part it still
//!   has to fetch); NaN (unknown) while it has no ZooKeeper session, when
//!   18.16 reports the current Unix time as the delay;
//! - `egov_clickhouse_replicas_active{table,replica}` and
//!   `egov_clickhouse_replicas_total{table,replica}`: replicas of the table's
//!   shard alive in ZooKeeper, and configured (fewer active: a replica down);
//! - `egov_clickhouse_replica_readonly{table,replica}`: 1 while the replica
//!   has no usable ZooKeeper session and refuses inserts: read-only, session
//!   expired, or not even itself active (with ZooKeeper unreachable, 18.16
//!   shows `active_replicas` 0 long before `is_readonly`).
//!
//! On a single server (no `Replicated*` tables) there is nothing to report and
//! no series appear. One server only knows its own delay: to watch every
//! replica's, point the load instances at different replicas (see
//! `docs/operations.md`).

use clickhouse::Row;
use egov_runtime::config::ClickHouseConfig;
use egov_runtime::shutdown::Shutdown;
use serde::Deserialize;
use std::time::Duration;
use tokio::task::JoinHandle;

/// How often the replicas are measured.
pub const INTERVAL: Duration = Duration::from_secs(30);

/// One replicated table of the database, on the server asked.
#[derive(Debug, Clone, PartialEq, Eq, Row, Deserialize)]
pub struct ReplicaRow {
    pub table: String,
    pub replica_name: String,
    pub is_readonly: u8,
    pub is_session_expired: u8,
    pub absolute_delay: u64,
    pub queue_size: u32,
    pub active_replicas: u8,
    pub total_replicas: u8,
}

/// `system.replicas` of `database` on the server `client` talks to.
pub async fn measure(
    client: &clickhouse::Client,
    database: &str,
) -> Result<Vec<ReplicaRow>, clickhouse::error::Error> {
    client
        .query(
            "SELECT table, replica_name, is_readonly, is_session_expired, absolute_delay, queue_size, \
             active_replicas, total_replicas FROM system.replicas WHERE database = ? \
             ORDER BY table",
        )
        .bind(database)
        .fetch_all()
        .await
}

/// Sets the gauges of the module documentation from `rows`.
pub fn record(rows: &[ReplicaRow]) {
    for row in rows {
        let no_zookeeper =
            row.is_readonly == 1 || row.is_session_expired == 1 || row.active_replicas == 0;
        let labels = [
            ("table", row.table.clone()),
            ("replica", row.replica_name.clone()),
        ];
        metrics::gauge!("egov_clickhouse_replica_delay_seconds", &labels).set(if no_zookeeper {
            f64::NAN
        } else {
            row.absolute_delay as f64
        });
        metrics::gauge!("egov_clickhouse_replicas_active", &labels)
            .set(f64::from(row.active_replicas));
        metrics::gauge!("egov_clickhouse_replicas_total", &labels)
            .set(f64::from(row.total_replicas));
        metrics::gauge!("egov_clickhouse_replica_readonly", &labels)
            .set(f64::from(u8::from(no_zookeeper)));
    }
}

/// Measures and records every [`INTERVAL`] until `shutdown`. A failed
/// measurement is only logged at debug level: ClickHouse being unreachable is
/// the readiness check's to report.
pub fn spawn(config: &ClickHouseConfig, mut shutdown: Shutdown) -> JoinHandle<()> {
    let client = egov_runtime::clickhouse::query_client(config);
    let database = config.database.clone();
    tokio::spawn(async move {
        let Ok(client) = client else { return };
        loop {
            match measure(&client, &database).await {
                Ok(rows) => record(&rows),
                Err(error) => tracing::debug!(%error, "replicas not measured"),
            }
            tokio::select! {
                _ = shutdown.wait() => return,
                _ = tokio::time::sleep(INTERVAL) => {}
            }
        }
    })
}
