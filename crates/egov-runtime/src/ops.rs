//! The operator endpoints every service serves: `/healthz` (the process is
//! alive), `/readyz` (it can do its work: Kafka and ClickHouse reachable as the
//! service needs them, catalogue loaded, not shutting down) and `/metrics`
//! (Prometheus text format), `/status` (what the process is: [`ProcessStatus`]);
//! and the consumer groups' lag seen from outside (`egov status`). The
//! services' own lag reporter is [`crate::lag`].

use crate::config::{ClickHouseConfig, KafkaConfig, OpsSection, Settings};
use crate::lag::PartitionLag;
use crate::shutdown::Shutdown;
use crate::stall::Stage;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::task::JoinHandle;
use tracing::{info, warn};

pub mod backlog;
mod identity;
pub use identity::{Component, Process, ProcessStatus, STATUS_PATH};

pub const HEALTHZ_PATH: &str = "/healthz";
pub const READYZ_PATH: &str = "/readyz";
pub const METRICS_PATH: &str = "/metrics";
/// Every path [`router`] serves.
pub const PATHS: [&str; 4] = [HEALTHZ_PATH, READYZ_PATH, METRICS_PATH, STATUS_PATH];

/// What a service needs to be ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Check {
    /// A broker answers a metadata request.
    Kafka,
    /// ClickHouse answers `SELECT 1`.
    ClickHouse,
    /// The unit catalogue is loaded (reported by the service that loads it).
    Catalogue,
    /// The stage is not stalled (reported by its lag reporter): passes until
    /// told otherwise.
    Stage(Stage),
}

impl Check {
    pub fn as_str(self) -> &'static str {
        match self {
            Check::Kafka => "kafka",
            Check::ClickHouse => "clickhouse",
            Check::Catalogue => "catalogue",
            Check::Stage(stage) => stage.as_str(),
        }
    }
}

/// The answer of `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadyStatus {
    pub ready: bool,
    /// Why not, one line per failing check (`"clickhouse: connection refused"`).
    pub reasons: Vec<String>,
}

/// Readiness of one process, shared by its services and its `/readyz`:
/// named checks, refreshed by [`Readiness::spawn`] in the background, and a
/// flag set from the moment shutdown starts. Cheap to clone.
#[derive(Clone)]
pub struct Readiness {
    inner: Arc<Inner>,
}

struct Inner {
    /// What the process is, for `/status`.
    process: Option<Process>,
    kafka: Option<KafkaProbe>,
    clickhouse: Option<ClickHouseProbe>,
    /// The last result of every check; a check not yet run is failing.
    results: Mutex<BTreeMap<Check, Result<(), String>>>,
    shutting_down: AtomicBool,
    interval: Duration,
    timeout: Duration,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readiness")
            .field("status", &self.status())
            .finish()
    }
}

/// Which checks a service needs. Ingest: Kafka and catalogue; transform:
/// Kafka and catalogue; load: Kafka and ClickHouse; `egov run`: all three.
#[derive(Debug, Clone, Default)]
pub struct ReadinessBuilder {
    process: Option<Process>,
    kafka: Option<KafkaConfig>,
    clickhouse: Option<ClickHouseConfig>,
    catalogue: bool,
    stages: Vec<Stage>,
    ops: OpsSection,
}

impl ReadinessBuilder {
    /// What the process is (its `/status`).
    pub fn process(mut self, process: Process) -> Self {
        self.process = Some(process);
        self
    }

    pub fn kafka(mut self, config: &KafkaConfig) -> Self {
        self.kafka = Some(config.clone());
        self
    }

    pub fn clickhouse(mut self, config: &ClickHouseConfig) -> Self {
        self.clickhouse = Some(config.clone());
        self
    }

    /// Requires [`Readiness::set`] of [`Check::Catalogue`] by whoever loads it.
    pub fn catalogue(mut self) -> Self {
        self.catalogue = true;
        self
    }

    /// Fails while `stage` is stalled (see [`crate::lag::spawn_lag_reporter`]).
    pub fn stage(mut self, stage: Stage) -> Self {
        self.stages.push(stage);
        self
    }

