//! What waits in Kafka, seen from outside (joining no group), as `egov
//! status` and the dashboard's pipeline page show it: each stage's consumer
//! group lag and the dead letters.

use super::{lag_on, messages_on, outside_client};
use crate::config::KafkaConfig;
use crate::stall::Stage;
use rdkafka::consumer::BaseConsumer;
use rdkafka::error::KafkaError;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// One stage's consumer group: what it has not committed yet on its topic.
/// `L` is how the lag is told: as measured (the default: summed over the
/// topic's partitions; why not, when Kafka could not tell), or as the fields
/// an answer writes it in, flattened into the group's JSON object (`egov
/// status`'s and the dashboard's pipeline page's, which differ).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupLag<L = Result<i64, String>> {
    #[serde(rename = "service")]
    pub stage: Stage,
    pub group: String,
    pub topic: String,
    #[serde(flatten)]
    pub lag: L,
}

impl<L> GroupLag<L> {
    /// The same group, its lag told as `tell` says.
    pub fn map_lag<M>(self, tell: impl FnOnce(L) -> M) -> GroupLag<M> {
        GroupLag {
            stage: self.stage,
            group: self.group,
            topic: self.topic,
            lag: tell(self.lag),
        }
    }
}

/// Every stage's backlog and the dead letters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backlog {
    /// Transform's group on the raw topic, then load's on the curated one.
    pub groups: Vec<GroupLag>,
    /// The messages the dead-letter topic holds.
    pub dead_letters: Result<i64, String>,
}

/// Measures the backlog once, each Kafka request within `timeout` and off the
/// async runtime (they block); an error is `kafka: …`.
pub async fn measure(kafka: &KafkaConfig, timeout: Duration) -> Backlog {
    match Probe::new(kafka) {
        Ok(probe) => probe.measure(timeout).await,
        Err(error) => {
            let error = format!("kafka: {error}");
            let groups = stages(kafka)
                .into_iter()
                .map(|(stage, group, topic)| GroupLag {
                    stage,
                    group,
                    topic,
                    lag: Err(error.clone()),
                })
                .collect();
            Backlog {
                groups,
                dead_letters: Err(error),
            }
        }
    }
}

/// Transform's group on the raw topic, then load's on the curated one.
fn stages(kafka: &KafkaConfig) -> [(Stage, String, String); 2] {
    [
        (
            Stage::Transform,
            kafka.transform_group.clone(),
            kafka.raw_topic.clone(),
        ),
        (
            Stage::Load,
            kafka.load_group.clone(),
            kafka.curated_topic.clone(),
        ),
    ]
}

/// The Kafka clients that measure the backlog, kept to measure it again: a
/// new client costs a connection and a metadata round trip before its first
/// answer (about 100 ms here), which a page shown every few seconds (the
/// dashboard's pipeline page) need not pay each time. They join no group.
pub struct Probe {
    kafka: KafkaConfig,
    /// One client in each stage's group (for its committed offsets), in
    /// [`stages`]' order.
    groups: [Arc<BaseConsumer>; 2],
    /// One in no group, for the dead-letter topic's watermarks.
    plain: Arc<BaseConsumer>,
}

impl Probe {
    /// The clients; nothing is asked of Kafka yet.
    pub fn new(kafka: &KafkaConfig) -> Result<Self, KafkaError> {
        Ok(Self {
            kafka: kafka.clone(),
            groups: [
                Arc::new(outside_client(kafka, &kafka.transform_group)?),
                Arc::new(outside_client(kafka, &kafka.load_group)?),
            ],
            plain: Arc::new(outside_client(kafka, "")?),
        })
    }

    /// Every stage's backlog and the dead letters now.
    pub async fn measure(&self, timeout: Duration) -> Backlog {
        let stages = stages(&self.kafka);
        let lag = |client: &Arc<BaseConsumer>, topic: &String| {
            let (client, topic) = (Arc::clone(client), topic.clone());
            blocking(move || {
                lag_on(&client, &topic, timeout)
                    .map(|partitions| partitions.iter().map(|p| p.lag).sum::<i64>())
            })
        };
        let dead_letters = {
            let (client, topic) = (Arc::clone(&self.plain), self.kafka.dlq_topic.clone());
            blocking(move || messages_on(&client, &topic, timeout))
        };
        let (transform, load, dead_letters) = tokio::join!(
            lag(&self.groups[0], &stages[0].2),
            lag(&self.groups[1], &stages[1].2),
            dead_letters
        );
        Backlog {
            groups: stages
                .into_iter()
                .zip([transform, load])
                .map(|((stage, group, topic), lag)| GroupLag {
                    stage,
                    group,
                    topic,
                    lag,
                })
                .collect(),
            dead_letters,
        }
    }
}

async fn blocking<T: Send + 'static, E: std::fmt::Display + Send + 'static>(
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, String> {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(format!("kafka: {error}")),
        Err(error) => Err(error.to_string()),
    }
}
