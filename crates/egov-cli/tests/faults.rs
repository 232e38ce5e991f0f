//! Fault tests: the pipeline as a separate `egov run` process against the real
//! Kafka and ClickHouse started by `deploy/local/up.sh`, a client that retries
//! like a source system, one fault injected mid-stream, and at the end the
//! report must equal an independent computation over the events sent.
//!
//! The faults stop shared servers, so the tests of this file run one at a time.

use anyhow::{bail, Context};
use egov_runtime::config::Settings;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const DRAIN_TIMEOUT: Duration = Duration::from_secs(180);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// One `egov run` process with its own topics, groups, database and ports.
struct PipelineProcess {
    settings: Settings,
    env: Vec<(String, String)>,
    url: String,
    log: PathBuf,
    child: Option<Child>,
}

impl PipelineProcess {
    async fn start(label: &str) -> anyhow::Result<Self> {
        let mut settings = egov_tests::unique_settings(label)?;
        let port = free_port()?;
        settings.ingest.listen = format!("127.0.0.1:{port}");
        settings.transform.listen = format!("127.0.0.1:{}", free_port()?);
        settings.load.listen = format!("127.0.0.1:{}", free_port()?);
        let mut env = settings.to_env();
        env.extend(
            [
                ("EGOV__KAFKA__PRODUCE_TIMEOUT_MS", "5000"),
                ("EGOV__LOAD__BATCH_MAX_WAIT_MS", "300"),
                ("EGOV__LOG__FORMAT", "json"),
                ("EGOV__INGEST__DEV_TOKENS", "true"),
            ]
            .map(|(name, value)| (name.to_owned(), value.to_owned())),
        );
        let log = repo_root()
            .join("target")
            .join(format!("fault-{}.log", settings.clickhouse.database));
        let mut process = Self {
            settings,
            env,
            url: format!("http://127.0.0.1:{port}"),
            log,
            child: None,
        };
        process.spawn()?;
        process.wait_healthy(Duration::from_secs(60)).await?;
        Ok(process)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let child = Command::new(env!("CARGO_BIN_EXE_egov"))
            .arg("run")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting egov run")?;
        self.child = Some(child);
        Ok(())
    }

    async fn wait_healthy(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let started = Instant::now();
        let http = reqwest::Client::new();
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    bail!("egov run exited with {status}; log {}", self.log.display());
                }
            }
            if let Ok(response) = http.get(format!("{}/healthz", self.url)).send().await {
                if response.status().is_success() {
                    return Ok(());
                }
            }
            if started.elapsed() > timeout {
                bail!(
                    "egov run not healthy after {timeout:?}; log {}",
                    self.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// SIGKILL: no flush, no commit, nothing graceful.
    fn kill9(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }

    async fn query(&self, sql: &str) -> anyhow::Result<String> {
        egov_tests::clickhouse_query(&self.settings, sql).await
    }
}

impl Drop for PipelineProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let settings = self.settings.clone();
        let cleanup = std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                if let Err(error) = runtime.block_on(egov_tests::remove_resources(&settings)) {
                    eprintln!("fault test cleanup: {error:#}");
                }
            }
        });
        let _ = cleanup.join();
    }
}

/// Sends every event, in batches, the way a source system must: a batch is
/// sent again after a 503, a 429, a timeout or a refused connection, until
/// it is answered 200 with nothing rejected. Returns how many sends were retries.
async fn send_all(
    url: String,
    events: Vec<Value>,
    batch_size: usize,
    request_timeout: Duration,
) -> anyhow::Result<u64> {
    send_paced(url, events, batch_size, request_timeout, Duration::ZERO).await
}

