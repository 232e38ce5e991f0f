//! Settings of `egov dashboard`, the analysts' web pages.

use super::{ClickHouseConfig, Secret};
use serde::{Deserialize, Serialize};

/// `[dashboard]`: where the dashboard listens and whom it reads ClickHouse as.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DashboardSection {
    /// HTTP address of the pages and of `/api/`.
    pub listen: String,
    /// The read-only ClickHouse user `egov migrate` creates (with
    /// `clickhouse_password`) where the server has SQL user management.
    pub clickhouse_user: String,
    /// Its password; empty: no read-only user, the dashboard reads as
    /// `clickhouse.user` (always with `readonly=1` on its queries).
    pub clickhouse_password: Secret,
    /// A page's ClickHouse queries together may take this long (503 beyond).
    pub query_timeout_ms: u64,
    /// Every this many seconds, when the data changed, the overview's and the
    /// scorecard's figures of the warmed periods are computed ahead, so that a
    /// first view answers from memory; 0: never.
    pub warm_every_s: u64,
    /// The warmed periods, each `YYYY-MM-DD..YYYY-MM-DD`; empty: this year up
    /// to today (the pages' default) and the whole of last year.
    pub warm_periods: Vec<String>,
}

impl Default for DashboardSection {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8090".into(),
            clickhouse_user: "egov_dashboard".into(),
            clickhouse_password: Secret::default(),
            query_timeout_ms: 10_000,
            warm_every_s: 30,
            warm_periods: Vec::new(),
        }
    }
}

impl DashboardSection {
    /// Whether a read-only user of its own is configured.
    pub fn has_read_only_user(&self) -> bool {
        !self.clickhouse_user.is_empty() && !self.clickhouse_password.is_empty()
    }

    /// How the dashboard reaches ClickHouse: as its read-only user when one is
    /// configured and the server has one (`server_has_users`), otherwise as
    /// `clickhouse.user`; read-only either way.
    pub fn clickhouse(&self, base: &ClickHouseConfig, server_has_users: bool) -> ClickHouseConfig {
        let mut config = base.clone();
        if server_has_users && self.has_read_only_user() {
            config.user = self.clickhouse_user.clone();
            config.password = self.clickhouse_password.clone();
        }
        config.read_only = true;
        config
    }
}
