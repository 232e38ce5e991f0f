//! Loss accounting: per source system and local day, the events accepted at
//! ingest (the raw topic is the ledger: ingest answers only after its acks=all
//! write) against the rows present in ClickHouse, with dead letters accounted
//! for. Anything else is missing.

use chrono::{DateTime, NaiveDate};
use egov_model::time::{days_to_date, local_date};
use egov_runtime::clickhouse::query_client;
use egov_runtime::config::{ClickHouseConfig, KafkaConfig};
use egov_runtime::kafka;
use rdkafka::message::Message;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("clickhouse: {0}")]
    ClickHouse(#[from] clickhouse::error::Error),
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct DayAccount {
    pub system: String,
    pub date: NaiveDate,
    /// Distinct events in the raw topic.
    pub accepted: u64,
    /// Distinct events in ClickHouse.
    pub loaded: u64,
    /// Accepted, not loaded, but in the dead-letter topic.
    pub dead_lettered: u64,
    /// Accepted, neither loaded nor dead-lettered: lost, or not there yet.
    pub missing: u64,
    /// Loaded but not in the raw topic (e.g. past its retention).
    pub unaccounted: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Reconciliation {
    pub days: Vec<DayAccount>,
    /// Raw messages that are not readable events (they are dead letters too).
    pub unreadable_raw_messages: u64,
}

impl Reconciliation {
    pub fn missing(&self) -> u64 {
        self.days.iter().map(|d| d.missing).sum()
    }

    /// The result in Prometheus's text format, for node_exporter's textfile
    /// collector (`egov reconcile --prometheus-textfile`): per system (every
    /// system, 0 when it has no events) the totals over all days, and
    /// `egov_reconcile_last_run_timestamp_seconds` = `at_unix_s`.
    pub fn prometheus_text(&self, at_unix_s: i64) -> String {
        type Field = fn(&DayAccount) -> u64;
        let gauges: [(&str, &str, Field); 5] = [
            ("egov_reconcile_missing_events", "Events accepted at ingest (raw topic) neither in ClickHouse nor in the dead-letter topic, at the last egov reconcile.", |d| d.missing),
            ("egov_reconcile_accepted_events", "Distinct events in the raw topic, at the last egov reconcile.", |d| d.accepted),
            ("egov_reconcile_loaded_events", "Distinct events in ClickHouse, at the last egov reconcile.", |d| d.loaded),
            ("egov_reconcile_dead_lettered_events", "Events accepted, not loaded, in the dead-letter topic, at the last egov reconcile.", |d| d.dead_lettered),
            ("egov_reconcile_unaccounted_events", "Events in ClickHouse not in the raw topic (e.g. past its retention), at the last egov reconcile.", |d| d.unaccounted),
        ];
        let mut text = String::new();
        for (name, help, field) in gauges {
            text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
            for system in egov_model::System::ALL.map(|s| s.as_str()) {
                let total: u64 = self
                    .days
                    .iter()
                    .filter(|d| d.system == system)
                    .map(field)
                    .sum();
                text.push_str(&format!("{name}{{system=\"{system}\"}} {total}\n"));
            }
        }
        let name = "egov_reconcile_last_run_timestamp_seconds";
        text.push_str(&format!(
            "# HELP {name} When the last egov reconcile completed (Unix time).\n# TYPE {name} gauge\n{name} {at_unix_s}\n"
        ));
        text
    }

    /// The table of `egov reconcile`: the days that do not add up (every day
    /// with `all`), then the totals.
    pub fn table(&self, all: bool) -> String {
        let mut out = format!(
            "{:<10} {:<10} {:>9} {:>9} {:>9} {:>9} {:>11}\n",
            "system", "date", "accepted", "loaded", "dead", "missing", "unaccounted"
        );
        for d in self
            .days
            .iter()
            .filter(|d| all || d.missing + d.dead_lettered + d.unaccounted > 0)
        {
            out.push_str(&format!(
                "{:<10} {:<10} {:>9} {:>9} {:>9} {:>9} {:>11}\n",
                d.system, d.date, d.accepted, d.loaded, d.dead_lettered, d.missing, d.unaccounted
            ));
        }
        let total = |f: fn(&DayAccount) -> u64| self.days.iter().map(f).sum::<u64>();
        out.push_str(&format!(
            "total: {} accepted, {} loaded, {} dead-lettered, {} missing, {} unaccounted; {} unreadable raw messages\n",
            total(|d| d.accepted),
            total(|d| d.loaded),
            total(|d| d.dead_lettered),
            self.missing(),
            total(|d| d.unaccounted),
            self.unreadable_raw_messages
        ));
        out
    }
}

/// Writes `text` beside `file`, then renames it over `file`: a reader
/// (node_exporter's textfile collector) sees the old file or the new one,
/// never a part.
pub fn write_replacing(file: &std::path::Path, text: &str) -> std::io::Result<()> {
    let mut temporary = file.as_os_str().to_owned();
    temporary.push(format!(".{}.tmp", std::process::id()));
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, file).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })
}

