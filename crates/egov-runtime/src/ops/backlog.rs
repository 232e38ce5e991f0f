//! What waits in Kafka, seen from outside (joining no group), as `egov
//! status` and the dashboard's pipeline page show it: each stage's consumer
//! group lag and the dead letters.

use super::{group_lag, topic_messages};
use crate::config::KafkaConfig;
use crate::stall::Stage;
use serde::Serialize;
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

/// Measures the backlog, each Kafka request within `timeout` and off the
/// async runtime (they block); an error is `kafka: …`.
pub async fn measure(kafka: &KafkaConfig, timeout: Duration) -> Backlog {
    let groups = [
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
    ];
    let lag = |group: &String, topic: &String| {
        let (config, group, topic) = (kafka.clone(), group.clone(), topic.clone());
        blocking(move || {
            group_lag(&config, &group, &topic, timeout)
                .map(|partitions| partitions.iter().map(|p| p.lag).sum::<i64>())
        })
    };
    let dead_letters = {
        let (config, topic) = (kafka.clone(), kafka.dlq_topic.clone());
        blocking(move || topic_messages(&config, &topic, timeout))
    };
    let (transform, load, dead_letters) = tokio::join!(
        lag(&groups[0].1, &groups[0].2),
        lag(&groups[1].1, &groups[1].2),
        dead_letters
    );
    Backlog {
        groups: groups
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

async fn blocking<T: Send + 'static, E: std::fmt::Display + Send + 'static>(
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, String> {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(format!("kafka: {error}")),
        Err(error) => Err(error.to_string()),
    }
}
