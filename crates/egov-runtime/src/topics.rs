//! The pipeline's topics as the configuration wants them, and how an existing
//! topic falls short of that.
//!
//! A topic the pipeline creates gets `kafka.partitions`, `kafka.replication_factor`
//! replicas, `min.insync.replicas` one less than that (at least 1) and the
//! retention configured for it (`kafka.raw_retention_days`, …). A topic that
//! already exists is never changed, but one with fewer replicas, a lower
//! `min.insync.replicas` or a shorter retention than configured is reported:
//! a warning at start (and whenever what falls short changes), the gauge
//! `egov_topic_weaker_than_config{topic}`, and `egov status`.

use crate::config::KafkaConfig;
use rdkafka::admin::{
    AdminClient, AdminOptions, ConfigResourceResult, NewTopic, ResourceSpecifier, TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// How often a running service checks its topics again, so that the gauge
/// follows a topic fixed (or weakened) while it runs.
pub const RECHECK_INTERVAL: Duration = Duration::from_secs(300);

const TIMEOUT: Duration = Duration::from_secs(10);
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// What the configuration wants of one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i32,
    pub min_insync_replicas: i32,
    /// `retention.ms` (-1: forever); `None` for a topic that is not one of the
    /// pipeline's three (the broker's default then).
    pub retention_ms: Option<i64>,
}

impl TopicSpec {
    pub fn new(config: &KafkaConfig, name: &str) -> Self {
        let days = if name == config.raw_topic {
            Some(config.raw_retention_days)
        } else if name == config.curated_topic {
            Some(config.curated_retention_days)
        } else if name == config.dlq_topic {
            Some(config.dlq_retention_days)
        } else {
            None
        };
        Self {
            name: name.to_owned(),
            partitions: config.partitions,
            replication_factor: config.replication_factor,
            min_insync_replicas: (config.replication_factor - 1).max(1),
            retention_ms: days.map(|days| match days {
                0 => -1,
                days => i64::from(days) * DAY_MS,
            }),
        }
    }

    /// The topic's settings as `(name, value)` for its creation.
    fn configs(&self) -> Vec<(&'static str, String)> {
        let mut configs = vec![("min.insync.replicas", self.min_insync_replicas.to_string())];
        if let Some(retention) = self.retention_ms {
            configs.push(("retention.ms", retention.to_string()));
        }
        configs
    }
}

/// What an existing topic has.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TopicState {
    /// The fewest replicas of any of its partitions.
    pub replication_factor: i32,
    pub min_insync_replicas: Option<i32>,
    /// `retention.ms` (-1: forever).
    pub retention_ms: Option<i64>,
}

/// One setting in which a topic is weaker than configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "setting", rename_all = "snake_case")]
pub enum Shortfall {
    ReplicationFactor { has: i32, configured: i32 },
    MinInsyncReplicas { has: i32, configured: i32 },
    RetentionMs { has: i64, configured: i64 },
}

impl std::fmt::Display for Shortfall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shortfall::ReplicationFactor { has, configured } => {
                write!(f, "replication factor {has}, configured {configured}")
            }
            Shortfall::MinInsyncReplicas { has, configured } => {
                write!(f, "min.insync.replicas {has}, configured {configured}")
            }
            Shortfall::RetentionMs { has, configured } => write!(
                f,
                "retention {}, configured {}",
                retention(*has),
                retention(*configured)
            ),
        }
    }
}

fn retention(ms: i64) -> String {
    match ms {
        ms if ms < 0 => "forever".to_owned(),
        ms if ms % DAY_MS == 0 => format!("{} d", ms / DAY_MS),
        ms if ms % 3_600_000 == 0 => format!("{} h", ms / 3_600_000),
        ms => format!("{ms} ms"),
    }
}

/// How `state` falls short of `spec`; empty when it is as configured or stronger.
pub fn shortfalls(spec: &TopicSpec, state: &TopicState) -> Vec<Shortfall> {
    let mut found = Vec::new();
    if state.replication_factor < spec.replication_factor {
        found.push(Shortfall::ReplicationFactor {
            has: state.replication_factor,
            configured: spec.replication_factor,
        });
    }
    if let Some(has) = state.min_insync_replicas {
        if has < spec.min_insync_replicas {
            found.push(Shortfall::MinInsyncReplicas {
                has,
                configured: spec.min_insync_replicas,
            });
        }
    }
    if let (Some(has), Some(configured)) = (state.retention_ms, spec.retention_ms) {
        let forever = |ms: i64| ms < 0;
        if !forever(has) && (forever(configured) || has < configured) {
            found.push(Shortfall::RetentionMs { has, configured });
        }
    }
    found
}

/// One topic checked against the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopicCheck {
    pub topic: String,
    /// Whether the topic exists (a missing one is created by the services).
    pub exists: bool,
    pub weaker: Vec<Shortfall>,
}