#[derive(Deserialize)]
struct Identity {
    event_id: String,
    /// Missing in some dead letters: they are still accounted for.
    #[serde(default)]
    unit_code: String,
    event_type: String,
    occurred_at: String,
}

type Key = (String, NaiveDate);

/// What identifies an event within its system: `(unit_code, event_id)`, the
/// replacing key of `events`.
type EventKey = (String, String);

/// `(system, local day) -> event keys` of a topic's readable events.
async fn topic_ids(
    config: &KafkaConfig,
    topic: &str,
) -> Result<(HashMap<Key, HashSet<EventKey>>, u64), ReconcileError> {
    let mut ids: HashMap<Key, HashSet<EventKey>> = HashMap::new();
    let mut unreadable = 0u64;
    kafka::scan_topic(config, topic, |message| {
        let identity = message
            .payload()
            .and_then(|p| serde_json::from_slice::<Identity>(p).ok());
        let Some(identity) = identity else {
            unreadable += 1;
            return;
        };
        let system = if identity.event_type.starts_with("document.") {
            "documents"
        } else {
            "onestop"
        };
        match DateTime::parse_from_rfc3339(&identity.occurred_at) {
            Ok(at) => {
                let day = local_date(at.to_utc());
                ids.entry((system.to_owned(), day))
                    .or_default()
                    .insert((identity.unit_code, identity.event_id));
            }
            Err(_) => unreadable += 1,
        }
    })
    .await?;
    Ok((ids, unreadable))
}

#[derive(Debug, clickhouse::Row, Deserialize)]
struct CountRow {
    system: String,
    local_date: u16,
    events: u64,
}

#[derive(Debug, clickhouse::Row, Deserialize)]
struct IdRow {
    unit_code: String,
    event_id: String,
}

