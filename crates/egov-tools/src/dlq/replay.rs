//! The operator's side of the dead-letter topic: `egov dlq list` shows what is
//! there and why; `egov dlq replay` sends each letter back to the topic it
//! came from (raw letters are curated again, curated ones loaded again),
//! once: after the cause was fixed, e.g. a unit added to the catalogue.
//! Replayed events still count once: figures are keyed by event id.

use egov_runtime::config::KafkaConfig;
use egov_runtime::dead_letter::{
    DeadLetter, HEADER_PREFIX, HEADER_REPLAYED_FROM, HEADER_TOPIC, HEADER_TRUNCATED,
};
use egov_runtime::kafka;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// Letters produced before their acknowledgements are awaited and committed.
const REPLAY_CHUNK: usize = 500;
const TIMEOUT: Duration = Duration::from_secs(10);

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

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct ReplayStats {
    /// Letters sent back to the raw topic (transform's).
    pub to_raw: u64,
    /// Letters sent back to the curated topic (load's).
    pub to_curated: u64,
    /// Letters that cannot be replayed: truncated ones (their value is only
    /// at their origin) and those from a topic that is neither raw nor curated.
    pub skipped: u64,
}

impl ReplayStats {
    pub fn replayed(&self) -> u64 {
        self.to_raw + self.to_curated
    }
}

/// The consumer group that remembers which letters were replayed.
pub fn replay_group(config: &KafkaConfig) -> String {
    format!("{}-dlq-replay", config.transform_group)
}

/// Sends every dead letter not replayed before back to the topic it was read
/// from, with its original key, value and headers (without the dead-letter
/// ones) plus `egov-replayed-from` naming the letter. The letters to replay
/// are those between the group [`replay_group`]'s committed offsets and the
/// topic's end as the replay starts; the offsets are committed after every
/// chunk whose produces were all acknowledged, so a letter replayed once is
/// never replayed again, by this run or any later one. Two replays must not
/// run at the same time.
pub async fn replay(config: &KafkaConfig) -> Result<ReplayStats, KafkaError> {
    let topic = config.dlq_topic.as_str();
    let consumer = kafka::assigned_consumer(config, &replay_group(config))?;
    let producer = kafka::durable_producer(config)?;
    let metadata = consumer.fetch_metadata(Some(topic), TIMEOUT)?;
    let mut partitions = TopicPartitionList::new();
    for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
        partitions.add_partition(topic, partition.id());
    }
    // Committed offsets of these partitions, asked for explicitly: the consumer
    // has no assignment yet, so `committed()` would know of none.
    let committed = consumer.committed_offsets(partitions, TIMEOUT)?;
    let mut assignment = TopicPartitionList::new();
    let mut ends = HashMap::new();
    for element in committed.elements() {
        let partition = element.partition();
        let (low, high) = consumer.fetch_watermarks(topic, partition, TIMEOUT)?;
        let start = match element.offset() {
            Offset::Offset(done) => done.max(low),
            _ => low,
        };
        if start < high {
            assignment.add_partition_offset(topic, partition, Offset::Offset(start))?;
            ends.insert(partition, high);
        }
    }
    let mut stats = ReplayStats::default();
    if ends.is_empty() {
        return Ok(stats);
    }
    consumer.assign(&assignment)?;
    let mut chunk: Vec<(i32, i64, Option<DeliveryFuture>)> = Vec::new();
    while !ends.is_empty() {
        let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .map_err(|_| {
                KafkaError::MessageConsumption(rdkafka::types::RDKafkaErrorCode::OperationTimedOut)
            })??;
        let (partition, offset) = (message.partition(), message.offset());
        let Some(end) = ends.get(&partition).copied() else {
            continue;
        };
        if offset + 1 >= end {
            ends.remove(&partition);
        }
        if offset >= end {
            continue;
        }
        let delivery = match destination(config, &message) {
            Some((to, counter)) => {
                *counter(&mut stats) += 1;
                let record = replayed_record(&message, to);
                Some(producer.send_result(record).map_err(|(error, _)| error)?)
            }
            None => {
                stats.skipped += 1;
                let letter = DeadLetter::from_message(&message);
                tracing::warn!(topic, partition, offset, reason = %super::shown(&letter.reason),
                    truncated = letter.truncated_from.is_some(), "dead letter not replayable; skipped");
                None
            }
        };
        chunk.push((partition, offset, delivery));
        if chunk.len() >= REPLAY_CHUNK {
            acknowledge_and_commit(&consumer, topic, std::mem::take(&mut chunk)).await?;
        }
    }
    acknowledge_and_commit(&consumer, topic, chunk).await?;
    Ok(stats)
}

