//! The ingest service: `POST /v1/events` authenticates the source system,
//! validates each event against contract v1, produces the valid ones to the raw
//! topic with acks=all, and answers only once Kafka has acknowledged them.
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod auth;
pub mod body;
mod check;
use check::{check_events, Accepted, Checked};
pub mod error;
pub mod limits;
pub mod request_id;
pub mod serve;

use auth::{AuthError, Sender, Tokens};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use body::{Encoding, Limits};
use chrono::Utc;
use egov_model::catalogue::{Catalogue, CatalogueError};
use egov_model::contract::{Contract, ContractError, ErrorCode};
use egov_model::System;
use egov_runtime::config::IngestConfig;
use egov_runtime::kafka::{self, HEADER_RECEIVED_MS, HEADER_REQUEST_ID, HEADER_SYSTEM};
use egov_runtime::ops::{self, Check, Readiness};
use egov_runtime::seal::{SealKey, HEADER_SEAL};
use egov_runtime::shutdown::Shutdown;
use error::ApiError;
use futures::future::join_all;
use limits::{refusal_cost, BodyBudget};
use metrics_exporter_prometheus::PrometheusHandle;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::{info, warn, Instrument};

pub use metrics_exporter_prometheus;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
    #[error(transparent)]
    Contract(#[from] ContractError),
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("http server: {0}")]
    Serve(#[from] std::io::Error),
    #[error("TLS: {0}")]
    Tls(String),
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

struct AppState {
    tokens: Tokens,
    contract: Contract,
    catalogue: Catalogue,
    producer: FutureProducer,
    raw_topic: String,
    /// Seals the accepted events for transform (`kafka.seal_key`), if set.
    seal: Option<SealKey>,
    limits: Limits,
    max_errors_per_response: usize,
    body_budget: BodyBudget,
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
    /// The first `max_errors_per_response` errors, in event order.
    pub errors: Vec<EventError>,
    /// Rejected events not listed in `errors`.
    pub errors_omitted: usize,
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
        let tokens = Tokens::from_config(&config.http)?;
        let catalogue = config
            .catalogue
            .load()
            .inspect_err(|e| readiness.set(Check::Catalogue, Err(e.to_string())))?;
        readiness.set(Check::Catalogue, Ok(()));
        let contract = Contract::v1()?;
        let producer = kafka::durable_producer(&config.kafka)?;
        let http = &config.http;
        if tokens.development() {
            warn!(
                tokens = tokens.len(),
                "development tokens are active (ingest.dev_tokens = true): they may write every unit; never in production"
            );
        }
        Ok(Self {
            state: Arc::new(AppState {
                tokens,
                contract,
                catalogue,
                producer,
                raw_topic: config.kafka.raw_topic.clone(),
                seal: config.kafka.seal(),
                limits: Limits {
                    max_body_bytes: http.max_body_bytes,
                    max_events: http.max_events,
                    max_event_bytes: http.max_event_bytes,
                },
                max_errors_per_response: http.max_errors_per_response,
                body_budget: BodyBudget::new(http.max_body_bytes_in_flight),
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
        .process(ops::Process::Ingest)
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
    let http = &config.http;
    let tls = match (&http.tls_cert_file, &http.tls_key_file) {
        (Some(cert), Some(key)) => Some(serve::tls_acceptor(cert, key)?),
        (None, None) => None,
        _ => {
            return Err(IngestError::Tls(
                "set both ingest.tls_cert_file and ingest.tls_key_file, or neither".into(),
            ))
        }
    };
    let options = serve::ServeOptions {
        header_read_timeout: Duration::from_millis(http.header_read_timeout_ms.max(1)),
        max_connections: http.max_connections.max(1),
        tls,
    };
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
    let scheme = if options.tls.is_some() {
        "https"
    } else {
        "http"
    };
    info!(%address, scheme, topic = %config.kafka.raw_topic, units = state.catalogue.len(), max_in_flight = state.max_in_flight, max_connections = options.max_connections, rate_limit_events_per_s = http.rate_limit_events_per_s, "ingest listening");
    let grace = Duration::from_millis(http.shutdown_grace_ms);
    let stop = async move {
        shutdown.wait().await;
        readiness.set_shutting_down();
        if !grace.is_zero() {
            info!(
                grace_ms = grace.as_millis() as u64,
                "not ready any more; closing the listener after the grace period"
            );
            tokio::time::sleep(grace).await;
        }
    };
    serve::serve(listener, ingest.router(), options, stop).await;
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

/// Counts a request in flight while alive: also when the client goes away
/// and the request's future is dropped unfinished.
struct InFlight(metrics::Gauge);

impl InFlight {
    fn new() -> Self {
        let gauge = metrics::gauge!("egov_ingest_requests_in_flight");
        gauge.increment(1.0);
        Self(gauge)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

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
        let _in_flight = InFlight::new();
        let answer = tokio::time::timeout(state.request_timeout, next.run(request)).await;
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

async fn handle(
    state: &Arc<AppState>,
    request: Request,
    request_id: &str,
) -> Result<Handled, ApiError> {
    let sender = bearer_token(request.headers())
        .and_then(|token| state.tokens.find(token))
        .cloned()
        .ok_or(ApiError::Unauthorized)?;
    let Ok(_permit) = sender.in_flight.clone().try_acquire_owned() else {
        sender.charge(1);
        return Err(ApiError::TooManyInFlight {
            limit: sender.max_in_flight,
            retry_after_s: 1,
        });
    };
    if let Some(bucket) = &sender.bucket {
        bucket
            .admit(Instant::now())
            .map_err(|wait| ApiError::RateLimited {
                per_second: bucket.limit().per_second,
                retry_after_s: limits::retry_after_secs(wait),
            })?;
    }
    let (mut checked, read, _bodies) = read_and_check(state, &sender, request)
        .await
        .inspect_err(|error| sender.charge(refusal_cost(error, state.limits.max_events)))?;
    sender.charge(checked.events);
    let produce_started = Instant::now();
    // Every event is handed to the producer first, then the acknowledgements are awaited together.
    let deliveries: Vec<_> = checked
        .accepted
        .iter()
        .map(|event| produce(state, sender.system, event, &read, request_id))
        .collect();
    let delivered = join_all(deliveries.into_iter().map(settle)).await;
    if !checked.accepted.is_empty() {
        metrics::histogram!("egov_kafka_produce_duration_seconds")
            .record(produce_started.elapsed().as_secs_f64());
    }
    let system = sender.system.as_str();
    let mut accepted = 0;
    let mut unavailable = None;
    for (event, delivery) in checked.accepted.iter().zip(delivered) {
        match delivery {
            Ok(()) => accepted += 1,
            Err(Refused::ForGood(reason)) => checked.errors.push(EventError {
                index: event.index,
                event_id: Some(event.event_id().to_owned()),
                code: ErrorCode::Invalid,
                path: String::new(),
                message: format!(
                    "Kafka refuses this event for good ({reason}); it cannot be sent as it is"
                ),
            }),
            Err(Refused::ForNow(error)) => unavailable = unavailable.or(Some(error)),
        }
    }
    if let Some(error) = unavailable {
        metrics::counter!("egov_ingest_events_total", "system" => system, "outcome" => "unavailable")
            .increment(checked.accepted.len() as u64);
        return Err(error);
    }
    metrics::counter!("egov_ingest_events_total", "system" => system, "outcome" => "accepted")
        .increment(accepted as u64);
    checked.errors.count(sender.system);
    Ok(Handled {
        system: sender.system,
        body: checked.errors.into_answer(accepted),
    })
}

/// A request's decoded body, and when it was received: what its accepted events are produced from.
struct ReadBody {
    body: Vec<u8>,
    received_ms: String,
}

/// Reads the body, then decodes, splits and checks it on a blocking thread:
/// none of that work runs on the async workers. The body's memory is
/// reserved before it is read, the decoded body's as it grows; the
/// reservation is held until the request is answered.
async fn read_and_check(
    state: &Arc<AppState>,
    sender: &Arc<Sender>,
    request: Request,
) -> Result<(Checked, ReadBody, OwnedSemaphorePermit), ApiError> {
    let (parts, body) = request.into_parts();
    let encoding = Encoding::of(&parts.headers)?;
    let announced = body::announced(&parts.headers, &state.limits)?;
    let mut reservation = state.body_budget.reserve(announced)?;
    let bytes = body::read(body, &parts.headers, &state.limits).await?;
    let (state, sender) = (state.clone(), sender.clone());
    tokio::task::spawn_blocking(move || {
        let mut grow = |more: usize| {
            reservation.merge(state.body_budget.reserve(more)?);
            Ok(())
        };
        let decoded = body::decode(encoding, &bytes, &state.limits, &mut grow)?;
        let events = body::events(encoding.format, &decoded, &state.limits)?;
        let now = Utc::now();
        let received_ms = now.timestamp_millis().to_string();
        let checked = check_events(&state, &sender, &decoded, &events, now, &received_ms);
        drop(events);
        let body = match decoded {
            std::borrow::Cow::Borrowed(_) => None,
            std::borrow::Cow::Owned(decoded) => Some(decoded),
        }
        .unwrap_or(bytes);
        Ok((checked, ReadBody { body, received_ms }, reservation))
    })
    .await
    .unwrap_or_else(|error| {
        warn!(%error, "checking a request failed");
        Err(ApiError::BadRequest(
            "the request could not be checked (an internal error, logged)".into(),
        ))
    })
}

/// Why Kafka did not take an event.
enum Refused {
    /// It never will (too large, an invalid record): that event's error.
    ForGood(String),
    /// It may later: the whole request gets 503.
    ForNow(ApiError),
}

/// Hands one event to the producer (no waiting): its bytes as sent, its key
/// and headers.
fn produce(
    state: &AppState,
    system: System,
    event: &Accepted,
    read: &ReadBody,
    request_id: &str,
) -> Result<DeliveryFuture, Refused> {
    let mut headers = OwnedHeaders::new_with_capacity(4)
        .insert(Header {
            key: HEADER_SYSTEM,
            value: Some(system.as_str()),
        })
        .insert(Header {
            key: HEADER_RECEIVED_MS,
            value: Some(&read.received_ms),
        })
        .insert(Header {
            key: HEADER_REQUEST_ID,
            value: Some(request_id),
        });
    if let Some(seal) = &event.seal {
        headers = headers.insert(Header {
            key: HEADER_SEAL,
            value: Some(seal),
        });
    }
    let payload = read.body.get(event.range.clone()).unwrap_or_default();
    let record = FutureRecord::to(&state.raw_topic)
        .key(&event.key)
        .payload(payload)
        .headers(headers);
    state
        .producer
        .send_result(record)
        .map_err(|(error, _)| refused(&error))
}

/// Waits for one event's acknowledgement.
async fn settle(enqueued: Result<DeliveryFuture, Refused>) -> Result<(), Refused> {
    match enqueued?.await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err((error, _))) => Err(refused(&error)),
        Err(_cancelled) => Err(Refused::ForNow(ApiError::Unavailable {
            reason: "the producer shut down".into(),
            retry_after_s: 1,
        })),
    }
}

fn refused(error: &KafkaError) -> Refused {
    if egov_runtime::kafka::is_refused_for_good(error) {
        let code = error.rdkafka_error_code();
        return Refused::ForGood(code.map_or_else(|| error.to_string(), |c| c.to_string()));
    }
    let reason = match error.rdkafka_error_code() {
        Some(RDKafkaErrorCode::QueueFull) => "the producer queue is full".to_owned(),
        Some(RDKafkaErrorCode::MessageTimedOut) => "Kafka did not acknowledge in time".to_owned(),
        _ => format!("Kafka: {error}"),
    };
    Refused::ForNow(ApiError::Unavailable {
        reason,
        retry_after_s: 2,
    })
}
