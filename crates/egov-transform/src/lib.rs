//! The transform service: reads raw events, curates them (a pure function,
//! [`curate::curate`]) and produces them to the curated topic; poison goes to
//! the dead-letter topic with the reason, and so does the raw message of a
//! curated event Kafka refuses for good (too large, invalid). Offsets are
//! stored only once every message of a round has been acknowledged by Kafka.
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod curate;

use chrono::{DateTime, Utc};
use curate::{curate, RawMeta};
use egov_model::catalogue::CatalogueError;
use egov_model::contract::{Contract, ContractError};
use egov_runtime::backoff::{millis, Backoff};
use egov_runtime::config::{KafkaConfig, TransformConfig};
use egov_runtime::dead_letter::{self, Letter, Reason, Service};
use egov_runtime::kafka::{self, OffsetTracker};
use egov_runtime::ops::Readiness;
use egov_runtime::seal::{SealKey, HEADER_SEAL};
use egov_runtime::shutdown::Shutdown;
use egov_runtime::stall::Stage;
use futures::future::join_all;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::time::Duration;
use tracing::{info, warn};

#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
    #[error(transparent)]
    Contract(#[from] ContractError),
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("curated event cannot be encoded: {0}")]
    Encode(#[from] serde_json::Error),
}

/// One message of a round, ready to produce: the curated event, or the raw
/// message as a dead letter.
enum Outgoing {
    Curated { key: Vec<u8>, payload: Vec<u8> },
    Letter(Letter),
}

/// Consumes until `shutdown`, then commits what is durable and returns.
pub async fn run(config: TransformConfig, shutdown: Shutdown) -> Result<(), TransformError> {
    run_with(config, shutdown, Readiness::always()).await
}

/// [`run`], reporting a stall of this stage to `readiness` (`/readyz`).
pub async fn run_with(
    config: TransformConfig,
    mut shutdown: Shutdown,
    readiness: Readiness,
) -> Result<(), TransformError> {
    let topics = &config.kafka;
    kafka::ensure_topics_retrying(
        topics,
        &[&topics.raw_topic, &topics.curated_topic, &topics.dlq_topic],
        shutdown.clone(),
    )
    .await;
    Service::Transform.register_dead_letter_metrics();
    let catalogue = config.catalogue.load()?;
    let contract = Contract::v1()?;
    let seal = topics.seal();
    if seal.is_none() {
        info!("no kafka.seal_key: every raw event is checked against the schemas again");
    }
    let producer = kafka::durable_producer(topics)?;
    let consumer = std::sync::Arc::new(kafka::durable_consumer(
        topics,
        &topics.transform_group,
        &topics.raw_topic,
    )?);
    egov_runtime::lag::spawn_lag_reporter(
        &consumer,
        Stage::Transform,
        readiness,
        Duration::from_secs(config.ops.stall_after_s),
    );
    info!(from = %topics.raw_topic, to = %topics.curated_topic, dlq = %topics.dlq_topic, "transform started");
    let max_wait = Duration::from_millis(config.service.batch_max_wait_ms);
    loop {
        let batch = tokio::select! {
            _ = shutdown.wait() => break,
            batch = next_batch(&consumer, config.service.batch_max_messages, max_wait) => batch,
        };
        let mut tracker = OffsetTracker::default();
        let mut outgoing = Vec::with_capacity(batch.len());
        let mut poisoned = 0usize;
        for message in &batch {
            tracker.observe(message);
            let meta = RawMeta {
                received_at: received_at(message),
                sealed: seal.as_ref().is_some_and(|key| is_sealed(key, message)),
            };
            outgoing.push(
                match curate(message.payload(), meta, &contract, &catalogue) {
                    Ok(event) => Outgoing::Curated {
                        key: message.key().map(<[u8]>::to_vec).unwrap_or_default(),
                        payload: serde_json::to_vec(&event)?,
                    },
                    Err(poison) => {
                        poisoned += 1;
                        Outgoing::Letter(Letter::of(
                            message,
                            poison.reason(),
                            poison.to_string(),
                            Service::Transform,
                        ))
                    }
                },
            );
        }
        let Some(refused) = produce_all(&producer, topics, &outgoing, &mut shutdown).await else {
            // Shutdown came while Kafka was refusing: nothing of this round is
            // stored, so it is read again after the restart.
            break;
        };
        // What Kafka refused for good becomes a dead letter (acknowledged
        // before the round's offsets are stored), never a retry forever.
        let Some(more) =
            settle_refused(&producer, topics, &batch, &outgoing, refused, &mut shutdown).await
        else {
            break;
        };
        poisoned += more;
        tracker.store(&consumer)?;
        metrics::counter!("egov_transform_messages_total").increment(batch.len() as u64);
        info!(
            messages = batch.len(),
            dead_letters = poisoned,
            "transformed"
        );
    }
    if let Err(error) = consumer.commit_consumer_state(CommitMode::Sync) {
        // Nothing stored since the last commit is also a KafkaError here.
        warn!(%error, "final commit");
    }
    info!("transform stopped");
    Ok(())
}

