//! The load service: reads curated events, inserts them into ClickHouse in
//! batches bounded by rows, bytes and time, and stores offsets only after the
//! insert succeeded. A duplicate row is harmless: `events` is keyed by
//! (system, event_id) and analytics count distinct documents and dossiers.
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod replicas;

use ::clickhouse::Row;
use egov_model::model::CuratedEvent;
use egov_runtime::backoff::{millis, Backoff};
use egov_runtime::config::LoadConfig;
use egov_runtime::dead_letter::{self, Letter, Reason, Service};
use egov_runtime::kafka::{self, OffsetTracker};
use egov_runtime::ops::Readiness;
use egov_runtime::shutdown::Shutdown;
use egov_runtime::stall::Stage;
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use serde::Serialize;
use std::time::{Duration, Instant};
use tracing::{info, warn};

pub const EVENTS_TABLE: &str = "events";

/// At most this many rows are reserved at the start of a batch.
const MAX_RESERVED_ROWS: usize = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("clickhouse: {0}")]
    ClickHouse(#[from] ::clickhouse::error::Error),
}

/// A row of `events`, field names equal to column names.
#[derive(Debug, Clone, Row, Serialize, PartialEq)]
pub struct EventRow {
    pub system: &'static str,
    pub event_id: String,
    pub event_type: &'static str,
    pub occurred_at: u32,
    pub occurred_ms: i64,
    pub local_date: u16,
    pub unit_code: String,
    pub level: &'static str,
    pub district_code: String,
    pub entity_id: String,
    pub channel: String,
    pub procedure_code: String,
    pub signed: u8,
    pub due_ms: Option<i64>,
    pub due_date: Option<u16>,
    pub payload: String,
    pub ingested_ms: u64,
}

impl From<CuratedEvent> for EventRow {
    fn from(e: CuratedEvent) -> Self {
        Self {
            system: e.system.as_str(),
            event_id: e.event_id,
            event_type: e.event_type.as_str(),
            occurred_at: u32::try_from(e.occurred_ms.div_euclid(1000)).unwrap_or(0),
            occurred_ms: e.occurred_ms,
            local_date: e.local_date,
            unit_code: e.unit_code,
            level: e.level.as_str(),
            district_code: e.district_code,
            entity_id: e.entity_id,
            channel: e.channel,
            procedure_code: e.procedure_code,
            signed: u8::from(e.signed),
            due_ms: e.due_ms,
            due_date: e.due_date,
            payload: e.payload,
            ingested_ms: u64::try_from(e.ingested_ms).unwrap_or(0),
        }
    }
}

/// Consumes until `shutdown`; the batch in hand is inserted and committed first.
pub async fn run(config: LoadConfig, shutdown: Shutdown) -> Result<(), LoadError> {
    run_with(config, shutdown, Readiness::always()).await
}

