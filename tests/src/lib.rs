//! The one test harness: a whole pipeline in this process against the real
//! local Kafka and ClickHouse, with its own topics, consumer groups and
//! database, and an ingest server on port 0. Everything a test created (topics,
//! consumer groups, database) is removed on drop, by [`Pipeline`] or by
//! [`Cleanup`] for tests that start services of their own; waiting for what
//! a pipeline loads ([`wait`]). Also the small tools tests share:
//! [`TempDir`], [`free_port`], [`CapturedLogs`], [`sample`], raw-socket
//! reads and writes.

pub mod ops;
pub mod scorecard;
pub mod secure;
pub mod wait;

pub use secure::{free_port, TempDir};

use anyhow::{bail, ensure, Context};
use egov_ingest::metrics_exporter_prometheus::PrometheusHandle;
use egov_runtime::config::Settings;
use egov_runtime::ops::Readiness;
use egov_runtime::shutdown::{self, ShutdownTrigger};
use egov_scenario::push::{push, PushOptions, Target};
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;
use serde_json::Value;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// The development tokens, active because [`unique_settings`] sets `ingest.dev_tokens`.
pub const DOCUMENTS_TOKEN: &str = "local-documents";
pub const ONESTOP_TOKEN: &str = "local-onestop";

/// Settings for the local servers (overridable by `EGOV__*`), with names of
/// topics, groups and database unique to this test.
pub fn unique_settings(label: &str) -> anyhow::Result<Settings> {
    let mut settings = Settings::load(None)?;
    let id = format!("{label}_{}", uuid::Uuid::new_v4().simple())
        .chars()
        .take(40)
        .collect::<String>();
    let kafka = &mut settings.kafka;
    kafka.raw_topic = format!("test.{id}.raw");
    kafka.curated_topic = format!("test.{id}.curated");
    kafka.dlq_topic = format!("test.{id}.dlq");
    kafka.transform_group = format!("test.{id}.transform");
    kafka.load_group = format!("test.{id}.load");
    kafka.partitions = 2;
    // Ingest seals what it checked and transform trusts it, as under `egov run`.
    kafka.seal_key = egov_runtime::config::Secret::new(egov_runtime::seal::random_key());
    settings.clickhouse.database = format!("egov_test_{id}");
    // Small batches keep tests quick; the limits themselves are what is tested.
    settings.load.batch_max_wait_ms = 200;
    settings.transform.batch_max_wait_ms = 50;
    // The development tokens: tests add scoped ones of their own where scope matters.
    settings.ingest.dev_tokens = true;
    Ok(settings)
}

/// A running pipeline owned by one test.
pub struct Pipeline {
    pub settings: Settings,
    pub ingest_addr: SocketAddr,
    pub http: reqwest::Client,
    trigger: Option<ShutdownTrigger>,
    tasks: Vec<JoinHandle<anyhow::Result<()>>>,
    /// Whether dropping removes the topics and database (not when restarting).
    cleanup: bool,
}

impl Pipeline {
    pub async fn start(label: &str) -> anyhow::Result<Self> {
        Self::start_with(unique_settings(label)?).await
    }

    pub async fn start_with(settings: Settings) -> anyhow::Result<Self> {
        Self::launch(settings, None, None).await
    }

    /// As `egov run` has it: one readiness for the three services (Kafka,
    /// ClickHouse, the catalogue, neither stage stalled) on the ingest port,
    /// with `metrics` there too.
    pub async fn start_as_one_process(
        settings: Settings,
        metrics: Option<PrometheusHandle>,
    ) -> anyhow::Result<Self> {
        let readiness = Readiness::pipeline(&settings)?;
        Self::launch(settings, Some(readiness), metrics).await
    }

