//! Logging and metrics set-up, called once by `main`.

use crate::config::{LogConfig, LogFormat};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::io::IsTerminal;
use std::time::Duration;
use tracing_subscriber::EnvFilter;

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("log filter `{filter}`: {message}")]
    Filter { filter: String, message: String },
    #[error("a global subscriber or recorder is already installed: {0}")]
    AlreadyInstalled(String),
}

/// Installs the global `tracing` subscriber: human-readable text by default,
/// one JSON object per line with `EGOV__LOG__FORMAT=json`.
pub fn init_logging(config: &LogConfig) -> Result<(), TelemetryError> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directive) if !directive.is_empty() => EnvFilter::try_new(&directive),
        _ => EnvFilter::try_new(&config.filter),
    }
    .map_err(|e| TelemetryError::Filter {
        filter: config.filter.clone(),
        message: e.to_string(),
    })?;
    // Colours only for a person at a terminal, never into log files.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let result = match config.format {
        LogFormat::Text => builder.try_init(),
        // The innermost span's fields (e.g. `request_id`) under `span`; not the list of all spans.
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_span_list(false)
            .try_init(),
    };
    result.map_err(|e| TelemetryError::AlreadyInstalled(e.to_string()))
}

/// Buckets of every `*_seconds` histogram: 1 ms to 30 s.
pub const SECONDS_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Buckets of the rows-per-batch histogram.
pub const ROWS_BUCKETS: [f64; 9] = [
    1.0, 10.0, 100.0, 1_000.0, 5_000.0, 10_000.0, 25_000.0, 50_000.0, 100_000.0,
];
/// How often histogram samples are folded into their buckets (bounded memory
/// even when nobody scrapes `/metrics`).
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Installs the global Prometheus recorder (histograms with buckets, not
/// summaries), describes the pipeline's metrics and starts the upkeep thread;
/// the handle renders `/metrics`.
pub fn init_metrics() -> Result<PrometheusHandle, TelemetryError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS_BUCKETS)
        .and_then(|b| {
            b.set_buckets_for_metric(Matcher::Full("egov_load_batch_rows".into()), &ROWS_BUCKETS)
        })
        .map_err(|e| TelemetryError::AlreadyInstalled(e.to_string()))?
        .install_recorder()
        .map_err(|e| TelemetryError::AlreadyInstalled(e.to_string()))?;
    describe_metrics();
    let upkeep = handle.clone();
    std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || loop {
            std::thread::sleep(UPKEEP_INTERVAL);
            upkeep.run_upkeep();
        })
        .map_err(|e| TelemetryError::AlreadyInstalled(format!("upkeep thread: {e}")))?;
    Ok(handle)
}

/// `# HELP` lines of the metrics every service may emit.
fn describe_metrics() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "egov_ingest_events_total",
        "Events received by ingest, by system and outcome (accepted, invalid, forbidden, unknown_unit, duplicate_in_request)."
    );
    describe_counter!(
        "egov_ingest_requests_total",
        "POST /v1/events requests by HTTP status."
    );
    describe_histogram!(
        "egov_ingest_request_duration_seconds",
        Unit::Seconds,
        "Time to answer POST /v1/events, from the first byte read to the answer."
    );
    describe_gauge!(
        "egov_ingest_requests_in_flight",
        "POST /v1/events requests being handled now."
    );
    describe_histogram!(
        "egov_kafka_produce_duration_seconds",
        Unit::Seconds,
        "Per ingest request: from handing its accepted events to the producer to the last acks=all acknowledgement."
    );
    describe_gauge!(
        "egov_consumer_lag",
        "Messages in a partition not yet read by a consumer service (high watermark minus position)."
    );
    describe_gauge!(
        "egov_readiness_check_ok",
        "1 while the readiness check (kafka, clickhouse, catalogue, transform, load) passes, 0 while it fails (/readyz then answers 503)."
    );
    describe_gauge!(
        "egov_topic_weaker_than_config",
        "Settings (replication factor, min.insync.replicas, retention) in which a pipeline topic is weaker than configured; 0 when as configured or stronger."
    );
    describe_counter!(
        "egov_transform_messages_total",
        "Raw messages transform handled (curated or dead-lettered)."
    );
    describe_counter!(
        "egov_dead_letters_total",
        "Dead letters written, by the service that wrote them (transform, load) and reason."
    );
    describe_counter!(
        "egov_load_rows_inserted_total",
        "Rows inserted into ClickHouse, by table."
    );
    describe_histogram!("egov_load_batch_rows", "Rows per ClickHouse insert.");
    describe_histogram!(
        "egov_load_insert_duration_seconds",
        Unit::Seconds,
        "Duration of a successful ClickHouse insert."
    );
}