/// [`run`], reporting a stall of this stage to `readiness` (`/readyz`).
pub async fn run_with(
    config: LoadConfig,
    mut shutdown: Shutdown,
    readiness: Readiness,
) -> Result<(), LoadError> {
    kafka::ensure_topics_retrying(
        &config.kafka,
        &[&config.kafka.curated_topic, &config.kafka.dlq_topic],
        shutdown.clone(),
    )
    .await;
    let consumer = std::sync::Arc::new(kafka::durable_consumer(
        &config.kafka,
        &config.kafka.load_group,
        &config.kafka.curated_topic,
    )?);
    egov_runtime::lag::spawn_lag_reporter(
        &consumer,
        Stage::Load,
        readiness,
        Duration::from_secs(config.ops.stall_after_s),
    );
    replicas::spawn(&config.clickhouse, shutdown.clone());
    Service::Load.register_dead_letter_metrics();
    let producer = kafka::durable_producer(&config.kafka)?;
    let client = egov_runtime::clickhouse::insert_client(&config.clickhouse)?;
    let limits = &config.service;
    let max_wait = Duration::from_millis(limits.batch_max_wait_ms);
    info!(from = %config.kafka.curated_topic, database = %config.clickhouse.database, "load started");
    let mut stopping = false;
    while !stopping {
        // Sized for a full batch up front: no reallocation (and its copy) while it fills.
        let mut rows: Vec<EventRow> =
            Vec::with_capacity(limits.batch_max_rows.min(MAX_RESERVED_ROWS));
        let mut bytes = 0usize;
        let mut tracker = OffsetTracker::default();
        let mut undecodable: Vec<Letter> = Vec::new();
        let mut deadline: Option<tokio::time::Instant> = None;
        while rows.len() < limits.batch_max_rows && bytes < limits.batch_max_bytes {
            let wait_for_message = async {
                match deadline {
                    Some(deadline) => {
                        tokio::time::timeout_at(deadline, kafka::next_message(&consumer))
                            .await
                            .ok()
                    }
                    None => Some(kafka::next_message(&consumer).await),
                }
            };
            let message = tokio::select! {
                _ = shutdown.wait() => { stopping = true; break; }
                message = wait_for_message => message,
            };
            let Some(message) = message else { break };
            deadline.get_or_insert_with(|| tokio::time::Instant::now() + max_wait);
            tracker.observe(&message);
            let payload = message.payload().unwrap_or_default();
            bytes += payload.len();
            match serde_json::from_slice::<CuratedEvent>(payload) {
                Ok(event) => rows.push(event.into()),
                Err(error) => {
                    // Transform only writes what it encoded itself; anything
                    // else (another writer, a format from another version) is
                    // kept as a dead letter, never dropped.
                    undecodable.push(Letter::of(
                        &message,
                        Reason::UndecodableCurated,
                        format!("load cannot decode this curated message: {error}"),
                        Service::Load,
                    ));
                }
            }
        }
        if tracker.is_empty() {
            continue;
        }
        if !insert_until_done(&client, &rows, &mut shutdown).await {
            break;
        }
        if !undecodable.is_empty() {
            warn!(messages = undecodable.len(), topic = %config.kafka.dlq_topic, reason = Reason::UndecodableCurated.as_str(), "undecodable curated messages sent to the dead-letter topic");
        }
        let mut delivered = true;
        for letter in &undecodable {
            if !dead_letter::deliver(&producer, &config.kafka.dlq_topic, letter, &mut shutdown)
                .await
            {
                delivered = false;
                break;
            }
        }
        if !delivered {
            break;
        }
        tracker.store(&consumer)?;
    }
    if let Err(error) = consumer.commit_consumer_state(CommitMode::Sync) {
        warn!(%error, "final commit");
    }
    info!("load stopped");
    Ok(())
}

/// Inserts with exponential backoff and jitter; `false` only if shutdown came
/// before ClickHouse took the batch (its offsets stay uncommitted).
async fn insert_until_done(
    client: &::clickhouse::Client,
    rows: &[EventRow],
    shutdown: &mut Shutdown,
) -> bool {
    if rows.is_empty() {
        return true;
    }
    let mut backoff =
        Backoff::new(Duration::from_millis(200), Duration::from_secs(10)).with_jitter();
    loop {
        let started = Instant::now();
        match insert(client, rows).await {
            Ok(()) => {
                let elapsed = started.elapsed();
                metrics::counter!("egov_load_rows_inserted_total", "table" => EVENTS_TABLE)
                    .increment(rows.len() as u64);
                metrics::histogram!("egov_load_batch_rows").record(rows.len() as f64);
                metrics::histogram!("egov_load_insert_duration_seconds")
                    .record(elapsed.as_secs_f64());
                info!(
                    table = EVENTS_TABLE,
                    batch_rows = rows.len(),
                    elapsed_ms = elapsed.as_millis() as u64,
                    "inserted"
                );
                return true;
            }
            Err(error) => {
                let pause = backoff.pause();
                warn!(table = EVENTS_TABLE, batch_rows = rows.len(), %error, retry_in_ms = millis(pause), "insert failed; retrying");
                if !Backoff::sleep(pause, shutdown).await {
                    return false;
                }
            }
        }
    }
}

async fn insert(
    client: &::clickhouse::Client,
    rows: &[EventRow],
) -> Result<(), ::clickhouse::error::Error> {
    let mut insert = client.insert::<EventRow>(EVENTS_TABLE).await?;
    for row in rows {
        insert.write(row).await?;
    }
    insert.end().await
}