    /// Without a shared readiness, ingest has its own and the stages none.
    async fn launch(
        settings: Settings,
        readiness: Option<Readiness>,
        metrics: Option<PrometheusHandle>,
    ) -> anyhow::Result<Self> {
        let catalogue = settings.catalogue.load()?;
        egov_tools::migrate::migrate(&settings.clickhouse, &catalogue).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let ingest_addr = listener.local_addr()?;
        let (trigger, shutdown) = shutdown::channel();
        let mut tasks: Vec<JoinHandle<anyhow::Result<()>>> = Vec::new();
        if let Some(readiness) = &readiness {
            let checks = readiness.spawn(shutdown.clone());
            tasks.push(tokio::spawn(async move { Ok(checks.await?) }));
        }
        let shared = readiness.clone().unwrap_or_else(Readiness::always);
        tasks.push(tokio::spawn({
            let (config, shutdown) = (settings.ingest_config(), shutdown.clone());
            async move {
                match readiness {
                    Some(readiness) => {
                        egov_ingest::run_with(config, listener, shutdown, metrics, readiness)
                            .await?
                    }
                    None => egov_ingest::run(config, listener, shutdown, metrics).await?,
                }
                Ok(())
            }
        }));
        tasks.push(tokio::spawn({
            let (config, shutdown) = (settings.transform_config(), shutdown.clone());
            let readiness = shared.clone();
            async move { Ok(egov_transform::run_with(config, shutdown, readiness).await?) }
        }));
        tasks.push(tokio::spawn({
            let config = settings.load_config();
            async move { Ok(egov_load::run_with(config, shutdown, shared).await?) }
        }));
        Ok(Self {
            settings,
            ingest_addr,
            http: reqwest::Client::new(),
            trigger: Some(trigger),
            tasks,
            cleanup: true,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.ingest_addr, path)
    }

    /// POSTs a JSON body to `/v1/events`; the status and the parsed answer.
    pub async fn post_json(&self, token: &str, body: &Value) -> anyhow::Result<(u16, Value)> {
        let response = self
            .http
            .post(self.url("/v1/events"))
            .bearer_auth(token)
            .json(body)
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await?))
    }

    /// POSTs `body` as it is to `/v1/events` with `token` and `headers`
    /// (name, value): for what [`Self::post_json`] cannot send (NDJSON, gzip,
    /// a broken body); the answer as it came.
    pub async fn post_raw(
        &self,
        token: &str,
        headers: &[(&str, &str)],
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Result<reqwest::Response> {
        let mut request = self.http.post(self.url("/v1/events")).bearer_auth(token);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(body).send().await
    }

    /// Runs a query and returns its TabSeparated output.
    pub async fn query(&self, sql: &str) -> anyhow::Result<String> {
        clickhouse_query(&self.settings, sql).await
    }

    /// Waits until `sql` (a single number) reaches `expected`; fails after `timeout`.
    pub async fn wait_for(
        &self,
        sql: &str,
        expected: u64,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        wait::count_reaches(&self.settings, sql, expected, timeout).await
    }

    /// Waits until `events` holds `n` distinct event ids, however many rows
    /// (60 s at the most).
    pub async fn wait_for_event_ids(&self, n: u64) -> anyhow::Result<()> {
        let sql = "SELECT uniqExact(event_id) FROM events";
        self.wait_for(sql, n, Duration::from_secs(60)).await
    }

    /// Pushes `events` through the API (batches of 300, one system each),
    /// fails unless every one is accepted, then waits until ClickHouse holds
    /// each distinct event once ([`wait::events_loaded`]; fails after `timeout`).
    pub async fn push_and_wait(&self, events: &[Value], timeout: Duration) -> anyhow::Result<()> {
        let batches = egov_scenario::batch::batches_of_values(events, 300);
        let stats = push(
            &Target::local(self.url("")),
            batches.into_iter(),
            &PushOptions::default(),
        )
        .await?;
        ensure!(
            stats.accepted == events.len() as u64,
            "{} of {} events accepted",
            stats.accepted,
            events.len()
        );
        wait::events_loaded(&self.settings, events, timeout).await
    }

    /// Reads figures until they equal `expected`: see [`wait::eventually`].
    pub async fn eventually<T, F, Fut>(
        &self,
        expected: &T,
        timeout: Duration,
        read: F,
    ) -> anyhow::Result<T>
    where
        T: PartialEq,
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<T>>,
    {
        wait::eventually(expected, timeout, read).await
    }

    /// `egov report`'s figures once they equal the independent computation
    /// over `events`: see [`wait::figures_equal_reference`].
    pub async fn wait_for_figures(
        &self,
        events: &[Value],
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> anyhow::Result<Value> {
        wait::figures_equal_reference(&self.settings, events, from, to).await
    }

    /// Stops the services gracefully, keeps topics and database, and starts a
    /// new pipeline on them with `settings` (e.g. another catalogue).
    pub async fn restart_with(mut self, settings: Settings) -> anyhow::Result<Self> {
        self.cleanup = false;
        self.shutdown_services().await?;
        Self::start_with(settings).await
    }

    /// Stops the services gracefully and reports any error they ended with.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown_services().await
    }

    /// Stops the services gracefully but keeps topics and database for
    /// inspection; they are removed when the pipeline is dropped.
    pub async fn shutdown_services(&mut self) -> anyhow::Result<()> {
        if let Some(trigger) = self.trigger.take() {
            trigger.trigger();
        }
        for task in std::mem::take(&mut self.tasks) {
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .context("service did not stop")???;
        }
        Ok(())
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        if let Some(trigger) = self.trigger.take() {
            trigger.trigger();
        }
        for task in &self.tasks {
            task.abort();
        }
        if !self.cleanup {
            return;
        }
        remove_resources_blocking(&self.settings);
    }
}

