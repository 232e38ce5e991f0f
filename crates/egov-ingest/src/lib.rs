//! The ingest service: `POST /v1/events` authenticates the source system,
//! validates each event against contract v1, produces the valid ones to the raw
//! topic with acks=all, and answers only once Kafka has acknowledged them.
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod body;
pub mod error;
pub mod limits;
pub mod request_id;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use body::{BodyEvent, Limits};
use chrono::Utc;
use egov_common::catalogue::{Catalogue, CatalogueError};
use egov_common::config::{IngestConfig, TokenConfig};
use egov_common::contract::{Contract, ContractError, ErrorCode, Violation};
use egov_common::kafka::{self, HEADER_RECEIVED_MS, HEADER_REQUEST_ID, HEADER_SYSTEM};
use egov_common::ops::{self, Check, Readiness};
use egov_common::shutdown::Shutdown;
use egov_common::System;
use error::ApiError;
use futures::future::join_all;
use limits::{RateLimit, TokenBucket};
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
use tokio::sync::Semaphore;
use tracing::{info, warn, Instrument};

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

/// The events API.
pub const EVENTS_PATH: &str = "/v1/events";
/// The OpenAPI description of this service.
pub const OPENAPI_PATH: &str = "/openapi.json";
/// The OpenAPI 3.1 description served at [`OPENAPI_PATH`].
pub const OPENAPI_JSON: &str = include_str!("../../../schemas/openapi.json");

/// Every (method, path) the ingest router serves.
pub fn routes() -> Vec<(&'static str, &'static str)> {
    let mut routes = vec![("post", EVENTS_PATH), ("get", OPENAPI_PATH)];
    routes.extend(ops::PATHS.iter().map(|path| ("get", *path)));
    routes
}

/// Who a bearer token speaks for.
#[derive(Debug)]
struct Sender {
    system: System,
    /// `None`: every unit.
    units: Option<HashSet<String>>,
    /// `None`: no rate limit.
    bucket: Option<TokenBucket>,
}

impl Sender {
    fn from_config(token: &TokenConfig, rate: Option<RateLimit>) -> Self {
        let all = token.units.iter().any(|u| u == "*");
        Self {
            system: token.system,
            units: (!all).then(|| token.units.iter().cloned().collect()),
            bucket: rate.map(|limit| TokenBucket::new(limit, Instant::now())),
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
    in_flight: Arc<Semaphore>,
    max_in_flight: usize,
    request_timeout: Duration,
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
    readiness: Readiness,
}

impl Ingest {
    /// Loads the contract and the catalogue (reported to `readiness`) and
    /// connects the producer.
    pub fn new(
        config: &IngestConfig,
        metrics: Option<PrometheusHandle>,
        readiness: Readiness,
    ) -> Result<Self, IngestError> {
        let catalogue = Catalogue::load(config.catalogue.path.as_deref())
            .inspect_err(|e| readiness.set(Check::Catalogue, Err(e.to_string())))?;
        readiness.set(Check::Catalogue, Ok(()));
        let contract = Contract::v1()?;
        let producer = kafka::durable_producer(&config.kafka)?;
        let http = &config.http;
        let rate = RateLimit::from_config(http.rate_limit_events_per_s, http.rate_limit_burst);
        let senders = http
            .tokens
            .iter()
            .map(|t| (t.token.clone(), Sender::from_config(t, rate)))
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
                    max_body_bytes: http.max_body_bytes,
                    max_events: http.max_events,
                },
                in_flight: Arc::new(Semaphore::new(http.max_in_flight.max(1))),
                max_in_flight: http.max_in_flight.max(1),
                request_timeout: Duration::from_millis(http.request_timeout_ms.max(1)),
            }),
            metrics,
            readiness,
        })
    }

    pub fn router(&self) -> Router {
        // Compressed bodies are limited too; the decoded size is checked in `body`.
        let body_limit = self.state.limits.max_body_bytes.saturating_add(1);
        Router::new()
            .route(EVENTS_PATH, post(post_events))
            .route_layer(middleware::from_fn_with_state(self.state.clone(), guard))
            .layer(DefaultBodyLimit::max(body_limit))
            .route(OPENAPI_PATH, get(openapi))
            .with_state(self.state.clone())
            .merge(ops::router_with(
                self.metrics.clone(),
                self.readiness.clone(),
            ))
    }
}