/// Where a letter goes back to, and which count it adds to; `None` when it cannot.
#[allow(clippy::type_complexity)]
fn destination<'c>(
    config: &'c KafkaConfig,
    message: &BorrowedMessage<'_>,
) -> Option<(&'c str, fn(&mut ReplayStats) -> &mut u64)> {
    if kafka::header(message, HEADER_TRUNCATED).is_some() {
        return None;
    }
    let origin = kafka::header(message, HEADER_TOPIC)?;
    if origin == config.raw_topic {
        Some((config.raw_topic.as_str(), |s| &mut s.to_raw))
    } else if origin == config.curated_topic {
        Some((config.curated_topic.as_str(), |s| &mut s.to_curated))
    } else {
        None
    }
}

/// The original message again, marked with the letter it came from.
fn replayed_record<'m>(
    message: &'m BorrowedMessage<'_>,
    to: &'m str,
) -> FutureRecord<'m, [u8], [u8]> {
    let mut headers = OwnedHeaders::new();
    if let Some(original) = message.headers() {
        for h in original
            .iter()
            .filter(|h| !h.key.starts_with(HEADER_PREFIX) && h.key != HEADER_REPLAYED_FROM)
        {
            headers = headers.insert(Header {
                key: h.key,
                value: h.value,
            });
        }
    }
    let from = format!(
        "{}/{}@{}",
        message.topic(),
        message.partition(),
        message.offset()
    );
    headers = headers.insert(Header {
        key: HEADER_REPLAYED_FROM,
        value: Some(from.as_str()),
    });
    let mut record = FutureRecord::to(to).headers(headers);
    if let Some(key) = message.key() {
        record = record.key(key);
    }
    if let Some(payload) = message.payload() {
        record = record.payload(payload);
    }
    record
}

/// Awaits every acknowledgement of a chunk, then commits, per partition, past
/// the letters acknowledged (or skipped) without a gap; the first refusal is
/// the error returned, after what was acknowledged before it is committed.
async fn acknowledge_and_commit(
    consumer: &StreamConsumer,
    topic: &str,
    chunk: Vec<(i32, i64, Option<DeliveryFuture>)>,
) -> Result<(), KafkaError> {
    let mut next: BTreeMap<i32, i64> = BTreeMap::new();
    let mut failed: HashMap<i32, KafkaError> = HashMap::new();
    for (partition, offset, delivery) in chunk {
        let outcome = match delivery {
            None => Ok(()),
            Some(delivery) => match delivery.await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err((error, _))) => Err(error),
                Err(_canceled) => Err(KafkaError::Canceled),
            },
        };
        if failed.contains_key(&partition) {
            continue;
        }
        match outcome {
            Ok(()) => {
                next.insert(partition, offset + 1);
            }
            Err(error) => {
                failed.insert(partition, error);
            }
        }
    }
    if !next.is_empty() {
        let mut offsets = TopicPartitionList::new();
        for (partition, offset) in &next {
            offsets.add_partition_offset(topic, *partition, Offset::Offset(*offset))?;
        }
        consumer.commit(&offsets, CommitMode::Sync)?;
    }
    match failed.into_values().next() {
        Some(error) => Err(error),
        None => Ok(()),
    }
}
