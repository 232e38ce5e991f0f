//! ClickHouse for the bench's own checks (counts, DDL, drops), through the
//! clients of [`egov_runtime::clickhouse`]: values bound, identifiers quoted.

use anyhow::{bail, Context};
use clickhouse::query::Query;
use clickhouse::Client;
use egov_runtime::clickhouse::{ident, server_client};
use egov_runtime::config::ClickHouseConfig;
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct ClickHouse {
    client: Client,
}

/// When the rows of a phase became visible, from its start.
#[derive(Debug, Clone, Copy)]
pub struct Visible {
    pub first_row: Option<Duration>,
    pub all_rows: Duration,
}

impl ClickHouse {
    pub fn new(config: &ClickHouseConfig) -> anyhow::Result<Self> {
        Ok(Self {
            client: server_client(config)?,
        })
    }

    /// A query (`?` for each bound value), in `database` if given.
    pub fn sql(&self, database: Option<&str>, sql: &str) -> Query {
        match database {
            Some(database) => self.client.clone().with_database(database).query(sql),
            None => self.client.query(sql),
        }
    }

    /// Runs a statement that returns nothing (DDL).
    pub async fn execute(&self, sql: &str) -> anyhow::Result<()> {
        self.sql(None, sql)
            .execute()
            .await
            .with_context(|| format!("clickhouse: `{sql}`"))
    }

    /// The one number `sql` answers (a `UInt64`, e.g. `count()`).
    pub async fn number(&self, database: Option<&str>, sql: &str) -> anyhow::Result<u64> {
        self.sql(database, sql)
            .fetch_one::<u64>()
            .await
            .with_context(|| format!("clickhouse: `{sql}`"))
    }

    /// Polls `count()` of `database.table` every `poll` until it reaches
    /// `rows`; times are measured from `started`.
    pub async fn wait_rows(
        &self,
        database: &str,
        table: &str,
        rows: u64,
        started: Instant,
        poll: Duration,
        timeout: Duration,
    ) -> anyhow::Result<Visible> {
        let sql = format!("SELECT count() FROM {}.{}", ident(database), ident(table));
        let mut first_row = None;
        loop {
            let at = started.elapsed();
            // A query may fail while the table is being created; keep polling.
            let count = self.number(None, &sql).await.unwrap_or(0);
            if count > 0 && first_row.is_none() {
                first_row = Some(at);
            }
            if count >= rows {
                return Ok(Visible {
                    first_row,
                    all_rows: at,
                });
            }
            if started.elapsed() > timeout {
                bail!("{database}.{table} has {count} of {rows} rows after {timeout:?}");
            }
            tokio::time::sleep(poll).await;
        }
    }

    /// Waits (at most `timeout`) until ClickHouse merges nothing, so that the
    /// merges a phase caused do not slow the next one down.
    pub async fn quiesce(&self, timeout: Duration) {
        let started = Instant::now();
        while started.elapsed() < timeout {
            match self.number(None, "SELECT count() FROM system.merges").await {
                Ok(0) | Err(_) => return,
                Ok(_) => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }
}
