//! Configuration: defaults in code, then an optional file, then environment
//! variables with prefix `EGOV` and separator `__` (e.g. `EGOV__KAFKA__BROKERS`).
//! [`Settings`] is what is read; each service takes its own typed slice of it.

use egov_model::catalogue::{Catalogue, CatalogueError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

mod dashboard;
mod env;
mod ingest;
mod scorecard;
mod security;
pub use dashboard::DashboardSection;
pub use ingest::{IngestSection, TokenConfig};
pub use scorecard::ScorecardSection;
pub use security::{SaslMechanism, Secret, SecurityProtocol};

/// The prefix of the environment variables read as configuration.
pub const ENV_PREFIX: &str = "EGOV__";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration: {0}")]
    Invalid(String),
    #[error("configuration, {origin}: {source}")]
    Source {
        origin: String,
        source: Box<config::ConfigError>,
    },
    #[error("configuration, {origin}: unknown key `{key}`{hint}")]
    UnknownKey {
        key: String,
        origin: String,
        hint: &'static str,
    },
    #[error("configuration: ingest.tokens[{index}]: {reason}")]
    Token { index: usize, reason: String },
    #[error("configuration: ingest.tokens[{first}] and ingest.tokens[{second}] are the same token (the same token_sha256)")]
    DuplicateToken { first: usize, second: usize },
    #[error(
        "configuration: no ingest tokens are configured, so no source system could send events. \
         Create one token per sender with `egov token new --system documents|onestop --units CODE,...` \
         (or `--units '*'`) and put the [[ingest.tokens]] entry it prints in the configuration file \
         (--config FILE or EGOV_CONFIG). For local development only, ingest.dev_tokens = true \
         (EGOV__INGEST__DEV_TOKENS=true) activates the development tokens instead."
    )]
    NoTokens,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Settings {
    pub kafka: KafkaConfig,
    pub clickhouse: ClickHouseConfig,
    pub log: LogConfig,
    pub catalogue: CatalogueConfig,
    pub ingest: IngestSection,
    pub transform: TransformSection,
    pub load: LoadSection,
    pub ops: OpsSection,
    pub dashboard: DashboardSection,
    pub scorecard: ScorecardSection,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KafkaConfig {
    pub brokers: String,
    /// Raw events as accepted by ingest.
    pub raw_topic: String,
    /// Normalised events written by transform, read by load.
    pub curated_topic: String,
    /// Dead letters: messages transform or load could not process, with the reason in headers.
    pub dlq_topic: String,
    /// Partitions for topics the pipeline creates itself.
    pub partitions: i32,
    /// Replicas of every topic the pipeline creates; `min.insync.replicas` is
    /// one less (at least 1), so an acks=all write survives the loss of a broker.
    pub replication_factor: i32,
    /// How long each topic keeps its messages, in days (0: forever). The raw
    /// topic is the ledger `egov reconcile` reads, the dead letters wait for
    /// `egov dlq replay`.
    pub raw_retention_days: u32,
    pub curated_retention_days: u32,
    pub dlq_retention_days: u32,
    pub transform_group: String,
    pub load_group: String,
    /// How long a produce may wait for the broker's acknowledgement.
    pub produce_timeout_ms: u64,
    /// Upper bound of messages waiting in the producer; past it ingest answers 503.
    pub producer_queue_max_messages: u32,
    /// Upper bound of the bytes waiting in the producer (KiB); past it too ingest answers 503.
    pub producer_queue_max_kbytes: u32,
    /// librdkafka's `debug` contexts (e.g. `cgrp,topic`) for diagnosing a client; empty = off.
    pub client_debug: String,
    /// How every client of the services and tools talks to the brokers.
    pub security_protocol: SecurityProtocol,
    /// With `sasl_plaintext` / `sasl_ssl`: the SASL mechanism.
    pub sasl_mechanism: SaslMechanism,
    pub sasl_username: String,
    pub sasl_password: Secret,
    /// With `ssl` / `sasl_ssl`: the PEM file of the CA(s) that signed the brokers'
    /// certificates; without it, the system's trust store.
    pub ssl_ca_file: Option<PathBuf>,
    /// The key ingest seals the raw events it checked with and transform
    /// verifies the seals with (`egov_runtime::seal`): transform skips the
    /// schema checks of sealed events. Empty: ingest seals nothing and
    /// transform checks everything, except under `egov run`, which uses a
    /// random key of its own.
    pub seal_key: Secret,
}

impl KafkaConfig {
    /// The key of `seal_key`, if one is set.
    pub fn seal(&self) -> Option<crate::seal::SealKey> {
        (!self.seal_key.is_empty())
            .then(|| crate::seal::SealKey::new(self.seal_key.expose().as_bytes()))
    }

    /// What librdkafka would only refuse when a client is created, said at load.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.replication_factor < 1 || self.partitions < 1 {
            return Err(ConfigError::Invalid(format!(
                "kafka.replication_factor ({}) and kafka.partitions ({}) must be at least 1",
                self.replication_factor, self.partitions
            )));
        }
        if self.security_protocol.uses_sasl()
            && (self.sasl_username.is_empty() || self.sasl_password.is_empty())
        {
            return Err(ConfigError::Invalid(format!(
                "kafka.security_protocol = \"{}\" needs kafka.sasl_username and kafka.sasl_password",
                self.security_protocol.as_librdkafka()
            )));
        }
        Ok(())
    }
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            brokers: "127.0.0.1:9092".into(),
            raw_topic: "egov.raw.v1".into(),
            curated_topic: "egov.curated.v1".into(),
            dlq_topic: "egov.dlq.v1".into(),
            partitions: 3,
            replication_factor: 1,
            raw_retention_days: 7,
            curated_retention_days: 3,
            dlq_retention_days: 30,
            transform_group: "egov-transform".into(),
            load_group: "egov-load".into(),
            produce_timeout_ms: 10_000,
            producer_queue_max_messages: 200_000,
            producer_queue_max_kbytes: 65_536,
            client_debug: String::new(),
            security_protocol: SecurityProtocol::Plaintext,
            sasl_mechanism: SaslMechanism::ScramSha256,
            sasl_username: String::new(),
            sasl_password: Secret::default(),
            ssl_ca_file: None,
            seal_key: Secret::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClickHouseConfig {
    /// `http://…` or `https://…`.
    pub url: String,
    pub database: String,
    pub user: String,
    pub password: Secret,
    /// With an `https://` URL: the PEM file of the CA(s) that signed the
    /// server's certificate, trusted instead of the public web roots.
    pub ca_file: Option<PathBuf>,
    /// The ClickHouse cluster (a `<remote_servers>` name) to run on: `egov migrate`
    /// creates replicated tables on every server and `Distributed` tables over them,
    /// and load inserts synchronously through them (see `deploy/cluster`). Unset: one
    /// server.
    pub cluster: Option<String>,
    /// Not a setting: every query of a client made from this configuration
    /// runs with `readonly=1` (the dashboard's).
    #[serde(skip)]
    pub read_only: bool,
}

