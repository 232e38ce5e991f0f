//! The transform service: reads raw events, curates them (a pure function,
//! [`curate::curate`]) and produces them to the curated topic; poison goes to
//! the dead-letter topic with the reason. Offsets are stored only once every
//! message of a round has been acknowledged by Kafka.
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod curate;
pub mod dlq;

use chrono::{DateTime, Utc};
use curate::{curate, Poison, RawMeta};
use egov_common::catalogue::{Catalogue, CatalogueError};
use egov_common::config::TransformConfig;
use egov_common::contract::{Contract, ContractError};
use egov_common::kafka::{self, OffsetTracker};
use egov_common::shutdown::Shutdown;
use futures::future::join_all;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
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

/// One message of a round, ready to produce.
struct Outgoing {
    topic: String,
    key: Vec<u8>,
    payload: Vec<u8>,
    headers: OwnedHeaders,
}

/// Consumes until `shutdown`, then commits what is durable and returns.
pub async fn run(config: TransformConfig, mut shutdown: Shutdown) -> Result<(), TransformError> {
    let topics = &config.kafka;
    kafka::ensure_topics_retrying(
        topics,
        &[&topics.raw_topic, &topics.curated_topic, &topics.dlq_topic],
        shutdown.clone(),
    )
    .await;
    let catalogue = Catalogue::load(config.catalogue.path.as_deref())?;
    let contract = Contract::v1()?;
    let producer = kafka::durable_producer(topics)?;
    let consumer = std::sync::Arc::new(kafka::durable_consumer(
        topics,
        &topics.transform_group,
        &topics.raw_topic,
    )?);
    egov_common::ops::spawn_lag_reporter(&consumer, "transform");
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
            };
            outgoing.push(
                match curate(message.payload(), meta, &contract, &catalogue) {
                    Ok(event) => Outgoing {
                        topic: topics.curated_topic.clone(),
                        key: message.key().map(<[u8]>::to_vec).unwrap_or_default(),
                        payload: serde_json::to_vec(&event)?,
                        headers: OwnedHeaders::new(),
                    },
                    Err(poison) => {
                        poisoned += 1;
                        metrics::counter!("egov_dlq_messages_total", "reason" => poison.reason())
                            .increment(1);
                        dead_letter(message, &poison, &topics.dlq_topic)
                    }
                },
            );
        }
        if !produce_all(&producer, &outgoing, &mut shutdown).await {
            // Shutdown came while Kafka was refusing: nothing of this round is
            // stored, so it is read again after the restart.
            break;
        }
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

fn received_at(message: &BorrowedMessage<'_>) -> DateTime<Utc> {
    kafka::header(message, kafka::HEADER_RECEIVED_MS)
        .and_then(|ms| ms.parse::<i64>().ok())
        .or_else(|| message.timestamp().to_millis())
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .unwrap_or_else(Utc::now)
}

/// The original bytes and headers, plus why, where and when.
fn dead_letter(message: &BorrowedMessage<'_>, poison: &Poison, dlq_topic: &str) -> Outgoing {
    let mut headers = OwnedHeaders::new();
    if let Some(original) = message.headers() {
        for header in original.iter() {
            headers = headers.insert(Header {
                key: header.key,
                value: header.value,
            });
        }
    }
    let detail = poison.to_string();
    let partition = message.partition().to_string();
    let offset = message.offset().to_string();
    let now = Utc::now().timestamp_millis().to_string();
    let headers = headers
        .insert(Header {
            key: kafka::HEADER_DLQ_REASON,
            value: Some(poison.reason()),
        })
        .insert(Header {
            key: kafka::HEADER_DLQ_DETAIL,
            value: Some(detail.as_str()),
        })
        .insert(Header {
            key: kafka::HEADER_DLQ_TOPIC,
            value: Some(message.topic()),
        })
        .insert(Header {
            key: kafka::HEADER_DLQ_PARTITION,
            value: Some(partition.as_str()),
        })
        .insert(Header {
            key: kafka::HEADER_DLQ_OFFSET,
            value: Some(offset.as_str()),
        })
        .insert(Header {
            key: kafka::HEADER_DLQ_AT_MS,
            value: Some(now.as_str()),
        });
    tracing::debug!(reason = poison.reason(), topic = message.topic(), partition = message.partition(), offset = message.offset(), %detail, "dead letter");
    Outgoing {
        topic: dlq_topic.to_owned(),
        key: message.key().map(<[u8]>::to_vec).unwrap_or_default(),
        payload: message.payload().map(<[u8]>::to_vec).unwrap_or_default(),
        headers,
    }
}

/// Produces every message until Kafka has acknowledged all of them, retrying
/// the failed ones with backoff (one log line per round, not per message);
/// `false` only if shutdown came first.
async fn produce_all(
    producer: &FutureProducer,
    messages: &[Outgoing],
    shutdown: &mut Shutdown,
) -> bool {
    let mut pending: Vec<&Outgoing> = messages.iter().collect();
    let mut backoff = Duration::from_millis(100);
    loop {
        let attempts = join_all(pending.iter().map(|message| async move {
            let record = FutureRecord::to(&message.topic)
                .key(&message.key)
                .payload(&message.payload)
                .headers(message.headers.clone());
            producer
                .send(record, Duration::from_secs(5))
                .await
                .err()
                .map(|(error, _)| error)
        }));
        let results = tokio::select! {
            _ = shutdown.wait() => return false,
            results = attempts => results,
        };
        let mut first_error = None;
        let failed: Vec<&Outgoing> = pending
            .iter()
            .zip(results)
            .filter_map(|(message, error)| {
                let error = error?;
                first_error.get_or_insert(error);
                Some(*message)
            })
            .collect();
        let Some(error) = first_error else {
            return true;
        };
        warn!(failed = failed.len(), attempted = pending.len(), %error, retry_in_ms = backoff.as_millis() as u64, "produce failed; retrying");
        pending = failed;
        tokio::select! {
            _ = shutdown.wait() => return false,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}