/// [`send_all`] with a pause between batches, so that a fault lands mid-stream.
async fn send_paced(
    url: String,
    events: Vec<Value>,
    batch_size: usize,
    request_timeout: Duration,
    pace: Duration,
) -> anyhow::Result<u64> {
    let http = reqwest::Client::builder()
        .timeout(request_timeout)
        .build()?;
    let endpoint = format!("{url}/v1/events");
    let mut retries = 0u64;
    // Batches of one system each, never an event and its resent copy together.
    for batch in egov_scenario::batch::batches_of_values(&events, batch_size) {
        let token = match batch.system {
            egov_model::System::Documents => egov_tests::DOCUMENTS_TOKEN,
            egov_model::System::Onestop => egov_tests::ONESTOP_TOKEN,
        };
        let started = Instant::now();
        loop {
            let outcome = http
                .post(&endpoint)
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(batch.body.clone())
                .send()
                .await;
            match outcome {
                Ok(response) if response.status().is_success() => {
                    let answer: Value = response.json().await?;
                    if answer["rejected"].as_u64() != Some(0) {
                        bail!("events rejected: {answer}");
                    }
                    break;
                }
                Ok(response) if [429, 503].contains(&response.status().as_u16()) => {}
                Ok(response) => bail!(
                    "unexpected answer {}: {}",
                    response.status(),
                    response.text().await?
                ),
                Err(error) if error.is_connect() || error.is_timeout() || error.is_request() => {}
                Err(error) => bail!("sending: {error}"),
            }
            retries += 1;
            if started.elapsed() > Duration::from_secs(120) {
                bail!("a batch was not accepted within 120 s");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        tokio::time::sleep(pace).await;
    }
    Ok(retries)
}

/// The report period that covers a random scenario.
fn period() -> (chrono::NaiveDate, chrono::NaiveDate) {
    egov_scenario::random::STANDARD_PERIOD
}

/// Waits until ClickHouse holds every event exactly once and `egov report`
/// equals the independent computation over `events`.
async fn assert_figures(pipeline: &PipelineProcess, events: &[Value]) -> anyhow::Result<()> {
    let log = || format!("log {}", pipeline.log.display());
    egov_tests::wait::events_loaded(&pipeline.settings, events, DRAIN_TIMEOUT)
        .await
        .with_context(log)?;
    let (from, to) = period();
    egov_tests::wait::figures_equal_reference(&pipeline.settings, events, from, to)
        .await
        .with_context(log)?;
    Ok(())
}

fn scenario(seed: u64) -> Vec<Value> {
    egov_scenario::random::random_scenario(seed, 4_000)
}

fn pid_of(service: &str) -> anyhow::Result<String> {
    // Where deploy/local keeps its servers: EGOV_LOCAL_DIR, as lib.sh reads it.
    let local = std::env::var_os("EGOV_LOCAL_DIR")
        .map_or_else(|| repo_root().join(".local"), std::path::PathBuf::from);
    let path = local.join("run").join(format!("{service}.pid"));
    Ok(std::fs::read_to_string(&path)
        .with_context(|| {
            format!(
                "{}: is deploy/local/up.sh running the servers?",
                path.display()
            )
        })?
        .trim()
        .to_owned())
}

fn kill9_server(service: &str) -> anyhow::Result<()> {
    let pid = pid_of(service)?;
    let status = Command::new("kill").args(["-9", &pid]).status()?;
    anyhow::ensure!(status.success(), "kill -9 {service} ({pid})");
    Ok(())
}

/// Starts whatever of Kafka and ClickHouse is not running.
fn servers_up() -> anyhow::Result<()> {
    let status = Command::new(repo_root().join("deploy/local/up.sh"))
        .stdin(Stdio::null())
        .status()?;
    anyhow::ensure!(status.success(), "deploy/local/up.sh failed");
    Ok(())
}

/// Waits until roughly `share` of the events are in ClickHouse, so that the
/// fault lands mid-stream.
async fn wait_until_partly_loaded(
    pipeline: &PipelineProcess,
    events: usize,
    share: f64,
) -> anyhow::Result<()> {
    let target = (events as f64 * share) as u64;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        let rows: u64 = pipeline
            .query("SELECT count() FROM events")
            .await?
            .trim()
            .parse()
            .unwrap_or(0);
        if rows >= target {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("fewer than {target} rows after 60 s")
}

type Sender = tokio::task::JoinHandle<anyhow::Result<u64>>;

/// Starts sending a random scenario at a pace that leaves room for a fault,
/// and returns once a fifth of it is in ClickHouse.
async fn stream_until_partly_loaded(
    pipeline: &PipelineProcess,
    seed: u64,
) -> anyhow::Result<(Vec<Value>, Sender)> {
    let events = scenario(seed);
    let sender = tokio::spawn(send_paced(
        pipeline.url.clone(),
        events.clone(),
        50,
        Duration::from_secs(15),
        Duration::from_millis(40),
    ));
    wait_until_partly_loaded(pipeline, events.len(), 0.2).await?;
    Ok((events, sender))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_pipeline_mid_stream_then_restart() -> anyhow::Result<()> {
    let _serial = SERIAL.lock().await;
    let mut pipeline = PipelineProcess::start("kill9").await?;
    let (events, sender) = stream_until_partly_loaded(&pipeline, 11).await?;
    let killed_at = Instant::now();
    pipeline.kill9()?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    pipeline.spawn()?;
    pipeline.wait_healthy(Duration::from_secs(60)).await?;
    eprintln!("pipeline back {:?} after kill -9", killed_at.elapsed());
    sender.await??;
    assert_figures(&pipeline, &events).await?;
    eprintln!("figures exact {:?} after kill -9", killed_at.elapsed());
    Ok(())
}

/// Streams a scenario into a fresh pipeline, kills `server` (kafka or
/// clickhouse) with SIGKILL once a fifth is loaded, starts it again after
/// `down_for`, and checks the figures; returns the retried requests.
async fn server_killed_mid_stream(
    label: &str,
    seed: u64,
    server: &str,
    down_for: Duration,
) -> anyhow::Result<u64> {
    let pipeline = PipelineProcess::start(label).await?;
    let (events, sender) = stream_until_partly_loaded(&pipeline, seed).await?;
    kill9_server(server)?;
    let killed_at = Instant::now();
    tokio::time::sleep(down_for).await;
    servers_up()?;
    eprintln!("{server} back {:?} after kill -9", killed_at.elapsed());
    let retries = sender.await??;
    assert_figures(&pipeline, &events).await?;
    eprintln!(
        "figures exact {:?} after {server} was killed ({retries} retried requests)",
        killed_at.elapsed()
    );
    Ok(retries)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_down_for_20_seconds_mid_stream() -> anyhow::Result<()> {
    let _serial = SERIAL.lock().await;
    server_killed_mid_stream("chdown", 12, "clickhouse", Duration::from_secs(20)).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_killed_mid_stream_and_clients_retry() -> anyhow::Result<()> {
    let _serial = SERIAL.lock().await;
    let retries =
        server_killed_mid_stream("kafkadown", 13, "kafka", Duration::from_secs(5)).await?;
    assert!(
        retries > 0,
        "the client never had to retry: the fault missed the stream"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_twice_and_a_batch_resent_after_a_timed_out_answer() -> anyhow::Result<()> {
    let _serial = SERIAL.lock().await;
    let pipeline = PipelineProcess::start("twice").await?;
    let events = scenario(14);
    // A client that gives up after 1 ms: the request may well have been
    // accepted; the batch is sent again, as a source system would.
    send_all(
        pipeline.url.clone(),
        events[..200].to_vec(),
        200,
        Duration::from_millis(1),
    )
    .await
    .ok();
    send_all(
        pipeline.url.clone(),
        events.clone(),
        250,
        Duration::from_secs(15),
    )
    .await?;
    let mut reversed = events.clone();
    reversed.reverse();
    send_all(pipeline.url.clone(), reversed, 250, Duration::from_secs(15)).await?;
    assert_figures(&pipeline, &events).await?;
    Ok(())
}