impl ClickHouseConfig {
    /// The cluster name and, with a cluster, the database name end up in DDL and in
    /// ZooKeeper paths: plain identifiers only.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let plain = |name: &str| {
            name.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        if let Some(cluster) = &self.cluster {
            if !plain(cluster) {
                return Err(ConfigError::Invalid(format!(
                    "clickhouse.cluster = \"{cluster}\": letters, digits and _ only"
                )));
            }
            if !plain(&self.database) {
                return Err(ConfigError::Invalid(format!(
                    "clickhouse.database = \"{}\": with clickhouse.cluster, letters, digits and _ only",
                    self.database
                )));
            }
        }
        Ok(())
    }
}

impl Default for ClickHouseConfig {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:8123".into(),
            database: "egov".into(),
            user: "default".into(),
            password: Secret::default(),
            ca_file: None,
            cluster: None,
            read_only: false,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A `tracing_subscriber::EnvFilter` directive; `RUST_LOG` wins when set.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            filter: "info,rdkafka=warn".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct CatalogueConfig {
    /// A units CSV in the format of `seeds/units.csv`; without it the copy built
    /// into the binary is used.
    pub path: Option<PathBuf>,
}

impl CatalogueConfig {
    /// The catalogue at `path` if configured, otherwise the embedded one.
    pub fn load(&self) -> Result<Catalogue, CatalogueError> {
        match &self.path {
            None => Catalogue::embedded(),
            Some(path) => {
                let file = std::fs::File::open(path).map_err(|source| CatalogueError::Read {
                    path: path.display().to_string(),
                    source,
                })?;
                Catalogue::from_reader(std::io::BufReader::new(file))
            }
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TransformSection {
    /// Health and metrics of the transform service when it runs on its own.
    pub listen: String,
    /// Messages handled per produce-and-commit round.
    pub batch_max_messages: usize,
    pub batch_max_wait_ms: u64,
}

impl Default for TransformSection {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8081".into(),
            batch_max_messages: 5_000,
            batch_max_wait_ms: 200,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LoadSection {
    /// Health and metrics of the load service when it runs on its own.
    pub listen: String,
    pub batch_max_rows: usize,
    pub batch_max_bytes: usize,
    pub batch_max_wait_ms: u64,
}

impl Default for LoadSection {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8082".into(),
            batch_max_rows: 50_000,
            batch_max_bytes: 32 * 1024 * 1024,
            batch_max_wait_ms: 1_000,
        }
    }
}

/// Health checks of every service (`/readyz`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct OpsSection {
    /// How often the readiness checks (Kafka, ClickHouse) run.
    pub readiness_interval_ms: u64,
    /// How long one check may take before it counts as failed.
    pub probe_timeout_ms: u64,
    /// A consumer stage (transform, load) whose committed offsets have not
    /// moved for this long while messages wait for it is stalled: not ready,
    /// with the reason. 0 turns stall detection off.
    pub stall_after_s: u64,
}

impl Default for OpsSection {
    fn default() -> Self {
        Self {
            readiness_interval_ms: 2_000,
            probe_timeout_ms: 1_500,
            stall_after_s: 60,
        }
    }
}

/// What the ingest service needs.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    pub http: IngestSection,
    pub kafka: KafkaConfig,
    pub catalogue: CatalogueConfig,
    pub ops: OpsSection,
}

/// What the transform service needs.
#[derive(Debug, Clone)]
pub struct TransformConfig {
    pub service: TransformSection,
    pub kafka: KafkaConfig,
    pub catalogue: CatalogueConfig,
    pub ops: OpsSection,
}

/// What the load service needs.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub service: LoadSection,
    pub kafka: KafkaConfig,
    pub clickhouse: ClickHouseConfig,
    pub ops: OpsSection,
}

