//! The lag reporter of the consumer stages (transform, load): their consumer
//! measured in-process every few seconds, as `egov_consumer_lag` and, through
//! [`StallDetector`], as a stall in `/readyz` and `egov_stage_stalled_seconds`.

use crate::ops::{Check, Readiness};
use crate::stall::{PartitionOffsets, Stage, StallDetector};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// How often [`spawn_lag_reporter`] measures (more often when
/// `ops.stall_after_s` is under 10 s, down to every second).
pub const LAG_INTERVAL: Duration = Duration::from_secs(5);

/// Measures a stage's consumer every [`LAG_INTERVAL`] and reports:
/// - `egov_consumer_lag{service,topic,partition}`: per assigned partition, the
///   high watermark minus the consumer's position (its committed offset
///   before it has read anything);
/// - whether the stage is stalled (its committed offsets unmoved for
///   `stall_after` while messages wait, [`StallDetector`]): to `readiness` as
///   [`Check::Stage`], and as `egov_stage_stalled_seconds{service}` (0 when not).
///
/// Holds the consumer weakly and ends once the service dropped it.
pub fn spawn_lag_reporter(
    consumer: &Arc<StreamConsumer>,
    stage: Stage,
    readiness: Readiness,
    stall_after: Duration,
) -> JoinHandle<()> {
    let consumer = Arc::downgrade(consumer);
    let service = stage.as_str();
    let interval = if stall_after.is_zero() {
        LAG_INTERVAL
    } else {
        (stall_after / 2).clamp(Duration::from_secs(1), LAG_INTERVAL)
    };
    tokio::spawn(async move {
        // Partitions reported last time: one given away since goes to 0, so that
        // summing over the instances of a service stays right after a rebalance.
        let mut reported: BTreeSet<(String, i32)> = BTreeSet::new();
        let mut detector = StallDetector::new(stall_after);
        loop {
            tokio::time::sleep(interval).await;
            let consumer: Weak<StreamConsumer> = consumer.clone();
            let measured = tokio::task::spawn_blocking(move || {
                consumer
                    .upgrade()
                    .map(|consumer| measure_partitions(consumer.as_ref(), Duration::from_secs(1)))
            })
            .await;
            match measured {
                Ok(Some(Ok(partitions))) => {
                    let now: BTreeSet<(String, i32)> = partitions
                        .iter()
                        .map(|p| (p.topic.clone(), p.partition))
                        .collect();
                    let revoked = reported.difference(&now).map(|(t, p)| (t.clone(), *p, 0));
                    let current = partitions
                        .iter()
                        .map(|p| (p.topic.clone(), p.partition, p.lag()));
                    for (topic, partition, lag) in revoked.chain(current).collect::<Vec<_>>() {
                        metrics::gauge!(
                            "egov_consumer_lag",
                            "service" => service,
                            "topic" => topic,
                            "partition" => partition.to_string()
                        )
                        .set(lag as f64);
                    }
                    reported = now;
                    let stalled = detector.observe(&partitions, Instant::now());
                    metrics::gauge!("egov_stage_stalled_seconds", "service" => service).set(
                        stalled
                            .as_ref()
                            .map_or(0.0, |s| s.stalled_for.as_secs_f64().floor()),
                    );
                    readiness.set(
                        Check::Stage(stage),
                        stalled.map_or(Ok(()), |s| Err(s.reason())),
                    );
                }
                Ok(Some(Err(error))) => {
                    tracing::debug!(service, %error, "consumer lag not measured");
                }
                Ok(None) | Err(_) => break,
            }
        }
    })
}

/// The lag of one partition of a consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLag {
    pub topic: String,
    pub partition: i32,
    pub lag: i64,
}

/// High watermark minus position for each partition assigned to `consumer`
/// (blocking, see [`measure_partitions`]).
pub fn measure_lag<C: Consumer>(
    consumer: &C,
    timeout: Duration,
) -> Result<Vec<PartitionLag>, KafkaError> {
    Ok(measure_partitions(consumer, timeout)?
        .into_iter()
        .map(|p| PartitionLag {
            lag: p.lag(),
            topic: p.topic,
            partition: p.partition,
        })
        .collect())
}

/// Position, committed offset and high watermark of each partition assigned
/// to `consumer` (blocking: one committed-offsets request, then one watermark
/// request per partition).
pub fn measure_partitions<C: Consumer>(
    consumer: &C,
    timeout: Duration,
) -> Result<Vec<PartitionOffsets>, KafkaError> {
    let positions = consumer.position()?;
    if positions.count() == 0 {
        return Ok(Vec::new());
    }
    let mut assigned = TopicPartitionList::new();
    for element in positions.elements() {
        assigned.add_partition(element.topic(), element.partition());
    }
    let committed: BTreeMap<(String, i32), i64> = consumer
        .committed_offsets(assigned, timeout)?
        .elements()
        .iter()
        .filter_map(|element| match element.offset() {
            Offset::Offset(offset) => {
                Some(((element.topic().to_owned(), element.partition()), offset))
            }
            _ => None,
        })
        .collect();
    let mut partitions = Vec::with_capacity(positions.count());
    for element in positions.elements() {
        let (topic, partition) = (element.topic().to_owned(), element.partition());
        let (low, high) = consumer.fetch_watermarks(&topic, partition, timeout)?;
        // Nothing committed yet: a restart would read from the start.
        let committed = committed
            .get(&(topic.clone(), partition))
            .map_or(low, |offset| (*offset).max(low));
        let position = match element.offset() {
            Offset::Offset(position) => position,
            // Nothing read yet since the assignment: it starts at the committed offset.
            _ => committed,
        };
        partitions.push(PartitionOffsets {
            topic,
            partition,
            position,
            committed,
            high,
        });
    }
    Ok(partitions)
}
