//! The dead-letter topic for operators: `egov dlq list` shows what is there and
//! why; `egov dlq replay` sends each dead letter back to the raw topic once
//! (after the cause was fixed, e.g. a unit added to the catalogue). Replayed
//! events still count once: figures are keyed by event id.

use egov_common::config::KafkaConfig;
use egov_common::kafka::{self, OffsetTracker};
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use serde::Serialize;
use std::collections::HashMap;
use std::time::Duration;

/// Header naming the dead letter a replayed message came from.
pub const HEADER_REPLAYED_FROM: &str = "egov-replayed-from";

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DeadLetter {
    pub partition: i32,
    pub offset: i64,
    pub reason: String,
    pub detail: String,
    /// Where the message was read when it failed.
    pub source: String,
    pub dead_at_ms: i64,
    pub event_id: Option<String>,
    pub bytes: usize,
}

fn header(message: &BorrowedMessage<'_>, name: &str) -> String {
    kafka::header(message, name).unwrap_or_default().to_owned()
}

impl DeadLetter {
    fn from_message(message: &BorrowedMessage<'_>) -> Self {
        let event_id = message
            .payload()
            .and_then(|p| serde_json::from_slice::<serde_json::Value>(p).ok())
            .and_then(|v| {
                v.get("event_id")
                    .and_then(|id| id.as_str())
                    .map(str::to_owned)
            });
        Self {
            partition: message.partition(),
            offset: message.offset(),
            reason: header(message, kafka::HEADER_DLQ_REASON),
            detail: header(message, kafka::HEADER_DLQ_DETAIL),
            source: format!(
                "{}/{}@{}",
                header(message, kafka::HEADER_DLQ_TOPIC),
                header(message, kafka::HEADER_DLQ_PARTITION),
                header(message, kafka::HEADER_DLQ_OFFSET)
            ),
            dead_at_ms: header(message, kafka::HEADER_DLQ_AT_MS)
                .parse()
                .unwrap_or(0),
            event_id,
            bytes: message.payload_len(),
        }
    }
}

/// Every dead letter the topic holds, oldest first per partition.
pub async fn list(config: &KafkaConfig) -> Result<Vec<DeadLetter>, KafkaError> {
    let mut letters = Vec::new();
    kafka::scan_topic(config, &config.dlq_topic, |m| {
        letters.push(DeadLetter::from_message(m))
    })
    .await?;
    letters.sort_by_key(|l| (l.partition, l.offset));
    Ok(letters)
}

/// Counts per reason, for summaries.
pub fn by_reason(letters: &[DeadLetter]) -> HashMap<&str, usize> {
    let mut counts = HashMap::new();
    for letter in letters {
        *counts.entry(letter.reason.as_str()).or_insert(0) += 1;
    }
    counts
}

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct ReplayStats {
    pub replayed: u64,
}

/// Sends every dead letter not replayed before back to the raw topic, with its
/// original headers. Progress is kept by the consumer group
/// `<transform group>-dlq-replay`, committed after each acknowledged produce
/// round, so a second replay sends only newer dead letters.
pub async fn replay(config: &KafkaConfig) -> Result<ReplayStats, KafkaError> {
    let group = format!("{}-dlq-replay", config.transform_group);
    let consumer = kafka::durable_consumer(config, &group, &config.dlq_topic)?;
    let producer = kafka::durable_producer(config)?;
    let mut stats = ReplayStats::default();
    let mut tracker = OffsetTracker::default();
    // The topic's end as it is now; letters arriving during the replay wait for the next one.
    let metadata = consumer.fetch_metadata(Some(&config.dlq_topic), Duration::from_secs(10))?;
    let mut ends = HashMap::new();
    for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
        let (_, high) = consumer.fetch_watermarks(
            &config.dlq_topic,
            partition.id(),
            Duration::from_secs(10),
        )?;
        ends.insert(partition.id(), high);
    }
    let committed = consumer.committed(Duration::from_secs(10)).ok();
    let mut pending: HashMap<i32, i64> = ends
        .iter()
        .filter(|(partition, high)| {
            let done = committed
                .as_ref()
                .and_then(|c| c.find_partition(&config.dlq_topic, **partition))
                .and_then(|p| p.offset().to_raw())
                .unwrap_or(0);
            **high > done.max(0)
        })
        .map(|(p, h)| (*p, *h))
        .collect();
    while !pending.is_empty() {
        let message = match tokio::time::timeout(Duration::from_secs(15), consumer.recv()).await {
            Ok(message) => message?,
            Err(_) => break,
        };
        let Some(end) = pending.get(&message.partition()).copied() else {
            continue;
        };
        if message.offset() >= end {
            pending.remove(&message.partition());
            continue;
        }
        let mut headers = OwnedHeaders::new();
        if let Some(original) = message.headers() {
            for h in original.iter().filter(|h| !h.key.starts_with("egov-dlq-")) {
                headers = headers.insert(Header {
                    key: h.key,
                    value: h.value,
                });
            }
        }
        let origin = format!(
            "{}/{}@{}",
            message.topic(),
            message.partition(),
            message.offset()
        );
        headers = headers.insert(Header {
            key: HEADER_REPLAYED_FROM,
            value: Some(origin.as_str()),
        });
        let mut record = FutureRecord::to(&config.raw_topic).headers(headers);
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        if let Some(payload) = message.payload() {
            record = record.payload(payload);
        }
        producer
            .send(record, Duration::from_secs(10))
            .await
            .map_err(|(e, _)| e)?;
        tracker.observe(&message);
        tracker.store(&consumer)?;
        stats.replayed += 1;
        if message.offset() + 1 >= end {
            pending.remove(&message.partition());
        }
    }
    consumer
        .commit_consumer_state(CommitMode::Sync)
        .or_else(|e| match e {
            // Nothing stored: nothing to commit.
            KafkaError::ConsumerCommit(rdkafka::types::RDKafkaErrorCode::NoOffset) => Ok(()),
            other => Err(other),
        })?;
    Ok(stats)
}
