//! The ingest service: `POST /v1/events` authenticates the source system,
//! validates each event against contract v1, produces the valid ones to the raw
//! topic with acks=all, and answers only once Kafka has acknowledged them.
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod body;
pub mod error;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use body::{BodyEvent, Limits};
use chrono::Utc;
use egov_common::catalogue::{Catalogue, CatalogueError};
use egov_common::config::{IngestConfig, TokenConfig};
use egov_common::contract::{Contract, ContractError, ErrorCode, Violation};
use egov_common::kafka::{self, HEADER_RECEIVED_MS, HEADER_REQUEST_ID, HEADER_SYSTEM};
use egov_common::shutdown::Shutdown;
use egov_common::System;
use error::ApiError;
use futures::future::join_all;
use metrics_exporter_prometheus::PrometheusHandle;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use serde::Serialize;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tracing::{info, warn};

pub use metrics_exporter_prometheus;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
    #[error(transparent)]
    Contract(#[from] ContractError),
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("http server: {0}")]
    Serve(#[from] std::io::Error),
}

/// Who a bearer token speaks for.
#[derive(Debug, Clone)]
struct Sender {
    system: System,
    /// `None`: every unit.
    units: Option<HashSet<String>>,
}

impl Sender {
    fn from_config(token: &TokenConfig) -> Self {
        let all = token.units.iter().any(|u| u == "*");
        Self {
            system: token.system,
            units: (!all).then(|| token.units.iter().cloned().collect()),
        }
    }

    fn may_report_for(&self, unit_code: &str) -> bool {
        self.units
            .as_ref()
            .is_none_or(|units| units.contains(unit_code))
    }
}

struct AppState {
    senders: HashMap<String, Sender>,
    contract: Contract,
    catalogue: Catalogue,
    producer: FutureProducer,
    raw_topic: String,
    limits: Limits,
}

/// The per-event error of a 200 answer (contract section 1).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct EventError {
    pub index: usize,
    pub event_id: Option<String>,
    pub code: ErrorCode,
    pub path: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct IngestAnswer {
    pub accepted: usize,
    pub rejected: usize,
    pub errors: Vec<EventError>,
}

/// Everything `run` needs besides the listener and the shutdown signal.
pub struct Ingest {
    state: Arc<AppState>,
    metrics: Option<PrometheusHandle>,
}

impl Ingest {
    /// Loads the contract and the catalogue and connects the producer.
    pub fn new(
        config: &IngestConfig,
        metrics: Option<PrometheusHandle>,
    ) -> Result<Self, IngestError> {
        let catalogue = Catalogue::load(config.catalogue.path.as_deref())?;
        let contract = Contract::v1()?;
        let producer = kafka::durable_producer(&config.kafka)?;
        let senders = config
            .http
            .tokens
            .iter()
            .map(|t| (t.token.clone(), Sender::from_config(t)))
            .collect();
        for token in config.http.tokens.iter().filter(|t| t.is_development()) {
            warn!(system = %token.system, "development token `{}` is active: configure real tokens in production", token.token);
        }
        Ok(Self {
            state: Arc::new(AppState {
                senders,
                contract,
                catalogue,
                producer,
                raw_topic: config.kafka.raw_topic.clone(),
                limits: Limits {
                    max_body_bytes: config.http.max_body_bytes,
                    max_events: config.http.max_events,
                },
            }),
            metrics,
        })
    }

    pub fn router(&self) -> Router {
        // Compressed bodies are limited too; the decoded size is checked in `body`.
        let body_limit = self.state.limits.max_body_bytes.saturating_add(1);
        Router::new()
            .route("/v1/events", post(post_events))
            .with_state(self.state.clone())
            .layer(DefaultBodyLimit::max(body_limit))
            .merge(egov_common::ops::router(self.metrics.clone()))
    }
}

