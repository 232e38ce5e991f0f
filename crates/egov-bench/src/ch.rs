//! ClickHouse over HTTP, independent of the code under test.

use anyhow::{bail, Context};
use egov_runtime::config::ClickHouseConfig;
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct ClickHouse {
    http: reqwest::Client,
    config: ClickHouseConfig,
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
            http: egov_runtime::clickhouse::http(config, Duration::from_secs(60))?,
            config: config.clone(),
        })
    }

    /// Runs `sql`, in `database` if given, and returns its TabSeparated output.
    pub async fn query(&self, database: Option<&str>, sql: &str) -> anyhow::Result<String> {
        let mut request = self.http.post(&self.config.url);
        if let Some(database) = database {
            request = request.query(&[("database", database)]);
        }
        let response = request
            .basic_auth(&self.config.user, Some(self.config.password.expose()))
            .body(sql.to_owned())
            .send()
            .await
            .with_context(|| format!("clickhouse: `{sql}`"))?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("clickhouse answered {status} to `{sql}`: {text}");
        }
        Ok(text)
    }

    pub async fn number(&self, database: Option<&str>, sql: &str) -> anyhow::Result<u64> {
        let text = self.query(database, sql).await?;
        text.trim()
            .parse()
            .with_context(|| format!("`{sql}` answered `{}`", text.trim()))
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
        let sql = format!("SELECT count() FROM `{database}`.`{table}`");
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

/// Quotes a string literal for SQL.
pub fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}