/// The readiness checks of ingest on its own: Kafka and the catalogue.
pub fn readiness(config: &IngestConfig) -> Result<Readiness, IngestError> {
    Ok(Readiness::builder(&config.ops)
        .kafka(&config.kafka)
        .catalogue()
        .build()?)
}

/// Serves the ingest API on `listener` until `shutdown`, then lets requests in
/// flight finish and flushes the producer. Readiness checks Kafka and the
/// catalogue; see [`run_with`] for a process that checks more.
pub async fn run(
    config: IngestConfig,
    listener: TcpListener,
    shutdown: Shutdown,
    metrics: Option<PrometheusHandle>,
) -> Result<(), IngestError> {
    let readiness = readiness(&config)?;
    let checks = readiness.spawn(shutdown.clone());
    let result = run_with(config, listener, shutdown, metrics, readiness).await;
    checks.abort();
    result
}

/// [`run`] with a readiness whose checks the caller runs (`Readiness::spawn`);
/// ingest reports the catalogue to it and marks it shutting down on `shutdown`,
/// `shutdown_grace_ms` before the listener closes.
pub async fn run_with(
    config: IngestConfig,
    listener: TcpListener,
    mut shutdown: Shutdown,
    metrics: Option<PrometheusHandle>,
    readiness: Readiness,
) -> Result<(), IngestError> {
    // Kafka may be down at start: serve anyway (503s, not ready) and create the topic when it is back.
    let topics = tokio::spawn({
        let (kafka_config, shutdown) = (config.kafka.clone(), shutdown.clone());
        async move {
            kafka::ensure_topics_retrying(&kafka_config, &[&kafka_config.raw_topic], shutdown).await
        }
    });
    let ingest = Ingest::new(&config, metrics, readiness.clone())?;
    let state = ingest.state.clone();
    let address = listener.local_addr()?;
    info!(%address, topic = %config.kafka.raw_topic, units = state.catalogue.len(), max_in_flight = state.max_in_flight, rate_limit_events_per_s = config.http.rate_limit_events_per_s, "ingest listening");
    let grace = Duration::from_millis(config.http.shutdown_grace_ms);
    axum::serve(listener, ingest.router())
        .with_graceful_shutdown(async move {
            shutdown.wait().await;
            readiness.set_shutting_down();
            if !grace.is_zero() {
                info!(
                    grace_ms = grace.as_millis() as u64,
                    "not ready any more; closing the listener after the grace period"
                );
                tokio::time::sleep(grace).await;
            }
        })
        .await?;
    topics.abort();
    let producer = state.producer.clone();
    let flushed = tokio::task::spawn_blocking(move || producer.flush(Duration::from_secs(10)))
        .await
        .map_err(|e| IngestError::Serve(std::io::Error::other(e)))?;
    if let Err(error) = flushed {
        // Every request waiting on these messages has had its 503 already.
        warn!(%error, "producer not flushed at shutdown");
    }
    info!("ingest stopped");
    Ok(())
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON)
}

/// The id of the request being handled, put in its extensions by [`guard`].
#[derive(Debug, Clone)]
struct RequestId(String);

