//! Load: the same curated messages consumed from Kafka into ClickHouse by
//! `egov_load::run` and by ClickHouse's own Kafka table engine with a
//! materialized view, each from a topic and consumer group of its own into an
//! equivalent `events` table.

use crate::bench::Bench;
use crate::ch::{ClickHouse, Visible};
use crate::events::{Batch, Generator};
use crate::report::{median, LoadRound};
use crate::{produce, say};
use anyhow::Context;
use egov_model::contract::Contract;
use egov_model::Catalogue;
use egov_runtime::clickhouse::ident;
use egov_runtime::config::{ClickHouseConfig, Settings};
use egov_transform::curate::{curate, RawMeta};
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(100);
const TIMEOUT: Duration = Duration::from_secs(600);

/// egov load against the Kafka engine on the same curated messages, in
/// rounds that alternate which goes first.
pub async fn phase(bench: &mut Bench<'_>) -> anyhow::Result<()> {
    let (args, names, settings, ch) = (bench.args, bench.names, bench.settings, &bench.ch);
    let catalogue = &bench.catalogue;
    say(format!(
        "load: curating {} events and filling two topics",
        args.load_rows
    ));
    let load_batches = Generator::new(catalogue, format!("bench-{}-l-", names.id), 2)
        .batches(args.load_rows, args.batch);
    let messages = curated_messages(&load_batches, catalogue)?;
    drop(load_batches);
    bench.results.curated_event_bytes =
        messages.iter().map(|(_, v)| v.len()).sum::<usize>() as f64 / messages.len().max(1) as f64;
    produce::prefill(
        &settings.kafka,
        &[&names.load_topic, &names.engine_topic],
        &messages,
    )
    .await?;
    drop(messages);
    let rows = args.load_rows as u64;
    for r in 0..args.rounds {
        let mut pair = LoadRound::default();
        for egov_first in [r % 2 == 0, r % 2 == 1] {
            ch.quiesce(Duration::from_secs(60)).await;
            if egov_first {
                say(format!("load round {}: egov load", r + 1));
                let database = names.load_db(r);
                egov_tools::migrate::migrate(
                    &ClickHouseConfig {
                        database: database.clone(),
                        ..settings.clickhouse.clone()
                    },
                    catalogue,
                )
                .await?;
                // egov load runs in this process: its CPU is this process's meanwhile.
                let cpu = crate::egov::cpu_secs("self").unwrap_or(f64::NAN);
                let visible = egov_load(
                    settings,
                    ch,
                    &names.load_topic,
                    &names.load_group_of(r),
                    &database,
                    rows,
                )
                .await?;
                let cpu = crate::egov::cpu_secs("self").unwrap_or(f64::NAN) - cpu;
                pair.load_cpu_us_per_row = cpu * 1e6 / rows as f64;
                pair.load_rows_per_s = rows as f64 / visible.all_rows.as_secs_f64();
                pair.load_all_rows_s = visible.all_rows.as_secs_f64();
                pair.load_first_row_s = visible.first_row.map_or(f64::NAN, |d| d.as_secs_f64());
            } else {
                say(format!("load round {}: Kafka engine", r + 1));
                let visible = kafka_engine(
                    ch,
                    &settings.kafka.brokers,
                    &names.engine_topic,
                    &names.engine_group_of(r),
                    &names.engine_db(r),
                    rows,
                )
                .await?;
                pair.kafka_engine_rows_per_s = rows as f64 / visible.all_rows.as_secs_f64();
                pair.kafka_engine_all_rows_s = visible.all_rows.as_secs_f64();
                pair.kafka_engine_first_row_s =
                    visible.first_row.map_or(f64::NAN, |d| d.as_secs_f64());
            }
        }
        say(format!(
            "load round {}: egov load {:.0} rows/s, Kafka engine {:.0} rows/s",
            r + 1,
            pair.load_rows_per_s,
            pair.kafka_engine_rows_per_s
        ));
        bench.results.load_rounds.push(pair);
    }
    let results = &mut bench.results;
    let of =
        |f: fn(&LoadRound) -> f64| median(&results.load_rounds.iter().map(f).collect::<Vec<_>>());
    results.load_rows_per_s = of(|r| r.load_rows_per_s);
    results.kafka_engine_rows_per_s = of(|r| r.kafka_engine_rows_per_s);
    results.cpu_us_per_event.load = of(|r| r.load_cpu_us_per_row);
    Ok(())
}

/// What transform would write for every event: (key, curated JSON).
pub fn curated_messages(
    batches: &[Batch],
    catalogue: &Catalogue,
) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let contract = Contract::v1()?;
    let events: Vec<_> = batches.iter().flat_map(|b| &b.events).collect();
    let meta = RawMeta {
        received_at: chrono::Utc::now(),
        sealed: false,
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
    let (trigger, shutdown) = egov_runtime::shutdown::channel();
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
    let db = ident(database);
    ch.execute(&format!("CREATE DATABASE IF NOT EXISTS {db}"))
        .await?;
    let events = egov_tools::migrate::MIGRATIONS
        .iter()
        .filter(|(name, _)| name.contains("_events"));
    for (_, events_sql) in events {
        for statement in egov_tools::migrate::statements(events_sql, database) {
            ch.execute(&statement).await?;
        }
    }
    ch.sql(
        None,
        &format!(
            "CREATE TABLE {db}.queue ({QUEUE_COLUMNS}) ENGINE = Kafka SETTINGS \
             kafka_broker_list = ?, kafka_topic_list = ?, kafka_group_name = ?, \
             kafka_format = 'JSONEachRow'"
        ),
    )
    .bind(brokers)
    .bind(topic)
    .bind(group)
    .execute()
    .await
    .context("clickhouse: the Kafka engine's queue table")?;
    let started = Instant::now();
    ch.execute(&format!(
        "CREATE MATERIALIZED VIEW {db}.consumer TO {db}.events AS \
         {VIEW_SELECT} FROM {db}.queue"
    ))
    .await?;
    let visible = ch
        .wait_rows(database, "events", rows, started, POLL, TIMEOUT)
        .await;
    // Detach the consumer before anything else is dropped.
    ch.execute(&format!("DROP TABLE IF EXISTS {db}.consumer"))
        .await?;
    ch.execute(&format!("DROP TABLE IF EXISTS {db}.queue"))
        .await?;
    visible
}
