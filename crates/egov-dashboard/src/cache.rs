//! Figures computed once per period and state of the data: a page asks
//! ClickHouse first for the version of `events` and of the rollups the figures
//! are read from (a cheap read of `system.parts`: each table's highest block
//! number, which every insert raises and a merge does not, and the
//! partitions), and answers from memory while that is unchanged, so an answer
//! is never older than the data. The rollups are part of the version because an
//! insert writes `events` first and its views' rows a moment later: a page
//! computed in between must not stay cached. Figures of the year take ClickHouse
//! seconds on 2.5 million events; the same page again takes milliseconds.

use crate::DashboardError;
use clickhouse::Row;
use egov_runtime::clickhouse::query_client;
use egov_runtime::config::ClickHouseConfig;
use serde::Deserialize;
use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// Entries kept; beyond, the cache starts afresh.
const MAX_ENTRIES: usize = 512;

/// The state of `events` and the rollups: the sum of each table's latest block
/// number, and their partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Row, Deserialize)]
pub struct Version {
    block: u64,
    partitions: u64,
}

type Entry = (Version, Arc<dyn Any + Send + Sync>);

#[derive(Default)]
pub struct Cache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl Cache {
    /// The version of the data now; `None` when ClickHouse cannot say (then
    /// nothing is cached).
    pub async fn version(config: &ClickHouseConfig) -> Option<Version> {
        let client = query_client(config).ok()?;
        if config.cluster.is_some() {
            // `events` is a Distributed table without parts of its own, and a
            // server's `system.parts` shows only its shard: the version comes from
            // every shard's rows instead (the newest insert time and the row
            // count; a merge may change it too, which costs only a recomputation).
            return client
                .query(
                    "SELECT toUInt64(max(ingested_ms)) AS block, toUInt64(count() \
                     + (SELECT count() FROM documents_by_day) + (SELECT count() FROM dossier_days) \
                     + (SELECT count() FROM last_event_by_day)) AS partitions FROM events",
                )
                .fetch_one::<Version>()
                .await
                .ok();
        }
        client
            .query(
                "SELECT toUInt64(sum(block)) AS block, toUInt64(sum(partitions)) AS partitions FROM \
                 (SELECT max(max_block_number) AS block, uniqExact(partition) AS partitions \
                  FROM system.parts WHERE database = ? AND active \
                  AND table IN ('events', 'documents_by_day', 'dossier_days', 'last_event_by_day') \
                  GROUP BY table)",
            )
            .bind(config.database.as_str())
            .fetch_one::<Version>()
            .await
            .ok()
    }

    /// The value of `key` at `version`, computed by `compute` unless known.
    pub async fn get_or<T, F>(
        &self,
        key: String,
        version: Option<Version>,
        compute: F,
    ) -> Result<T, DashboardError>
    where
        T: Clone + Send + Sync + 'static,
        F: Future<Output = Result<T, DashboardError>>,
    {
        let Some(version) = version else {
            return compute.await;
        };
        if let Some(value) = self.lookup::<T>(&key, version) {
            return Ok(value);
        }
        let value = compute.await?;
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(key, (version, Arc::new(value.clone())));
        }
        Ok(value)
    }

    fn lookup<T: Clone + 'static>(&self, key: &str, version: Version) -> Option<T> {
        let entries = self.entries.lock().ok()?;
        let (at, value) = entries.get(key)?;
        if *at != version {
            return None;
        }
        value.downcast_ref::<T>().cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_value_is_kept_while_the_version_is_the_same() -> Result<(), DashboardError> {
        let cache = Cache::default();
        let v1 = Some(Version {
            block: 1,
            partitions: 1,
        });
        let v2 = Some(Version {
            block: 2,
            partitions: 1,
        });
        assert_eq!(cache.get_or("k".into(), v1, async { Ok(1) }).await?, 1);
        assert_eq!(cache.get_or("k".into(), v1, async { Ok(2) }).await?, 1);
        assert_eq!(cache.get_or("k".into(), v2, async { Ok(3) }).await?, 3);
        assert_eq!(cache.get_or("k".into(), None, async { Ok(4) }).await?, 4);
        assert_eq!(cache.get_or("other".into(), v2, async { Ok(5) }).await?, 5);
        Ok(())
    }
}