impl Settings {
    /// Defaults, then `file` if given, then `EGOV__*` environment variables.
    /// A key that is no setting, in the file or in a variable, is an error that
    /// names it and where it came from; so are malformed token entries.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
            .filter(|(name, _)| name.starts_with(ENV_PREFIX))
            .collect();
        Self::load_from(file, &env)
    }

    /// [`Settings::load`] with the given `EGOV__*` variables instead of the process's.
    pub fn load_from(file: Option<&Path>, env: &[(String, String)]) -> Result<Self, ConfigError> {
        // Each source on its own first, so that an unknown key is named with its origin.
        if let Some(file) = file {
            let origin = format!("file {}", file.display());
            let source = config::Config::builder()
                .add_source(config::File::from(file).required(true))
                .build()
                .map_err(|source| ConfigError::Source {
                    origin: origin.clone(),
                    source: Box::new(source),
                })?;
            check_keys(source, &origin, |key| key.to_owned())?;
        }
        for (name, value) in env {
            let origin = format!("environment variable {name}");
            let source = config::Config::builder()
                .add_source(env_source(std::iter::once((name.clone(), value.clone()))))
                .build()
                .map_err(|source| ConfigError::Source {
                    origin: origin.clone(),
                    source: Box::new(source),
                })?;
            check_keys(source, &origin, |_| name.clone())?;
        }
        let mut builder =
            config::Config::builder().add_source(config::Config::try_from(&Settings::default())?);
        if let Some(file) = file {
            builder = builder.add_source(config::File::from(file).required(true));
        }
        let mut settings: Settings = builder
            .add_source(env_source(env.iter().cloned()))
            .build()?
            .try_deserialize()?;
        settings.take_secrets_as_written(|name| {
            env.iter()
                .find(|(variable, _)| variable == name)
                .map(|(_, value)| value.clone())
        });
        settings.kafka.validate()?;
        settings.clickhouse.validate()?;
        settings.ingest.check_tokens()?;
        settings.scorecard.validate()?;
        Ok(settings)
    }

    /// `try_parsing` reads `EGOV__*` values as numbers where they look like
    /// one, so a password `0123` would become `123`: passwords from the
    /// environment are taken as written.
    fn take_secrets_as_written(&mut self, env: impl Fn(&str) -> Option<String>) {
        let secrets = [
            ("EGOV__KAFKA__SASL_PASSWORD", &mut self.kafka.sasl_password),
            ("EGOV__KAFKA__SEAL_KEY", &mut self.kafka.seal_key),
            ("EGOV__CLICKHOUSE__PASSWORD", &mut self.clickhouse.password),
            (
                "EGOV__DASHBOARD__CLICKHOUSE_PASSWORD",
                &mut self.dashboard.clickhouse_password,
            ),
        ];
        for (name, secret) in secrets {
            if let Some(value) = env(name) {
                *secret = Secret::new(value);
            }
        }
    }

    pub fn ingest_config(&self) -> IngestConfig {
        IngestConfig {
            http: self.ingest.clone(),
            kafka: self.kafka.clone(),
            catalogue: self.catalogue.clone(),
            ops: self.ops.clone(),
        }
    }

    pub fn transform_config(&self) -> TransformConfig {
        TransformConfig {
            service: self.transform.clone(),
            kafka: self.kafka.clone(),
            catalogue: self.catalogue.clone(),
            ops: self.ops.clone(),
        }
    }

    pub fn load_config(&self) -> LoadConfig {
        LoadConfig {
            service: self.load.clone(),
            kafka: self.kafka.clone(),
            clickhouse: self.clickhouse.clone(),
            ops: self.ops.clone(),
        }
    }
}