    pub fn build(self) -> Result<Readiness, KafkaError> {
        let timeout = Duration::from_millis(self.ops.probe_timeout_ms.max(1));
        let kafka = self
            .kafka
            .map(|config| KafkaProbe::new(&config))
            .transpose()?;
        let clickhouse = self
            .clickhouse
            .map(|config| ClickHouseProbe::new(config, timeout));
        let mut results = BTreeMap::new();
        if kafka.is_some() {
            results.insert(Check::Kafka, Err("not checked yet".to_owned()));
        }
        if clickhouse.is_some() {
            results.insert(Check::ClickHouse, Err("not checked yet".to_owned()));
        }
        if self.catalogue {
            results.insert(Check::Catalogue, Err("not loaded yet".to_owned()));
        }
        for stage in self.stages {
            results.insert(Check::Stage(stage), Ok(()));
        }
        Ok(Readiness {
            inner: Arc::new(Inner {
                process: self.process,
                kafka,
                clickhouse,
                results: Mutex::new(results),
                shutting_down: AtomicBool::new(false),
                interval: Duration::from_millis(self.ops.readiness_interval_ms.max(10)),
                timeout,
            }),
        })
    }
}

impl Readiness {
    pub fn builder(ops: &OpsSection) -> ReadinessBuilder {
        ReadinessBuilder {
            ops: ops.clone(),
            ..ReadinessBuilder::default()
        }
    }

    /// What `egov run` needs, one process for all: Kafka, ClickHouse, the
    /// catalogue, and neither transform nor load stalled.
    pub fn pipeline(settings: &Settings) -> Result<Self, KafkaError> {
        Stage::ALL
            .into_iter()
            .fold(
                Self::builder(&settings.ops)
                    .process(Process::Run)
                    .kafka(&settings.kafka)
                    .clickhouse(&settings.clickhouse)
                    .catalogue(),
                ReadinessBuilder::stage,
            )
            .build()
    }

    /// A readiness without checks: ready until shutdown starts.
    pub fn always() -> Self {
        Self {
            inner: Arc::new(Inner {
                process: None,
                kafka: None,
                clickhouse: None,
                results: Mutex::new(BTreeMap::new()),
                shutting_down: AtomicBool::new(false),
                interval: Duration::from_secs(2),
                timeout: Duration::from_secs(1),
            }),
        }
    }

    /// Records the result of a check; a check the builder did not ask for is
    /// ignored, so a service may report what it loaded whoever built this.
    pub fn set(&self, check: Check, result: Result<(), String>) {
        let mut results = self
            .inner
            .results
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = results.get_mut(&check) {
            metrics::gauge!("egov_readiness_check_ok", "check" => check.as_str())
                .set(f64::from(u8::from(result.is_ok())));
            if *slot != result {
                match &result {
                    Ok(()) => info!(check = check.as_str(), "readiness check passes"),
                    Err(reason) => warn!(check = check.as_str(), %reason, "readiness check fails"),
                }
            }
            *slot = result;
        }
    }

    /// From now on `/readyz` answers 503 `shutting down`.
    pub fn set_shutting_down(&self) {
        self.inner.shutting_down.store(true, Ordering::Relaxed);
    }

    pub fn status(&self) -> ReadyStatus {
        let mut reasons = Vec::new();
        if self.inner.shutting_down.load(Ordering::Relaxed) {
            reasons.push("shutting down".to_owned());
        }
        let results = self
            .inner
            .results
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (check, result) in results.iter() {
            if let Err(reason) = result {
                reasons.push(format!("{}: {reason}", check.as_str()));
            }
        }
        ReadyStatus {
            ready: reasons.is_empty(),
            reasons,
        }
    }

    pub fn is_ready(&self) -> bool {
        self.status().ready
    }

    /// Runs the active checks once, concurrently, each within the probe timeout.
    pub async fn refresh(&self) {
        let kafka = async {
            if let Some(probe) = &self.inner.kafka {
                self.set(Check::Kafka, probe.check(self.inner.timeout).await);
            }
        };
        let clickhouse = async {
            if let Some(probe) = &self.inner.clickhouse {
                self.set(Check::ClickHouse, probe.check().await);
            }
        };
        tokio::join!(kafka, clickhouse);
    }

