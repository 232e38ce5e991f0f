//! What operators and source systems see of a running ingest: `/readyz`
//! (an unreachable ClickHouse, shutdown), the limits that protect senders from
//! each other (429 per token, the in-flight cap, the request timeout),
//! `/metrics` and `/openapi.json`. Against the real local Kafka and
//! ClickHouse; ClickHouse is a fake one where its outage is tested. The whole
//! pipeline as operators see it is `tests/pipeline_ops.rs`.

use egov_ingest::metrics_exporter_prometheus::PrometheusHandle;
use egov_model::System;
use egov_runtime::config::{Settings, TokenConfig};
use egov_runtime::ops::Readiness;
use egov_runtime::shutdown::{self, ShutdownTrigger};
use egov_tests::ops::{dossier, fast_checks, recorder, sample_or_zero};
use egov_tests::{
    read_some, read_to_end, unique_settings, write_all, Cleanup, DOCUMENTS_TOKEN, ONESTOP_TOKEN,
};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// An ingest service of one test, on port 0, with its own raw topic.
struct Ingest {
    addr: SocketAddr,
    http: reqwest::Client,
    trigger: Option<ShutdownTrigger>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    _cleanup: Cleanup,
}

impl Ingest {
    /// Readiness as `egov ingest` has it (Kafka and catalogue) unless given.
    async fn start(
        settings: Settings,
        readiness: Option<Readiness>,
        metrics: Option<PrometheusHandle>,
    ) -> anyhow::Result<Self> {
        let cleanup = Cleanup(settings.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (trigger, shutdown) = shutdown::channel();
        let config = settings.ingest_config();
        let task = tokio::spawn(async move {
            match readiness {
                Some(readiness) => {
                    let checks = readiness.spawn(shutdown.clone());
                    let result =
                        egov_ingest::run_with(config, listener, shutdown, metrics, readiness).await;
                    checks.abort();
                    Ok(result?)
                }
                None => Ok(egov_ingest::run(config, listener, shutdown, metrics).await?),
            }
        });
        Ok(Self {
            addr,
            http: reqwest::Client::new(),
            trigger: Some(trigger),
            task: Some(task),
            _cleanup: cleanup,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// `/readyz`: the status and the body.
    async fn readyz(&self) -> anyhow::Result<(u16, String)> {
        egov_tests::ops::readyz(&self.http, &self.url("/readyz")).await
    }

    /// Polls `/readyz` until `done` holds; fails after `timeout`.
    async fn wait_readyz(
        &self,
        timeout: Duration,
        done: impl Fn(u16, &str) -> bool,
    ) -> anyhow::Result<(u16, String)> {
        egov_tests::ops::wait_readyz(&self.http, &self.url("/readyz"), timeout, done).await
    }

    async fn wait_ready(&self) -> anyhow::Result<()> {
        self.wait_readyz(Duration::from_secs(30), |status, _| status == 200)
            .await
            .map(drop)
    }

    async fn post(&self, token: &str, body: &Value) -> anyhow::Result<reqwest::Response> {
        Ok(self
            .http
            .post(self.url("/v1/events"))
            .bearer_auth(token)
            .json(body)
            .send()
            .await?)
    }

    async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(trigger) = self.trigger.take() {
            trigger.trigger();
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(30), task).await???;
        }
        Ok(())
    }
}

impl Drop for Ingest {
    fn drop(&mut self) {
        if let Some(trigger) = self.trigger.take() {
            trigger.trigger();
        }
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

fn document(id: &str, unit: &str) -> Value {
    json!({"event_id": id, "event_type": "document.completed", "occurred_at": "2021-05-07T10:00:00+07:00",
           "unit_code": unit, "payload": {"document_id": "VB-1"}})
}

/// A stand-in for ClickHouse's HTTP interface: answers `1` to anything, or,
/// while stopped, accepts connections and never answers (as a ClickHouse
/// stopped with SIGSTOP does).
struct FakeClickHouse {
    url: String,
    stopped: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl FakeClickHouse {
    async fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let stopped = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn({
            let stopped = stopped.clone();
            async move {
                while let Ok((socket, _)) = listener.accept().await {
                    let stopped = stopped.clone();
                    tokio::spawn(async move {
                        let mut buffer = [0u8; 4096];
                        let mut request = Vec::new();
                        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                            match read_some(&socket, &mut buffer).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => request.extend_from_slice(&buffer[..n]),
                            }
                        }
                        if stopped.load(Ordering::SeqCst) {
                            // Hold the connection, answer nothing.
                            tokio::time::sleep(Duration::from_secs(60)).await;
                            return;
                        }
                        let answer =
                            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n1\n";
                        let _ = write_all(&socket, answer.as_bytes()).await;
                    });
                }
            }
        });
        Ok(Self { url, stopped, task })
    }

    fn set_stopped(&self, stopped: bool) {
        self.stopped.store(stopped, Ordering::SeqCst);
    }
}

impl Drop for FakeClickHouse {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_names_an_unreachable_clickhouse_within_seconds_and_recovers() -> anyhow::Result<()>
{
    let clickhouse = FakeClickHouse::start().await?;
    let mut settings = unique_settings("ops_ready")?;
    fast_checks(&mut settings);
    settings.clickhouse.url = clickhouse.url.clone();
    // As in `egov run`: Kafka, ClickHouse and the catalogue.
    let readiness = Readiness::builder(&settings.ops)
        .kafka(&settings.kafka)
        .clickhouse(&settings.clickhouse)
        .catalogue()
        .build()?;
    let ingest = Ingest::start(settings, Some(readiness), None).await?;
    ingest.wait_ready().await?;
    let (status, body) = ingest.readyz().await?;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let health = ingest.http.get(ingest.url("/healthz")).send().await?;
    assert_eq!(health.status(), 200);

    clickhouse.set_stopped(true);
    let stopped = Instant::now();
    let (status, body) = ingest
        .wait_readyz(Duration::from_secs(5), |status, _| status == 503)
        .await?;
    assert_eq!(status, 503);
    let body: Value = serde_json::from_str(&body)?;
    assert_eq!(
        body,
        json!({"ready": false, "reasons": ["clickhouse: no answer within 0.5 s"]}),
        "after {:?}",
        stopped.elapsed()
    );
    // Alive all the same.
    let health = ingest.http.get(ingest.url("/healthz")).send().await?;
    assert_eq!(health.status(), 200);

    clickhouse.set_stopped(false);
    ingest
        .wait_readyz(Duration::from_secs(5), |status, _| status == 200)
        .await?;
    ingest.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_answers_503_from_the_moment_shutdown_starts() -> anyhow::Result<()> {
    let mut settings = unique_settings("ops_stop")?;
    fast_checks(&mut settings);
    settings.ingest.shutdown_grace_ms = 1_500;
    let mut ingest = Ingest::start(settings, None, None).await?;
    ingest.wait_ready().await?;
    if let Some(trigger) = ingest.trigger.take() {
        trigger.trigger();
    }
    let (_, body) = ingest
        .wait_readyz(Duration::from_secs(1), |status, _| status == 503)
        .await?;
    let body: Value = serde_json::from_str(&body)?;
    assert_eq!(body, json!({"ready": false, "reasons": ["shutting down"]}));
    // Requests are still served during the grace period, for the load balancer to drain.
    let response = ingest.post(ONESTOP_TOKEN, &dossier("stop-1")).await?;
    assert_eq!(response.status(), 200);
    let stopping = Instant::now();
    ingest.stop().await?;
    assert!(stopping.elapsed() < Duration::from_secs(10));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_over_its_rate_gets_429_and_other_tokens_do_not() -> anyhow::Result<()> {
    let mut settings = unique_settings("ops_rate")?;
    settings.ingest.rate_limit_events_per_s = 1.0;
    settings.ingest.rate_limit_burst = 3.0;
    let second = "a-second-onestop-token-of-at-least-32-characters";
    settings.ingest.tokens.push(TokenConfig {
        token_sha256: egov_ingest::auth::sha256_hex(second),
        system: System::Onestop,
        units: vec!["*".into()],
    });
    let ingest = Ingest::start(settings, None, None).await?;
    ingest.wait_ready().await?;

    // Five events with a burst of three: taken, and the token owes two.
    let five: Vec<Value> = (0..5).map(|i| dossier(&format!("rate-{i}"))).collect();
    let response = ingest.post(ONESTOP_TOKEN, &json!(five)).await?;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await?;
    assert_eq!(answer["accepted"], 5);

    // Refused, which costs one event more: a debt of three, paid back in four seconds.
    let response = ingest.post(ONESTOP_TOKEN, &dossier("rate-5")).await?;
    assert_eq!(response.status(), 429);
    let retry_after = egov_tests::retry_after(&response);
    assert!((3..=4).contains(&retry_after), "Retry-After {retry_after}");
    assert!(response.headers().contains_key("x-request-id"));
    let error: Value = response.json().await?;
    assert_eq!(error["error"], "rate_limited");

    // Another sender is not slowed down by the first one.
    let response = ingest.post(second, &dossier("rate-6")).await?;
    assert_eq!(response.status(), 200);

    // The debt is paid back at the configured rate.
    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    let response = ingest.post(ONESTOP_TOKEN, &dossier("rate-7")).await?;
    assert_eq!(response.status(), 200);
    ingest.stop().await
}

/// Sends the head of a POST and a part of its body, and holds the rest.
async fn slow_request(addr: SocketAddr) -> anyhow::Result<TcpStream> {
    let stream = TcpStream::connect(addr).await?;
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {ONESTOP_TOKEN}\r\n\
         content-type: application/json\r\ncontent-length: 1000\r\nx-request-id: slow-1\r\n\r\n["
    );
    write_all(&stream, head.as_bytes()).await?;
    Ok(stream)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_beyond_the_in_flight_cap_get_503_and_slow_ones_time_out() -> anyhow::Result<()> {
    let mut settings = unique_settings("ops_cap")?;
    settings.ingest.max_in_flight = 1;
    settings.ingest.request_timeout_ms = 1_500;
    let ingest = Ingest::start(settings, None, None).await?;
    ingest.wait_ready().await?;

    let slow = slow_request(ingest.addr).await?;
    let sent = Instant::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let response = ingest.post(ONESTOP_TOKEN, &dossier("cap-1")).await?;
    assert_eq!(response.status(), 503);
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let error: Value = response.json().await?;
    assert_eq!(error["error"], "overloaded");

    // The slow request is answered 503 `timeout` after the request timeout.
    let answer = tokio::time::timeout(Duration::from_secs(10), read_to_end(&slow)).await??;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 503"),
        "{answer}\nafter {:?}",
        sent.elapsed()
    );
    assert!(answer.contains("\"error\":\"timeout\""), "{answer}");
    assert!(answer.contains("x-request-id: slow-1"), "{answer}");
    assert!(sent.elapsed() >= Duration::from_millis(1_400));

    // The place is free again.
    let response = ingest.post(ONESTOP_TOKEN, &dossier("cap-2")).await?;
    assert_eq!(response.status(), 200);
    ingest.stop().await
}

/// Polls `egov_ingest_requests_in_flight` until `done` holds; fails after 60 s.
async fn wait_in_flight(
    metrics: &PrometheusHandle,
    what: &str,
    done: impl Fn(f64) -> bool,
) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let value = sample_or_zero(&metrics.render(), "egov_ingest_requests_in_flight ");
        if done(value) {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(60) {
            anyhow::bail!("{what}: egov_ingest_requests_in_flight is still {value} after 60 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A client that goes away mid-request is counted out of the in-flight gauge,
/// whether ingest was reading its body or waiting for Kafka (its future is then
/// dropped unfinished). The gauge is the process's, so other tests' requests may
/// be in it too: each step waits until all of them are answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_disconnects_mid_request_leaves_the_in_flight_gauge() -> anyhow::Result<()> {
    let metrics = recorder()?;
    let mut settings = unique_settings("ops_gone")?;
    // Nothing listens on port 1: a produce waits for an acknowledgement that
    // does not come, for longer than the test waits. Nothing is created to clean up.
    settings.kafka.brokers = "127.0.0.1:1".into();
    settings.kafka.produce_timeout_ms = 300_000;
    settings.ingest.request_timeout_ms = 300_000;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (trigger, shutdown) = shutdown::channel();
    let ingest = tokio::spawn(egov_ingest::run(
        settings.ingest_config(),
        listener,
        shutdown,
        Some(metrics.clone()),
    ));

    // Gone while its body is read.
    let slow = slow_request(addr).await?;
    wait_in_flight(&metrics, "body being read", |n| n >= 1.0).await?;
    drop(slow);
    wait_in_flight(&metrics, "after the disconnect", |n| n == 0.0).await?;

    // Gone while ingest waits for Kafka's acknowledgement of its event.
    let stream = TcpStream::connect(addr).await?;
    let body = dossier("gone-1").to_string();
    let request = format!(
        "POST /v1/events HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {ONESTOP_TOKEN}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    write_all(&stream, request.as_bytes()).await?;
    wait_in_flight(&metrics, "waiting for Kafka", |n| n >= 1.0).await?;
    // Still waiting: nothing has been answered.
    let mut buffer = [0u8; 64];
    assert!(
        tokio::time::timeout(Duration::from_millis(500), read_some(&stream, &mut buffer))
            .await
            .is_err(),
        "answered although Kafka is unreachable"
    );
    drop(stream);
    wait_in_flight(&metrics, "after the disconnect", |n| n == 0.0).await?;

    trigger.trigger();
    tokio::time::timeout(Duration::from_secs(60), ingest).await???;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_events_by_system_and_outcome() -> anyhow::Result<()> {
    let settings = unique_settings("ops_metrics")?;
    let ingest = Ingest::start(settings, None, Some(recorder()?)).await?;
    ingest.wait_ready().await?;
    let metrics = || async {
        let response = ingest.http.get(ingest.url("/metrics")).send().await?;
        anyhow::ensure!(response.status() == 200);
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        anyhow::ensure!(content_type.starts_with("text/plain"), "{content_type}");
        Ok(response.text().await?)
    };
    let series = |outcome: &str| {
        format!("egov_ingest_events_total{{system=\"documents\",outcome=\"{outcome}\"}}")
    };
    let before = metrics().await?;
    // Only this test sends documents events in this binary: the deltas are exact.
    let batch = json!([
        document("m-1", "244"),
        document("m-2", "08707"),
        document("m-3", "99999"),
        dossier("m-4"),
        document("m-1", "244"),
        {"event_id": "m-6"},
    ]);
    let response = ingest.post(DOCUMENTS_TOKEN, &batch).await?;
    assert_eq!(response.status(), 200);
    let after = metrics().await?;
    for (outcome, delta) in [
        ("accepted", 2.0),
        ("unknown_unit", 1.0),
        ("forbidden", 1.0),
        ("duplicate_in_request", 1.0),
        ("invalid", 1.0),
    ] {
        assert_eq!(
            sample_or_zero(&after, &series(outcome)) - sample_or_zero(&before, &series(outcome)),
            delta,
            "{outcome}\n{after}"
        );
    }
    for histogram in [
        "egov_ingest_request_duration_seconds_count",
        "egov_kafka_produce_duration_seconds_count",
    ] {
        assert!(
            sample_or_zero(&after, histogram) >= 1.0,
            "{histogram}\n{after}"
        );
    }
    assert!(after.contains("egov_ingest_request_duration_seconds_bucket{le=\"0.005\"}"));
    assert!(sample_or_zero(&after, "egov_ingest_requests_total{status=\"200\"}") >= 1.0);
    assert!(after.contains("# HELP egov_ingest_events_total"));

    // And the description of the API is served as it is in the repository.
    let served: Value = ingest
        .http
        .get(ingest.url("/openapi.json"))
        .send()
        .await?
        .json()
        .await?;
    let file: Value = serde_json::from_str(&std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../schemas/openapi.json"
    ))?)?;
    assert_eq!(served, file);
    ingest.stop().await
}