pub async fn reconcile(
    kafka_config: &KafkaConfig,
    clickhouse: &ClickHouseConfig,
) -> Result<Reconciliation, ReconcileError> {
    let (raw, unreadable) = topic_ids(kafka_config, &kafka_config.raw_topic).await?;
    let (dead, _) = topic_ids(kafka_config, &kafka_config.dlq_topic).await?;
    let client = query_client(clickhouse)?;
    let counts = client
        .query("SELECT system, local_date, uniqExact(unit_code, event_id) AS events FROM events GROUP BY system, local_date")
        .fetch_all::<CountRow>()
        .await?;
    let mut loaded: HashMap<Key, u64> = HashMap::new();
    for row in counts {
        if let Some(day) = days_to_date(row.local_date) {
            loaded.insert((row.system, day), row.events);
        }
    }
    let keys: std::collections::BTreeSet<Key> = raw.keys().chain(loaded.keys()).cloned().collect();
    let mut days = BTreeMap::new();
    let empty = HashSet::new();
    for key in keys {
        let accepted_ids = raw.get(&key).unwrap_or(&empty);
        let in_clickhouse = loaded.get(&key).copied().unwrap_or(0);
        let mut account = DayAccount {
            system: key.0.clone(),
            date: key.1,
            accepted: accepted_ids.len() as u64,
            loaded: in_clickhouse,
            ..Default::default()
        };
        if account.accepted != in_clickhouse {
            // Only days that do not add up need the ids themselves.
            let loaded_ids: HashSet<EventKey> = client
                .query("SELECT DISTINCT unit_code, event_id FROM events WHERE system = ? AND local_date = toDate(?)")
                .bind(key.0.as_str())
                .bind(key.1.format("%Y-%m-%d").to_string())
                .fetch_all::<IdRow>()
                .await?
                .into_iter()
                .map(|r| (r.unit_code, r.event_id))
                .collect();
            let dead_ids = dead.get(&key).unwrap_or(&empty);
            for id in accepted_ids.iter().filter(|id| !loaded_ids.contains(*id)) {
                if dead_ids.contains(id) {
                    account.dead_lettered += 1;
                } else {
                    account.missing += 1;
                }
            }
            account.unaccounted = loaded_ids
                .iter()
                .filter(|id| !accepted_ids.contains(*id))
                .count() as u64;
        }
        days.insert(key, account);
    }
    Ok(Reconciliation {
        days: days.into_values().collect(),
        unreadable_raw_messages: unreadable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_textfile_has_every_system_and_the_totals() {
        let day = |system: &str, d: u32, missing: u64| DayAccount {
            system: system.to_owned(),
            date: NaiveDate::from_ymd_opt(2021, 3, d).unwrap_or_default(),
            accepted: 10,
            loaded: 10 - missing - 1,
            dead_lettered: 1,
            missing,
            unaccounted: 0,
        };
        let result = Reconciliation {
            days: vec![day("onestop", 1, 2), day("onestop", 2, 3)],
            unreadable_raw_messages: 0,
        };
        let text = result.prometheus_text(1_700_000_000);
        let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            samples,
            vec![
                "egov_reconcile_missing_events{system=\"documents\"} 0",
                "egov_reconcile_missing_events{system=\"onestop\"} 5",
                "egov_reconcile_accepted_events{system=\"documents\"} 0",
                "egov_reconcile_accepted_events{system=\"onestop\"} 20",
                "egov_reconcile_loaded_events{system=\"documents\"} 0",
                "egov_reconcile_loaded_events{system=\"onestop\"} 13",
                "egov_reconcile_dead_lettered_events{system=\"documents\"} 0",
                "egov_reconcile_dead_lettered_events{system=\"onestop\"} 2",
                "egov_reconcile_unaccounted_events{system=\"documents\"} 0",
                "egov_reconcile_unaccounted_events{system=\"onestop\"} 0",
                "egov_reconcile_last_run_timestamp_seconds 1700000000",
            ]
        );
        assert!(text.contains("# TYPE egov_reconcile_missing_events gauge\n"));
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn the_table_shows_the_days_that_do_not_add_up_then_the_totals() {
        let day = |d: u32, dead_lettered: u64| DayAccount {
            system: "documents".to_owned(),
            date: NaiveDate::from_ymd_opt(2021, 3, d).unwrap_or_default(),
            accepted: 5,
            loaded: 5 - dead_lettered,
            dead_lettered,
            missing: 0,
            unaccounted: 0,
        };
        let result = Reconciliation {
            days: vec![day(1, 0), day(2, 1)],
            unreadable_raw_messages: 3,
        };
        let table = result.table(false);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3, "{table}");
        assert!(lines[0].starts_with("system     date       "), "{table}");
        assert!(lines[1].starts_with("documents  2021-03-02 "), "{table}");
        assert_eq!(
            lines[2],
            "total: 10 accepted, 9 loaded, 1 dead-lettered, 0 missing, 0 unaccounted; 3 unreadable raw messages"
        );
        assert_eq!(result.table(true).lines().count(), 4);
    }

    #[test]
    fn the_textfile_is_replaced_whole() -> std::io::Result<()> {
        let dir = std::env::temp_dir().join(format!("egov-reconcile-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let file = dir.join("egov.prom");
        write_replacing(&file, "old\n")?;
        write_replacing(&file, "new\n")?;
        let text = std::fs::read_to_string(&file)?;
        let left = std::fs::read_dir(&dir)?.count();
        std::fs::remove_dir_all(&dir)?;
        assert_eq!((text.as_str(), left), ("new\n", 1));
        Ok(())
    }
}
