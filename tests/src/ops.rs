//! What the operator-facing tests share (`tests/ops.rs`, `tests/pipeline_ops.rs`):
//! fast readiness checks, the process's one Prometheus recorder, a sample
//! read from the metrics, a small valid event, and waiting for `/readyz`.

use egov_ingest::metrics_exporter_prometheus::PrometheusHandle;
use egov_runtime::config::Settings;
use serde_json::{json, Value};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Fast readiness checks, so that tests see changes within a second.
pub fn fast_checks(settings: &mut Settings) {
    settings.ops.readiness_interval_ms = 200;
    settings.ops.probe_timeout_ms = 500;
}

/// The process's Prometheus recorder: one per test binary, shared by its tests.
pub fn recorder() -> anyhow::Result<PrometheusHandle> {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let handle = egov_runtime::telemetry::init_metrics()?;
    Ok(HANDLE.get_or_init(|| handle).clone())
}

/// The value of the sample `name{labels}` in a Prometheus text, 0 if absent.
pub fn sample_or_zero(text: &str, series: &str) -> f64 {
    crate::sample(text, series).unwrap_or(0.0)
}

/// A valid one-stop event of unit 244.
pub fn dossier(id: &str) -> Value {
    json!({"event_id": id, "event_type": "dossier.resolved", "occurred_at": "2021-05-07T10:00:00+07:00",
           "unit_code": "244", "payload": {"dossier_id": "HS-1"}})
}

/// `/readyz` at `url`: the status and the body.
pub async fn readyz(http: &reqwest::Client, url: &str) -> anyhow::Result<(u16, String)> {
    let response = http.get(url).send().await?;
    Ok((response.status().as_u16(), response.text().await?))
}

/// Polls `/readyz` at `url` until `done` holds; fails after `timeout`.
pub async fn wait_readyz(
    http: &reqwest::Client,
    url: &str,
    timeout: Duration,
    done: impl Fn(u16, &str) -> bool,
) -> anyhow::Result<(u16, String)> {
    let started = Instant::now();
    loop {
        let (status, body) = readyz(http, url).await?;
        if done(status, &body) {
            return Ok((status, body));
        }
        if started.elapsed() > timeout {
            anyhow::bail!("/readyz is still {status} {body} after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