/// Removes the test's topics, consumer groups and database when dropped (for
/// tests without a [`Pipeline`]).
pub struct Cleanup(pub Settings);

impl Drop for Cleanup {
    fn drop(&mut self) {
        remove_resources_blocking(&self.0);
    }
}

/// [`remove_resources`] where one cannot await (in `drop`): on a thread of its
/// own with its own runtime.
pub fn remove_resources_blocking(settings: &Settings) {
    let settings = settings.clone();
    let cleanup = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        if let Ok(runtime) = runtime {
            if let Err(error) = runtime.block_on(remove_resources(&settings)) {
                eprintln!("test cleanup: {error:#}");
            }
        }
    });
    let _ = cleanup.join();
}

/// Drops the test's database and deletes its topics and consumer groups.
pub async fn remove_resources(settings: &Settings) -> anyhow::Result<()> {
    let database = &settings.clickhouse.database;
    if !database.starts_with("egov_test_") {
        bail!("refusing to drop `{database}`: not a test database");
    }
    // Without a default database: the test may never have created its own.
    let mut server = settings.clone();
    server.clickhouse.database = "default".into();
    clickhouse_query(&server, &format!("DROP DATABASE IF EXISTS `{database}`")).await?;
    let admin: AdminClient<DefaultClientContext> =
        egov_runtime::kafka::client_config(&settings.kafka).create()?;
    let kafka = &settings.kafka;
    let topics = [
        kafka.raw_topic.as_str(),
        kafka.curated_topic.as_str(),
        kafka.dlq_topic.as_str(),
    ];
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    admin.delete_topics(&topics, &options).await?;
    let groups = test_groups(kafka);
    let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
    // A group is deletable once its members are gone (a consumer leaving may take a moment).
    let mut left = Vec::new();
    for _ in 0..10 {
        left = admin
            .delete_groups(&groups, &options)
            .await?
            .into_iter()
            .filter_map(|result| match result {
                Err((group, code)) if code != RDKafkaErrorCode::GroupIdNotFound => {
                    Some(format!("{group}: {code}"))
                }
                _ => None,
            })
            .collect();
        if left.is_empty() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    bail!("consumer groups not deleted: {}", left.join(", "))
}

/// Every consumer group a test's services may create: transform's, load's and
/// the dead-letter replay's.
fn test_groups(kafka: &egov_runtime::config::KafkaConfig) -> Vec<String> {
    let groups = vec![
        kafka.transform_group.clone(),
        kafka.load_group.clone(),
        egov_tools::dlq::replay::replay_group(kafka),
    ];
    // Never a group that is not a test's.
    groups
        .into_iter()
        .filter(|group| group.starts_with("test."))
        .collect()
}

/// A query over ClickHouse's HTTP interface, independent of the code under test.
pub async fn clickhouse_query(settings: &Settings, sql: &str) -> anyhow::Result<String> {
    let response = egov_runtime::clickhouse::http(&settings.clickhouse, Duration::from_secs(60))?
        .post(&settings.clickhouse.url)
        .query(&[("database", settings.clickhouse.database.as_str())])
        .basic_auth(
            &settings.clickhouse.user,
            Some(settings.clickhouse.password.expose()),
        )
        .body(sql.to_owned())
        .send()
        .await?;
    let status = response.status();
    let text = response.text().await?;
    if !status.is_success() {
        bail!("clickhouse answered {status} to `{sql}`: {text}");
    }
    Ok(text)
}

/// The `Retry-After` seconds of an answer, 0 when absent or not a number.
pub fn retry_after(response: &reqwest::Response) -> u64 {
    response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Reads what is there (0 at the end), without tokio's `io-util`.
pub async fn read_some(stream: &TcpStream, buffer: &mut [u8]) -> std::io::Result<usize> {
    loop {
        stream.readable().await?;
        match stream.try_read(buffer) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            result => return result,
        }
    }
}

pub async fn write_all(stream: &TcpStream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        stream.writable().await?;
        match stream.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads until the peer closes.
pub async fn read_to_end(stream: &TcpStream) -> std::io::Result<Vec<u8>> {
    let mut all = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match read_some(stream, &mut buffer).await? {
            0 => return Ok(all),
            n => all.extend_from_slice(&buffer[..n]),
        }
    }
}

/// The value of the sample `series` (name and labels, as printed) in a
/// Prometheus text, if it is there.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

/// Log output captured in memory (a `tracing_subscriber` writer), to check
/// what the services log.
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLogs {
    /// Captures, from now on, the process's logs that pass `filter` (an
    /// `EnvFilter` directive), as the text format writes them without colours.
    pub fn install(filter: &str) -> anyhow::Result<Self> {
        let logs = Self::default();
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .try_init()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(logs)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}