/// Around every `POST /v1/events`: the request id (span, extension, answer
/// header), the cap on requests in flight, the request timeout, and the
/// request metrics.
async fn guard(State(state): State<Arc<AppState>>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id::from_headers(request.headers());
    request.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id);
    let mut response = async {
        let Ok(_permit) = state.in_flight.clone().try_acquire_owned() else {
            let error = ApiError::Overloaded {
                limit: state.max_in_flight,
                retry_after_s: 1,
            };
            warn!(
                limit = state.max_in_flight,
                "request refused: too many in flight"
            );
            return error.into_response();
        };
        let in_flight = metrics::gauge!("egov_ingest_requests_in_flight");
        in_flight.increment(1.0);
        let answer = tokio::time::timeout(state.request_timeout, next.run(request)).await;
        in_flight.decrement(1.0);
        answer.unwrap_or_else(|_elapsed| {
            let after_ms = state.request_timeout.as_millis() as u64;
            warn!(after_ms, "request timed out");
            ApiError::Timeout {
                after_ms,
                retry_after_s: 1,
            }
            .into_response()
        })
    }
    .instrument(span)
    .await;
    let status = response.status();
    metrics::counter!("egov_ingest_requests_total", "status" => status.as_str().to_owned())
        .increment(1);
    metrics::histogram!("egov_ingest_request_duration_seconds")
        .record(started.elapsed().as_secs_f64());
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(request_id::HEADER, value);
    }
    response
}

async fn post_events(
    State(state): State<Arc<AppState>>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    request: Request,
) -> Response {
    let started = Instant::now();
    match handle(&state, request, &request_id).await {
        Ok(answer) => {
            info!(
                system = %answer.system,
                accepted = answer.body.accepted,
                rejected = answer.body.rejected,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "events ingested"
            );
            Json(answer.body).into_response()
        }
        Err(error) => {
            let status = error.status().as_u16();
            if error.status().is_server_error() {
                warn!(status, %error, "request refused");
            } else {
                info!(status, %error, "request refused");
            }
            error.into_response()
        }
    }
}

/// A 200 answer and whose it is.
struct Handled {
    system: System,
    body: IngestAnswer,
}

async fn handle(state: &AppState, request: Request, request_id: &str) -> Result<Handled, ApiError> {
    let sender = bearer_token(request.headers())
        .and_then(|token| state.senders.get(token))
        .ok_or(ApiError::Unauthorized)?;
    if let Some(bucket) = &sender.bucket {
        bucket
            .admit(Instant::now())
            .map_err(|wait| ApiError::RateLimited {
                per_second: bucket.limit().per_second,
                retry_after_s: limits::retry_after_secs(wait),
            })?;
    }
    let headers = request.headers().clone();
    let body = read_body(request).await?;
    let events = body::read_events(&headers, &body, &state.limits)?;
    if let Some(bucket) = &sender.bucket {
        bucket.charge(events.len(), Instant::now());
    }
    let now = Utc::now();
    let (accepted, errors) = check_events(state, sender, &events, now);
    count_outcomes(sender.system, &errors);
    let received_ms = now.timestamp_millis().to_string();
    let produce_started = Instant::now();
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
    let delivered = join_all(deliveries).await;
    if !accepted.is_empty() {
        metrics::histogram!("egov_kafka_produce_duration_seconds")
            .record(produce_started.elapsed().as_secs_f64());
    }
    let system = sender.system.as_str();
    if let Some(error) = delivered.into_iter().find_map(Result::err) {
        metrics::counter!("egov_ingest_events_total", "system" => system, "outcome" => "unavailable")
            .increment(accepted.len() as u64);
        return Err(error);
    }
    metrics::counter!("egov_ingest_events_total", "system" => system, "outcome" => "accepted")
        .increment(accepted.len() as u64);
    Ok(Handled {
        system: sender.system,
        body: IngestAnswer {
            accepted: accepted.len(),
            rejected: errors.len(),
            errors,
        },
    })
}

/// The whole body, within the body limit set on the route.
async fn read_body(request: Request) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, &())
        .await
        .map_err(|rejection| match rejection {
            BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
                ApiError::TooLarge(
                    "the body is larger than the limit; split it into smaller requests".into(),
                )
            }
            other => ApiError::BadRequest(format!("the body could not be read: {other}")),
        })
}

/// `egov_ingest_events_total` of the refused events, one increment per code.
fn count_outcomes(system: System, errors: &[EventError]) {
    let mut counts: HashMap<ErrorCode, u64> = HashMap::new();
    for error in errors {
        *counts.entry(error.code).or_default() += 1;
    }
    for (code, count) in counts {
        metrics::counter!("egov_ingest_events_total", "system" => system.as_str(), "outcome" => code.as_str())
            .increment(count);
    }
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