    /// Refreshes the checks every interval until `shutdown`, which marks this
    /// readiness as shutting down at once.
    pub fn spawn(&self, mut shutdown: Shutdown) -> JoinHandle<()> {
        let readiness = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.wait() => break,
                    _ = readiness.refresh() => {}
                }
                tokio::select! {
                    _ = shutdown.wait() => break,
                    _ = tokio::time::sleep(readiness.inner.interval) => {}
                }
            }
            readiness.set_shutting_down();
        })
    }
}

struct KafkaProbe {
    client: Arc<BaseConsumer>,
}

impl KafkaProbe {
    fn new(config: &KafkaConfig) -> Result<Self, KafkaError> {
        // No group: this client only asks for metadata, and never creates a topic.
        let client: BaseConsumer = crate::kafka::client_config(config)
            .set("allow.auto.create.topics", "false")
            .set("reconnect.backoff.max.ms", "1000")
            .create()?;
        Ok(Self {
            client: Arc::new(client),
        })
    }

    async fn check(&self, timeout: Duration) -> Result<(), String> {
        let client = self.client.clone();
        // A metadata request goes to a broker every time (never the cache)
        // and fails when none answers in time; it blocks, so off the runtime.
        let answer = tokio::task::spawn_blocking(move || {
            let result = client
                .fetch_metadata(None, timeout)
                .map(|metadata| metadata.brokers().len());
            // Drains the client's own events (errors while brokers are down).
            let _ = client.poll(Duration::ZERO);
            result
        })
        .await
        .map_err(|e| format!("probe task failed: {e}"))?;
        match answer {
            Ok(0) => Err("no broker in the metadata".to_owned()),
            Ok(_) => Ok(()),
            Err(KafkaError::MetadataFetch(code)) => Err(format!("metadata request failed: {code}")),
            Err(error) => Err(error.to_string()),
        }
    }
}

struct ClickHouseProbe {
    /// The client, or why it cannot be built (an unreadable `clickhouse.ca_file`),
    /// which is then the reason this check fails.
    http: Result<reqwest::Client, String>,
    config: ClickHouseConfig,
    timeout: Duration,
}

impl ClickHouseProbe {
    fn new(config: ClickHouseConfig, timeout: Duration) -> Self {
        let http = crate::clickhouse::http(&config, timeout).map_err(|e| e.to_string());
        Self {
            http,
            config,
            timeout,
        }
    }

    async fn check(&self) -> Result<(), String> {
        let http = self.http.as_ref().map_err(Clone::clone)?;
        let request = http
            .get(&self.config.url)
            .query(&[("query", "SELECT 1")])
            .basic_auth(&self.config.user, Some(self.config.password.expose()));
        let response = request
            .send()
            .await
            .map_err(|e| describe_http_error(&e, self.timeout))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| describe_http_error(&e, self.timeout))?;
        if !status.is_success() {
            let first_line = body.lines().next().unwrap_or("").chars().take(200);
            return Err(format!("HTTP {status}: {}", first_line.collect::<String>()));
        }
        if body.trim() != "1" {
            return Err(format!(
                "unexpected answer to SELECT 1: {:.50}",
                body.trim()
            ));
        }
        Ok(())
    }
}

/// A short reason for a failed HTTP call: `connection refused`, `timed out after 1.5 s`.
fn describe_http_error(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("no answer within {:.1} s", timeout.as_secs_f64());
    }
    let mut root: &dyn std::error::Error = error;
    while let Some(source) = root.source() {
        root = source;
    }
    let text = root.to_string();
    if let Some(io) = find_io_error(error) {
        if io.kind() == std::io::ErrorKind::ConnectionRefused {
            return "connection refused".to_owned();
        }
    }
    if error.is_connect() {
        format!("cannot connect: {text}")
    } else {
        text
    }
}

pub(crate) fn find_io_error<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a std::io::Error> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        current = e.source();
    }
    None
}

#[derive(Clone)]
struct OpsState {
    metrics: Option<PrometheusHandle>,
    readiness: Readiness,
}

