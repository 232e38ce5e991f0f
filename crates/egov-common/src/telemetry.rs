//! Logging and metrics set-up, called once by `main`.

use crate::config::{LogConfig, LogFormat};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::io::IsTerminal;
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
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    result.map_err(|e| TelemetryError::AlreadyInstalled(e.to_string()))
}

/// Installs the global Prometheus recorder; the handle renders `/metrics`.
pub fn init_metrics() -> Result<PrometheusHandle, TelemetryError> {
    PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| TelemetryError::AlreadyInstalled(e.to_string()))
}