/// The `EGOV__*` variables `vars` as a configuration source.
fn env_source(vars: impl Iterator<Item = (String, String)>) -> config::Environment {
    config::Environment::with_prefix(ENV_PREFIX.trim_end_matches('_'))
        .prefix_separator("__")
        .separator("__")
        .try_parsing(true)
        .source(Some(vars.collect()))
}

/// Fails on the first key of `source` that is no setting; `name` says how the
/// key is spelled in its origin (the key itself, or the variable's name).
fn check_keys(
    source: config::Config,
    origin: &str,
    name: impl Fn(&str) -> String,
) -> Result<(), ConfigError> {
    let mut unknown = Vec::new();
    let parsed: Result<Settings, _> =
        serde_ignored::deserialize(source, |path| unknown.push(path.to_string()));
    if let Some(key) = unknown.into_iter().next() {
        let hint = if key.starts_with("ingest.tokens.") && key.ends_with(".token") {
            " (a token is configured by its SHA-256, `token_sha256`; `egov token new` prints the entry)"
        } else if key.starts_with("ingest.token") {
            " (tokens are `[[ingest.tokens]]` entries)"
        } else {
            ""
        };
        return Err(ConfigError::UnknownKey {
            key: name(&key),
            origin: origin.to_owned(),
            hint,
        });
    }
    parsed.map(drop).map_err(|source| ConfigError::Source {
        origin: origin.to_owned(),
        source: Box::new(source),
    })
}

#[cfg(test)]
mod tests;
