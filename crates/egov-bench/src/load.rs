//! Load: the same curated messages consumed from Kafka into ClickHouse by
//! `egov_load::run` and by ClickHouse's own Kafka table engine with a
//! materialized view, each from a topic and consumer group of its own into an
//! equivalent `events` table.

use crate::ch::{literal, ClickHouse, Visible};
use crate::events::Batch;
use anyhow::Context;
use egov_common::config::Settings;
use egov_common::contract::Contract;
use egov_common::Catalogue;
use egov_transform::curate::{curate, RawMeta};
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(100);
const TIMEOUT: Duration = Duration::from_secs(600);

/// What transform would write for every event: (key, curated JSON).
pub fn curated_messages(
    batches: &[Batch],
    catalogue: &Catalogue,
) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let contract = Contract::v1()?;
    let events: Vec<_> = batches.iter().flat_map(|b| &b.events).collect();
    let meta = RawMeta {
        received_at: chrono::Utc::now(),
    };
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunk = events.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = events
            .chunks(chunk)
            .map(|part| {
                let contract = &contract;
                scope.spawn(move || {
                    part.iter()
                        .map(|event| {
                            let curated = curate(Some(&event.json), meta, contract, catalogue)
                                .map_err(|p| anyhow::anyhow!("{}: {p}", event.event_id))?;
                            Ok((event.key.clone(), serde_json::to_vec(&curated)?))
                        })
                        .collect::<anyhow::Result<Vec<_>>>()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(events.len());
        for worker in workers {
            let part = worker
                .join()
                .map_err(|_| anyhow::anyhow!("curating thread panicked"))??;
            all.extend(part);
        }
        Ok(all)
    })
}

/// Runs `egov_load::run` on a pre-filled `topic` into `database` until all
/// `rows` are in ClickHouse; the database must be migrated already.
pub async fn egov_load(
    base: &Settings,
    ch: &ClickHouse,
    topic: &str,
    group: &str,
    database: &str,
    rows: u64,
) -> anyhow::Result<Visible> {
    let mut settings = base.clone();
    settings.kafka.curated_topic = topic.to_owned();
    settings.kafka.load_group = group.to_owned();
    settings.clickhouse.database = database.to_owned();
    let (trigger, shutdown) = egov_common::shutdown::channel();
    let started = Instant::now();
    let task = tokio::spawn(egov_load::run(settings.load_config(), shutdown));
    let visible = ch
        .wait_rows(database, "events", rows, started, POLL, TIMEOUT)
        .await;
    trigger.trigger();
    tokio::time::timeout(Duration::from_secs(60), task)
        .await
        .context("egov load did not stop")?
        .context("egov load task")?
        .context("egov load")?;
    visible
}

/// The Kafka engine's reading of a curated message (JSONEachRow reads the
/// curated JSON as it is: booleans into UInt8, null into Nullable).
const QUEUE_COLUMNS: &str =
    "system String, event_id String, event_type String, occurred_ms Int64, \
    local_date UInt16, unit_code String, level String, district_code String, entity_id String, \
    channel String, procedure_code String, signed UInt8, due_ms Nullable(Int64), \
    due_date Nullable(UInt16), payload String, ingested_ms UInt64";

/// The same conversion `egov_load::EventRow::from` makes.
const VIEW_SELECT: &str = "SELECT system, event_id, event_type, \
    toDateTime(intDiv(occurred_ms, 1000), 'UTC') AS occurred_at, occurred_ms, \
    CAST(local_date AS Date) AS local_date, unit_code, level, district_code, entity_id, channel, \
    procedure_code, signed, due_ms, CAST(due_date AS Nullable(Date)) AS due_date, payload, ingested_ms";

/// Creates a Kafka engine table on `topic`, the `events` table of the
/// migrations (`schemas/clickhouse/001_events.sql`, `005_events_by_unit.sql`) and, when the clock starts, the
/// materialized view between them; stops when all `rows` are in `events`.
/// The engine runs with its defaults (one consumer, blocks of max_block_size).
pub async fn kafka_engine(
    ch: &ClickHouse,
    brokers: &str,
    topic: &str,
    group: &str,
    database: &str,
    rows: u64,
) -> anyhow::Result<Visible> {
    ch.query(None, &format!("CREATE DATABASE IF NOT EXISTS `{database}`"))
        .await?;
    let events = egov_load::migrate::MIGRATIONS
        .iter()
        .filter(|(name, _)| name.contains("_events"));
    for (_, events_sql) in events {
        for statement in egov_load::migrate::statements(events_sql, database) {
            ch.query(None, &statement).await?;
        }
    }
    ch.query(
        None,
        &format!(
            "CREATE TABLE `{database}`.queue ({QUEUE_COLUMNS}) ENGINE = Kafka SETTINGS \
             kafka_broker_list = {}, kafka_topic_list = {}, kafka_group_name = {}, \
             kafka_format = 'JSONEachRow'",
            literal(brokers),
            literal(topic),
            literal(group)
        ),
    )
    .await?;
    let started = Instant::now();
    ch.query(
        None,
        &format!(
            "CREATE MATERIALIZED VIEW `{database}`.consumer TO `{database}`.events AS \
             {VIEW_SELECT} FROM `{database}`.queue"
        ),
    )
    .await?;
    let visible = ch
        .wait_rows(database, "events", rows, started, POLL, TIMEOUT)
        .await;
    // Detach the consumer before anything else is dropped.
    ch.query(None, &format!("DROP TABLE IF EXISTS `{database}`.consumer"))
        .await?;
    ch.query(None, &format!("DROP TABLE IF EXISTS `{database}`.queue"))
        .await?;
    visible
}
