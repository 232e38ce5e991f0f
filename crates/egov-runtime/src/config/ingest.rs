//! `[ingest]`: the HTTP API's limits, TLS and the tokens that may send events.

use super::ConfigError;
use egov_model::model::System;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A bearer token of one source system and the units it may report for. Only
/// the token's SHA-256 is configured; `egov token new` makes a token and its entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenConfig {
    /// The SHA-256 of the token, 64 hexadecimal digits.
    pub token_sha256: String,
    pub system: System,
    /// Unit codes, or `*` for all.
    pub units: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct IngestSection {
    pub listen: String,
    pub max_body_bytes: usize,
    pub max_events: usize,
    /// Of one event's JSON text; a larger event is that event's `invalid` error.
    pub max_event_bytes: usize,
    /// Per-event errors listed in one answer; the count of the rest is given.
    pub max_errors_per_response: usize,
    /// Bytes of request bodies (as sent, and decoded) held at once by all
    /// requests together; a request that would need more gets 503.
    pub max_body_bytes_in_flight: usize,
    pub tokens: Vec<TokenConfig>,
    /// Adds the two development tokens (every unit of their system); never in production.
    pub dev_tokens: bool,
    /// Events per second each token may send on average; 0 turns the limit off
    /// (the default). Beyond it the token gets 429 with `Retry-After`.
    pub rate_limit_events_per_s: f64,
    /// Events a token may send at once above its rate (the bucket size).
    pub rate_limit_burst: f64,
    /// `POST /v1/events` requests handled at once; beyond, 503 with `Retry-After`.
    pub max_in_flight: usize,
    /// `POST /v1/events` requests of one token handled at once; beyond, 429
    /// with `Retry-After`.
    pub max_in_flight_per_token: usize,
    /// A request not answered within this gets 503 with `Retry-After`.
    pub request_timeout_ms: u64,
    /// A connection that has not sent a whole request head within this (also
    /// an idle keep-alive connection) is closed.
    pub header_read_timeout_ms: u64,
    /// Connections open at once; a connection beyond is closed at once.
    pub max_connections: usize,
    /// PEM certificate chain and private key: with both, ingest serves HTTPS
    /// only; without, plain HTTP.
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    /// After a stop is requested, `/readyz` answers 503 for this long before
    /// the listener closes, so that load balancers stop sending first.
    pub shutdown_grace_ms: u64,
}

impl Default for IngestSection {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            max_body_bytes: 10 * 1024 * 1024,
            max_events: 10_000,
            max_event_bytes: 256 * 1024,
            max_errors_per_response: 100,
            max_body_bytes_in_flight: 128 * 1024 * 1024,
            tokens: Vec::new(),
            dev_tokens: false,
            rate_limit_events_per_s: 0.0,
            rate_limit_burst: 20_000.0,
            max_in_flight: 64,
            max_in_flight_per_token: 16,
            request_timeout_ms: 30_000,
            header_read_timeout_ms: 10_000,
            max_connections: 512,
            tls_cert_file: None,
            tls_key_file: None,
            shutdown_grace_ms: 0,
        }
    }
}

impl IngestSection {
    /// Each configured token is a SHA-256 in hex with its units, and no token
    /// is configured twice.
    pub fn check_tokens(&self) -> Result<(), ConfigError> {
        let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for (index, token) in self.tokens.iter().enumerate() {
            let hash = &token.token_sha256;
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ConfigError::Token {
                    index,
                    reason: format!(
                        "token_sha256 must be the token's SHA-256, 64 hexadecimal digits, not {} characters",
                        hash.len()
                    ),
                });
            }
            if token.units.is_empty() {
                return Err(ConfigError::Token {
                    index,
                    reason: "units is empty: list unit codes, or [\"*\"] for every unit".into(),
                });
            }
            if let Some(first) = seen.insert(hash.to_ascii_lowercase(), index) {
                return Err(ConfigError::DuplicateToken {
                    first,
                    second: index,
                });
            }
        }
        Ok(())
    }

    /// `egov run` and `egov ingest` serve only with tokens: configured ones, or
    /// the development tokens asked for explicitly.
    pub fn require_tokens(&self) -> Result<(), ConfigError> {
        if self.tokens.is_empty() && !self.dev_tokens {
            return Err(ConfigError::NoTokens);
        }
        Ok(())
    }
}