/// Up to `max` messages: waits for the first, then takes what arrives within `max_wait`.
pub(crate) async fn next_batch(
    consumer: &StreamConsumer,
    max: usize,
    max_wait: Duration,
) -> Vec<BorrowedMessage<'_>> {
    let first = kafka::next_message(consumer).await;
    let mut batch = vec![first];
    let deadline = tokio::time::Instant::now() + max_wait;
    while batch.len() < max {
        match tokio::time::timeout_at(deadline, kafka::next_message(consumer)).await {
            Ok(message) => batch.push(message),
            Err(_elapsed) => break,
        }
    }
    batch
}

/// Whether the message carries ingest's seal under `key` (`egov_runtime::seal`).
fn is_sealed(key: &SealKey, message: &BorrowedMessage<'_>) -> bool {
    let (Some(seal), Some(system), Some(received_ms), Some(payload)) = (
        kafka::header(message, HEADER_SEAL),
        kafka::header(message, kafka::HEADER_SYSTEM),
        kafka::header(message, kafka::HEADER_RECEIVED_MS),
        message.payload(),
    ) else {
        return false;
    };
    key.verifies(seal.as_bytes(), system, received_ms, payload)
}

fn received_at(message: &BorrowedMessage<'_>) -> DateTime<Utc> {
    kafka::header(message, kafka::HEADER_RECEIVED_MS)
        .and_then(|ms| ms.parse::<i64>().ok())
        .or_else(|| message.timestamp().to_millis())
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .unwrap_or_else(Utc::now)
}

/// The messages of a round Kafka refused for good: a curated event is tried
/// once more alone (Kafka refuses a batch as a whole, so one that only shared
/// a batch with a too large one passes), then its raw message goes to the
/// dead-letter topic; a refused letter goes again, truncated if need be
/// ([`dead_letter::deliver`]). Returns how many raw messages became dead
/// letters here, or `None` if shutdown came first.
async fn settle_refused(
    producer: &FutureProducer,
    topics: &KafkaConfig,
    batch: &[BorrowedMessage<'_>],
    outgoing: &[Outgoing],
    refused: Vec<usize>,
    shutdown: &mut Shutdown,
) -> Option<usize> {
    let mut dead = 0;
    for index in refused {
        let (Some(raw), Some(message)) = (batch.get(index), outgoing.get(index)) else {
            continue;
        };
        let letter = match message {
            Outgoing::Letter(letter) => std::borrow::Cow::Borrowed(letter),
            Outgoing::Curated { key, payload } => {
                let record = || {
                    FutureRecord::to(&topics.curated_topic)
                        .key(key.as_slice())
                        .payload(payload.as_slice())
                };
                let error = match kafka::produce_until_settled(producer, record, shutdown).await? {
                    Ok(()) => continue,
                    Err(error) => error,
                };
                let origin = format!("{}/{}@{}", raw.topic(), raw.partition(), raw.offset());
                warn!(topic = %topics.curated_topic, %origin, curated_bytes = payload.len(), %error,
                    "curated event refused by Kafka for good; its raw message goes to the dead-letter topic");
                dead += 1;
                std::borrow::Cow::Owned(Letter::of(
                    raw,
                    Reason::ProduceRefused,
                    format!(
                        "Kafka refused the curated event ({} bytes) for good: {error}",
                        payload.len()
                    ),
                    Service::Transform,
                ))
            }
        };
        if !dead_letter::deliver(producer, &topics.dlq_topic, &letter, shutdown).await {
            return None;
        }
    }
    Some(dead)
}

/// Produces every message until Kafka has acknowledged all of them or
/// refused them for good ([`kafka::is_refused_for_good`]), retrying the
/// others with backoff (one log line per round, not per message). Returns the
/// indices of the refused ones, or `None` if shutdown came first.
async fn produce_all(
    producer: &FutureProducer,
    topics: &KafkaConfig,
    messages: &[Outgoing],
    shutdown: &mut Shutdown,
) -> Option<Vec<usize>> {
    let mut pending: Vec<usize> = (0..messages.len()).collect();
    let mut refused = Vec::new();
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    loop {
        let attempts = join_all(pending.iter().map(|&index| async move {
            let record = match &messages[index] {
                Outgoing::Curated { key, payload } => FutureRecord::to(&topics.curated_topic)
                    .key(key.as_slice())
                    .payload(payload.as_slice()),
                Outgoing::Letter(letter) => letter.record(&topics.dlq_topic),
            };
            producer
                .send(record, Duration::from_secs(5))
                .await
                .err()
                .map(|(error, _)| error)
        }));
        let results = tokio::select! {
            _ = shutdown.wait() => return None,
            results = attempts => results,
        };
        let mut first_error = None;
        let mut failed = Vec::new();
        for (index, error) in pending.iter().zip(results) {
            let Some(error) = error else { continue };
            if kafka::is_refused_for_good(&error) {
                refused.push(*index);
            } else {
                failed.push(*index);
                first_error.get_or_insert(error);
            }
        }
        let Some(error) = first_error else {
            return Some(refused);
        };
        let pause = backoff.pause();
        warn!(failed = failed.len(), attempted = pending.len(), %error, retry_in_ms = millis(pause), "produce failed; retrying");
        pending = failed;
        if !Backoff::sleep(pause, shutdown).await {
            return None;
        }
    }
}