/// Serves the ingest API on `listener` until `shutdown`, then lets requests in
/// flight finish and flushes the producer.
pub async fn run(
    config: IngestConfig,
    listener: TcpListener,
    mut shutdown: Shutdown,
    metrics: Option<PrometheusHandle>,
) -> Result<(), IngestError> {
    kafka::ensure_topics(&config.kafka, &[&config.kafka.raw_topic]).await?;
    let ingest = Ingest::new(&config, metrics)?;
    let state = ingest.state.clone();
    let address = listener.local_addr()?;
    info!(%address, topic = %config.kafka.raw_topic, units = state.catalogue.len(), "ingest listening");
    axum::serve(listener, ingest.router())
        .with_graceful_shutdown(async move { shutdown.wait().await })
        .await?;
    let producer = state.producer.clone();
    tokio::task::spawn_blocking(move || producer.flush(Duration::from_secs(10)))
        .await
        .map_err(|e| IngestError::Serve(std::io::Error::other(e)))??;
    info!("ingest stopped");
    Ok(())
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

async fn post_events(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let started = Instant::now();
    let result = handle(&state, &headers, &body, &request_id).await;
    let mut response = match result {
        Ok(answer) => {
            info!(
                request_id,
                accepted = answer.accepted,
                rejected = answer.rejected,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "events ingested"
            );
            Json(answer).into_response()
        }
        Err(error) => {
            warn!(request_id, %error, "request refused");
            error.into_response()
        }
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

async fn handle(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    request_id: &str,
) -> Result<IngestAnswer, ApiError> {
    let sender = bearer_token(headers)
        .and_then(|token| state.senders.get(token))
        .ok_or(ApiError::Unauthorized)?;
    let events = body::read_events(headers, body, &state.limits)?;
    let now = Utc::now();
    let (accepted, errors) = check_events(state, sender, &events, now);
    let received_ms = now.timestamp_millis().to_string();
    let deliveries = accepted.iter().map(|(event_id, event)| {
        produce(
            state,
            sender.system,
            event_id,
            event,
            &received_ms,
            request_id,
        )
    });
    for result in join_all(deliveries).await {
        result?;
    }
    Ok(IngestAnswer {
        accepted: accepted.len(),
        rejected: errors.len(),
        errors,
    })
}

/// Splits a request's events into those to produce and the per-event errors.
fn check_events<'a>(
    state: &'a AppState,
    sender: &Sender,
    events: &'a [BodyEvent],
    now: chrono::DateTime<Utc>,
) -> (Vec<(&'a str, &'a Value)>, Vec<EventError>) {
    let mut accepted = Vec::with_capacity(events.len());
    let mut errors = Vec::new();
    let mut seen_ids = HashSet::with_capacity(events.len());
    for (index, event) in events.iter().enumerate() {
        let event = match event {
            Ok(event) => event,
            Err(message) => {
                errors.push(EventError {
                    index,
                    event_id: None,
                    code: ErrorCode::Invalid,
                    path: String::new(),
                    message: message.clone(),
                });
                continue;
            }
        };
        let event_id = event.get("event_id").and_then(Value::as_str);
        let verdict = state
            .contract
            .validate(event, now, &state.catalogue)
            .and_then(|valid| {
                if valid.event_type.system() != sender.system {
                    return Err(Violation::new(
                        ErrorCode::Forbidden,
                        "/event_type",
                        format!(
                            "{} events come from the {} system; this token belongs to {}",
                            valid.event_type,
                            valid.event_type.system(),
                            sender.system
                        ),
                    ));
                }
                if !sender.may_report_for(&valid.unit.code) {
                    return Err(Violation::new(
                        ErrorCode::Forbidden,
                        "/unit_code",
                        format!("this token may not report for unit `{}`", valid.unit.code),
                    ));
                }
                if !seen_ids.insert(valid.event_id) {
                    return Err(Violation::new(
                        ErrorCode::DuplicateInRequest,
                        "/event_id",
                        format!(
                            "event_id `{}` appears earlier in this request",
                            valid.event_id
                        ),
                    ));
                }
                Ok(valid.event_id)
            });
        match verdict {
            Ok(id) => accepted.push((id, event)),
            Err(violation) => errors.push(EventError {
                index,
                event_id: event_id.map(str::to_owned),
                code: violation.code,
                path: violation.path,
                message: violation.message,
            }),
        }
    }
    (accepted, errors)
}

async fn produce(
    state: &AppState,
    system: System,
    event_id: &str,
    event: &Value,
    received_ms: &str,
    request_id: &str,
) -> Result<(), ApiError> {
    let payload = serde_json::to_vec(event).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let key = format!("{system}:{event_id}");
    let headers = OwnedHeaders::new_with_capacity(3)
        .insert(Header {
            key: HEADER_SYSTEM,
            value: Some(system.as_str()),
        })
        .insert(Header {
            key: HEADER_RECEIVED_MS,
            value: Some(received_ms),
        })
        .insert(Header {
            key: HEADER_REQUEST_ID,
            value: Some(request_id),
        });
    let record = FutureRecord::to(&state.raw_topic)
        .key(&key)
        .payload(&payload)
        .headers(headers);
    let delivery = state
        .producer
        .send_result(record)
        .map_err(|(error, _)| unavailable(&error))?;
    match delivery.await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err((error, _))) => Err(unavailable(&error)),
        Err(_cancelled) => Err(ApiError::Unavailable {
            reason: "the producer shut down".into(),
            retry_after_s: 1,
        }),
    }
}

fn unavailable(error: &KafkaError) -> ApiError {
    let reason = match error.rdkafka_error_code() {
        Some(RDKafkaErrorCode::QueueFull) => "the producer queue is full".to_owned(),
        Some(RDKafkaErrorCode::MessageTimedOut) => "Kafka did not acknowledge in time".to_owned(),
        _ => format!("Kafka: {error}"),
    };
    ApiError::Unavailable {
        reason,
        retry_after_s: 2,
    }
}