impl TopicCheck {
    /// The shortfalls for a person: `replication factor 1, configured 3; …`.
    pub fn describe(&self) -> String {
        self.weaker
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

type Admin = Arc<AdminClient<DefaultClientContext>>;

fn admin(config: &KafkaConfig) -> Result<Admin, KafkaError> {
    Ok(Arc::new(crate::kafka::client_config(config).create()?))
}

/// Creates the topics that do not exist yet as configured, and checks those
/// that did against the configuration: reported by [`report`] and returned.
pub async fn ensure(config: &KafkaConfig, topics: &[&str]) -> Result<Vec<TopicCheck>, KafkaError> {
    let admin = admin(config)?;
    let replicas = replication_factors(&admin).await?;
    let specs: Vec<TopicSpec> = topics
        .iter()
        .map(|name| TopicSpec::new(config, name))
        .collect();
    let missing: Vec<&TopicSpec> = specs
        .iter()
        .filter(|spec| !replicas.contains_key(&spec.name))
        .collect();
    if !missing.is_empty() {
        let configs: Vec<Vec<(&'static str, String)>> =
            missing.iter().map(|spec| spec.configs()).collect();
        let new_topics: Vec<NewTopic<'_>> = missing
            .iter()
            .zip(&configs)
            .map(|(spec, configs)| {
                configs.iter().fold(
                    NewTopic::new(
                        &spec.name,
                        spec.partitions,
                        TopicReplication::Fixed(spec.replication_factor),
                    ),
                    |topic, (key, value)| topic.set(key, value),
                )
            })
            .collect();
        let options = AdminOptions::new().operation_timeout(Some(TIMEOUT));
        for (result, spec) in admin
            .create_topics(&new_topics, &options)
            .await?
            .into_iter()
            .zip(&missing)
        {
            match result {
                Ok(_) => tracing::info!(
                    topic = spec.name,
                    partitions = spec.partitions,
                    replication_factor = spec.replication_factor,
                    min_insync_replicas = spec.min_insync_replicas,
                    retention_ms = spec.retention_ms,
                    "topic created"
                ),
                // Created by another instance meanwhile: checked below.
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => {
                    tracing::error!(topic, %code, "cannot create topic");
                    return Err(KafkaError::AdminOp(code));
                }
            }
        }
    }
    let created: Vec<&str> = missing.iter().map(|spec| spec.name.as_str()).collect();
    let mut checks = check_with(&admin, &specs, &created).await?;
    // What was just created is as configured; another instance's creation
    // (TopicAlreadyExists above) is checked the next time round.
    for check in checks.iter_mut().filter(|c| !c.exists) {
        check.exists = true;
    }
    Ok(checks)
}

/// Checks `topics` against the configuration without changing anything (for
/// `egov status`); a topic that does not exist is said so.
pub async fn check(config: &KafkaConfig, topics: &[&str]) -> Result<Vec<TopicCheck>, KafkaError> {
    let admin = admin(config)?;
    let specs: Vec<TopicSpec> = topics
        .iter()
        .map(|name| TopicSpec::new(config, name))
        .collect();
    check_with(&admin, &specs, &[]).await
}

/// `specs` checked; those named in `skip` are taken as they are configured.
async fn check_with(
    admin: &Admin,
    specs: &[TopicSpec],
    skip: &[&str],
) -> Result<Vec<TopicCheck>, KafkaError> {
    let replicas = replication_factors(admin).await?;
    let to_describe: Vec<&TopicSpec> = specs
        .iter()
        .filter(|s| replicas.contains_key(&s.name) && !skip.contains(&s.name.as_str()))
        .collect();
    let resources: Vec<ResourceSpecifier<'_>> = to_describe
        .iter()
        .map(|s| ResourceSpecifier::Topic(&s.name))
        .collect();
    let described = if resources.is_empty() {
        Vec::new()
    } else {
        let options = AdminOptions::new().request_timeout(Some(TIMEOUT));
        admin.describe_configs(&resources, &options).await?
    };
    let mut states: BTreeMap<&str, TopicState> = BTreeMap::new();
    for (spec, result) in to_describe.iter().zip(described) {
        let mut state = state_of(result)?;
        state.replication_factor = replicas.get(&spec.name).copied().unwrap_or(0);
        states.insert(&spec.name, state);
    }
    Ok(specs
        .iter()
        .map(|spec| TopicCheck {
            topic: spec.name.clone(),
            exists: replicas.contains_key(&spec.name),
            weaker: states
                .get(spec.name.as_str())
                .map(|state| shortfalls(spec, state))
                .unwrap_or_default(),
        })
        .collect())
}

fn state_of(result: ConfigResourceResult) -> Result<TopicState, KafkaError> {
    let resource = result.map_err(KafkaError::AdminOp)?;
    let value = |name: &str| {
        resource
            .get(name)
            .and_then(|entry| entry.value.as_deref())
            .and_then(|value| value.parse::<i64>().ok())
    };
    Ok(TopicState {
        replication_factor: 0,
        min_insync_replicas: value("min.insync.replicas").and_then(|v| i32::try_from(v).ok()),
        retention_ms: value("retention.ms"),
    })
}

/// Every topic of the cluster and the fewest replicas of its partitions. All
/// topics are asked for: a metadata request naming a missing topic could
/// make a broker with `auto.create.topics.enable` create it with its defaults.
async fn replication_factors(admin: &Admin) -> Result<BTreeMap<String, i32>, KafkaError> {
    let admin = admin.clone();
    tokio::task::spawn_blocking(move || {
        let metadata = admin.inner().fetch_metadata(None, TIMEOUT)?;
        Ok(metadata
            .topics()
            .iter()
            .filter(|topic| topic.error().is_none())
            .map(|topic| {
                let fewest = topic
                    .partitions()
                    .iter()
                    .map(|p| i32::try_from(p.replicas().len()).unwrap_or(i32::MAX))
                    .min()
                    .unwrap_or(0);
                (topic.name().to_owned(), fewest)
            })
            .collect())
    })
    .await
    .map_err(|_| KafkaError::Canceled)?
}

/// Logs each topic weaker than configured (`warn`, fields first) and sets
/// `egov_topic_weaker_than_config{topic}` to the number of its settings that
/// fall short (0: as configured or stronger).
pub fn report(checks: &[TopicCheck]) {
    for check in checks {
        metrics::gauge!("egov_topic_weaker_than_config", "topic" => check.topic.clone())
            .set(check.weaker.len() as f64);
        if !check.weaker.is_empty() {
            tracing::warn!(
                topic = check.topic,
                weaker = %check.describe(),
                "topic settings weaker than configured"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(replication_factor: i32) -> KafkaConfig {
        KafkaConfig {
            replication_factor,
            ..KafkaConfig::default()
        }
    }

    #[test]
    fn specs_follow_the_configuration() {
        let config = config(3);
        let raw = TopicSpec::new(&config, "egov.raw.v1");
        assert_eq!(raw.replication_factor, 3);
        assert_eq!(raw.min_insync_replicas, 2);
        assert_eq!(raw.retention_ms, Some(7 * DAY_MS));
        assert_eq!(
            TopicSpec::new(&config, "egov.dlq.v1").retention_ms,
            Some(30 * DAY_MS)
        );
        assert_eq!(
            TopicSpec::new(&config, "egov.curated.v1").retention_ms,
            Some(3 * DAY_MS)
        );
        assert_eq!(TopicSpec::new(&config, "other").retention_ms, None);
        // One replica (deploy/local) or two: min.insync.replicas stays 1.
        assert_eq!(TopicSpec::new(&self::config(1), "x").min_insync_replicas, 1);
        assert_eq!(TopicSpec::new(&self::config(2), "x").min_insync_replicas, 1);
        let forever = KafkaConfig {
            dlq_retention_days: 0,
            ..KafkaConfig::default()
        };
        assert_eq!(
            TopicSpec::new(&forever, "egov.dlq.v1").configs(),
            vec![
                ("min.insync.replicas", "1".to_owned()),
                ("retention.ms", "-1".to_owned())
            ]
        );
    }

    #[test]
    fn weaker_settings_are_found_and_stronger_ones_accepted() {
        let spec = TopicSpec::new(&config(3), "egov.raw.v1");
        let as_configured = TopicState {
            replication_factor: 3,
            min_insync_replicas: Some(2),
            retention_ms: Some(7 * DAY_MS),
        };
        assert!(shortfalls(&spec, &as_configured).is_empty());
        let stronger = TopicState {
            replication_factor: 5,
            min_insync_replicas: Some(3),
            retention_ms: Some(-1),
        };
        assert!(shortfalls(&spec, &stronger).is_empty());
        let weaker = TopicState {
            replication_factor: 1,
            min_insync_replicas: Some(1),
            retention_ms: Some(3_600_000),
        };
        let found = shortfalls(&spec, &weaker);
        assert_eq!(
            found,
            vec![
                Shortfall::ReplicationFactor {
                    has: 1,
                    configured: 3
                },
                Shortfall::MinInsyncReplicas {
                    has: 1,
                    configured: 2
                },
                Shortfall::RetentionMs {
                    has: 3_600_000,
                    configured: 7 * DAY_MS
                },
            ]
        );
        let check = TopicCheck {
            topic: "egov.raw.v1".into(),
            exists: true,
            weaker: found,
        };
        assert_eq!(
            check.describe(),
            "replication factor 1, configured 3; min.insync.replicas 1, configured 2; \
             retention 1 h, configured 7 d"
        );
        // Kept forever is configured: any finite retention is weaker.
        let forever = TopicSpec {
            retention_ms: Some(-1),
            ..spec
        };
        assert_eq!(
            shortfalls(&forever, &as_configured),
            vec![Shortfall::RetentionMs {
                has: 7 * DAY_MS,
                configured: -1
            }]
        );
        assert_eq!(
            forever.retention_ms.map(retention).as_deref(),
            Some("forever")
        );
    }
}