/// Routes for `/healthz`, `/readyz`, `/metrics` and `/status`; `/metrics`
/// answers 404 when this process has no Prometheus recorder (e.g. in tests).
pub fn router_with(metrics: Option<PrometheusHandle>, readiness: Readiness) -> Router {
    Router::new()
        .route(HEALTHZ_PATH, get(|| async { "ok\n" }))
        .route(READYZ_PATH, get(render_readiness))
        .route(METRICS_PATH, get(render_metrics))
        .route(
            STATUS_PATH,
            get(|State(state): State<OpsState>| async move {
                Json(ProcessStatus::of(state.readiness.inner.process))
            }),
        )
        .with_state(OpsState { metrics, readiness })
}

async fn render_readiness(State(state): State<OpsState>) -> Response {
    let status = state.readiness.status();
    if status.ready {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(status)).into_response()
    }
}

async fn render_metrics(State(state): State<OpsState>) -> impl IntoResponse {
    match state.metrics {
        Some(handle) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            handle.render(),
        ),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain")],
            "no metrics recorder in this process\n".to_owned(),
        ),
    }
}

/// A client for [`group_lag`] and [`topic_messages`]: in `group` (none if
/// empty) without ever subscribing, so it never joins the group's rebalances.
pub(crate) fn outside_client(
    config: &KafkaConfig,
    group: &str,
) -> Result<BaseConsumer, KafkaError> {
    let mut client = crate::kafka::client_config(config);
    client
        .set("allow.auto.create.topics", "false")
        .set("enable.auto.commit", "false");
    if !group.is_empty() {
        client.set("group.id", group);
    }
    client.create()
}

fn partitions_of(
    client: &BaseConsumer,
    topic: &str,
    timeout: Duration,
) -> Result<Vec<i32>, KafkaError> {
    let metadata = client.fetch_metadata(Some(topic), timeout)?;
    Ok(metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect())
}

/// The lag of consumer group `group` on `topic` seen from outside: per
/// partition, the high watermark minus the group's committed offset (minus the
/// low watermark where it has committed nothing). Blocking; no topic, no rows.
pub fn group_lag(
    config: &KafkaConfig,
    group: &str,
    topic: &str,
    timeout: Duration,
) -> Result<Vec<PartitionLag>, KafkaError> {
    lag_on(&outside_client(config, group)?, topic, timeout)
}

/// [`group_lag`] with a client of [`outside_client`] in the group, which can
/// ask again and again.
pub(crate) fn lag_on(
    client: &BaseConsumer,
    topic: &str,
    timeout: Duration,
) -> Result<Vec<PartitionLag>, KafkaError> {
    let partitions = partitions_of(client, topic, timeout)?;
    if partitions.is_empty() {
        return Ok(Vec::new());
    }
    let mut list = TopicPartitionList::new();
    for partition in &partitions {
        list.add_partition(topic, *partition);
    }
    let committed = client.committed_offsets(list, timeout)?;
    let mut lags = Vec::with_capacity(partitions.len());
    for element in committed.elements() {
        let (low, high) = client.fetch_watermarks(topic, element.partition(), timeout)?;
        let position = match element.offset() {
            Offset::Offset(offset) => offset.max(low),
            _ => low,
        };
        lags.push(PartitionLag {
            topic: topic.to_owned(),
            partition: element.partition(),
            lag: (high - position).max(0),
        });
    }
    lags.sort_by_key(|lag| lag.partition);
    Ok(lags)
}

/// Messages `topic` holds now: the sum of high minus low watermarks of its
/// partitions (0 when it does not exist). Blocking.
pub fn topic_messages(
    config: &KafkaConfig,
    topic: &str,
    timeout: Duration,
) -> Result<i64, KafkaError> {
    messages_on(&outside_client(config, "")?, topic, timeout)
}

/// [`topic_messages`] with a client of [`outside_client`].
pub(crate) fn messages_on(
    client: &BaseConsumer,
    topic: &str,
    timeout: Duration,
) -> Result<i64, KafkaError> {
    let mut total = 0;
    for partition in partitions_of(client, topic, timeout)? {
        let (low, high) = client.fetch_watermarks(topic, partition, timeout)?;
        total += (high - low).max(0);
    }
    Ok(total)
}

#[cfg(test)]
mod tests;
