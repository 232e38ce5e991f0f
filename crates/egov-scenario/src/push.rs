//! Posting batches to `POST /v1/events` as the source systems would: several
//! requests at once, 503 and 429 retried after `Retry-After`, connection
//! errors and timeouts retried with backoff (sending again is harmless: the
//! API is idempotent), and a hard stop on any rejected event.

use crate::batch::Batch;
use egov_model::System;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Deserialize;
use std::time::{Duration, Instant};

/// Where to send, and the token of each source system.
#[derive(Debug, Clone)]
pub struct Target {
    /// Base URL of the ingest service, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    pub documents_token: String,
    pub onestop_token: String,
}

impl Target {
    pub fn local(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            documents_token: "local-documents".into(),
            onestop_token: "local-onestop".into(),
        }
    }

    fn token(&self, system: System) -> &str {
        match system {
            System::Documents => &self.documents_token,
            System::Onestop => &self.onestop_token,
        }
    }
}

#[derive(Debug, Clone)]
pub struct PushOptions {
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Draw a progress bar on stderr.
    pub progress: bool,
    /// Compress bodies (`Content-Encoding: gzip`).
    pub gzip: bool,
    /// Attempts per batch before giving up (503, 429, connection errors).
    pub max_attempts: u32,
    /// Longest wait between two attempts, whatever `Retry-After` says.
    pub max_wait: Duration,
    /// Timeout of one request.
    pub timeout: Duration,
    /// Events to be sent, for the progress bar.
    pub total_events: Option<u64>,
}

impl Default for PushOptions {
    fn default() -> Self {
        Self {
            concurrency: 4,
            progress: false,
            gzip: false,
            max_attempts: 30,
            max_wait: Duration::from_secs(30),
            timeout: Duration::from_secs(120),
            total_events: None,
        }
    }
}

/// What a push did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PushStats {
    /// Events in the batches (each batch counted once).
    pub events: u64,
    /// Events the ingest service accepted.
    pub accepted: u64,
    pub accepted_documents: u64,
    pub accepted_onestop: u64,
    pub batches: u64,
    /// HTTP requests, retries included.
    pub requests: u64,
    pub retries: u64,
    pub elapsed: Duration,
}

impl PushStats {
    pub fn events_per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.events as f64 / secs
        } else {
            0.0
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("building the HTTP client: {0}")]
    Client(reqwest::Error),
    #[error("ingest rejected {rejected} of the {events} events of a {system} batch:\n{errors}")]
    Rejected {
        system: System,
        events: usize,
        rejected: u64,
        errors: String,
    },
    #[error("ingest answered {status} to a {system} batch: {body}")]
    Status {
        system: System,
        status: u16,
        body: String,
    },
    #[error("gave up on a {system} batch after {attempts} attempts; last: {last}")]
    GaveUp {
        system: System,
        attempts: u32,
        last: String,
    },
    #[error("unexpected answer of ingest to a {system} batch: {message}")]
    Answer { system: System, message: String },
    #[error("preparing batches: {0}")]
    Producer(String),
}

#[derive(Debug, Deserialize)]
struct Answer {
    accepted: u64,
    rejected: u64,
    #[serde(default)]
    errors: Vec<serde_json::Value>,
}

/// At most this many errors are quoted in [`PushError::Rejected`].
const QUOTED_ERRORS: usize = 20;

struct Sent {
    system: System,
    events: usize,
    accepted: u64,
    requests: u64,
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250u64.saturating_mul(1 << attempt.min(6)))
}

async fn send(
    client: &reqwest::Client,
    endpoint: &str,
    target: &Target,
    batch: Batch,
    options: &PushOptions,
) -> Result<Sent, PushError> {
    let system = batch.system;
    let mut last = String::new();
    let attempts = options.max_attempts.max(1);
    for attempt in 1..=attempts {
        let mut request = client
            .post(endpoint)
            .bearer_auth(target.token(system))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(batch.body.clone());
        if batch.gzipped {
            request = request.header(reqwest::header::CONTENT_ENCODING, "gzip");
        }
        let wait = match request.send().await {
            Err(error) => {
                last = format!("{error}");
                backoff(attempt)
            }
            Ok(response) => {
                let status = response.status();
                if status == reqwest::StatusCode::SERVICE_UNAVAILABLE
                    || status == reqwest::StatusCode::TOO_MANY_REQUESTS
                {
                    let wait = retry_after(&response).unwrap_or(Duration::from_secs(1));
                    last = format!("{status}");
                    wait
                } else if status.is_success() {
                    let body = response.bytes().await.map_err(|e| PushError::Answer {
                        system,
                        message: e.to_string(),
                    })?;
                    let answer: Answer =
                        serde_json::from_slice(&body).map_err(|e| PushError::Answer {
                            system,
                            message: format!("{e}: {}", String::from_utf8_lossy(&body)),
                        })?;
                    if answer.rejected > 0 {
                        let mut errors: Vec<String> = answer
                            .errors
                            .iter()
                            .take(QUOTED_ERRORS)
                            .map(|e| format!("  {e}"))
                            .collect();
                        if answer.errors.len() > QUOTED_ERRORS {
                            errors.push(format!(
                                "  … and {} more",
                                answer.errors.len() - QUOTED_ERRORS
                            ));
                        }
                        return Err(PushError::Rejected {
                            system,
                            events: batch.events,
                            rejected: answer.rejected,
                            errors: errors.join("\n"),
                        });
                    }
                    if answer.accepted != batch.events as u64 {
                        return Err(PushError::Answer {
                            system,
                            message: format!(
                                "{} accepted and none rejected for {} events",
                                answer.accepted, batch.events
                            ),
                        });
                    }
                    return Ok(Sent {
                        system,
                        events: batch.events,
                        accepted: answer.accepted,
                        requests: u64::from(attempt),
                    });
                } else {
                    let body = response.text().await.unwrap_or_default();
                    return Err(PushError::Status {
                        system,
                        status: status.as_u16(),
                        body: body.chars().take(2_000).collect(),
                    });
                }
            }
        };
        if attempt < attempts {
            tokio::time::sleep(wait.min(options.max_wait)).await;
        }
    }
    Err(PushError::GaveUp {
        system,
        attempts,
        last,
    })
}

fn progress_bar(options: &PushOptions) -> ProgressBar {
    if !options.progress {
        return ProgressBar::hidden();
    }
    let bar = match options.total_events {
        Some(total) => {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{elapsed_precise} [{wide_bar}] {human_pos}/{human_len} events, {per_sec}, eta {eta}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        }
        None => {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{elapsed_precise} {spinner} {human_pos} events, {per_sec}",
            ) {
                bar.set_style(style);
            }
            bar
        }
    };
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}

/// Sends every batch of `batches`, `options.concurrency` requests at a time.
/// Batches are prepared (and compressed) on a blocking thread while requests
/// are in flight. Stops at the first batch that fails; the error says why.
pub async fn push<I>(
    target: &Target,
    batches: I,
    options: &PushOptions,
) -> Result<PushStats, PushError>
where
    I: Iterator<Item = Batch> + Send + 'static,
{
    let started = Instant::now();
    let client = reqwest::Client::builder()
        .timeout(options.timeout)
        .build()
        .map_err(PushError::Client)?;
    let endpoint = format!("{}/v1/events", target.url.trim_end_matches('/'));
    let concurrency = options.concurrency.max(1);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Batch, String>>(concurrency * 2);
    let gzip = options.gzip;
    let producer = tokio::task::spawn_blocking(move || {
        for batch in batches {
            let batch = if gzip {
                batch.gzip().map_err(|e| e.to_string())
            } else {
                Ok(batch)
            };
            let failed = batch.is_err();
            if tx.blocking_send(batch).is_err() || failed {
                break;
            }
        }
    });
    let bar = progress_bar(options);
    let incoming = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|batch| (batch, rx))
    });
    let results = incoming
        .map(|batch| {
            let (client, endpoint) = (&client, endpoint.as_str());
            async move {
                match batch {
                    Ok(batch) => send(client, endpoint, target, batch, options).await,
                    Err(message) => Err(PushError::Producer(message)),
                }
            }
        })
        .buffer_unordered(concurrency);
    let mut results = std::pin::pin!(results);
    let mut stats = PushStats::default();
    while let Some(result) = results.next().await {
        let sent = match result {
            Ok(sent) => sent,
            Err(error) => {
                bar.abandon();
                return Err(error);
            }
        };
        stats.batches += 1;
        stats.events += sent.events as u64;
        stats.accepted += sent.accepted;
        match sent.system {
            System::Documents => stats.accepted_documents += sent.accepted,
            System::Onestop => stats.accepted_onestop += sent.accepted,
        }
        stats.requests += sent.requests;
        stats.retries += sent.requests.saturating_sub(1);
        bar.inc(sent.events as u64);
    }
    producer
        .await
        .map_err(|e| PushError::Producer(e.to_string()))?;
    bar.finish();
    stats.elapsed = started.elapsed();
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::batches_of_values;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::routing::post;
    use axum::Router;
    use serde_json::{json, Value};
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::{Arc, Mutex};

    #[derive(Default)]
    struct Mock {
        calls: AtomicU32,
        /// Answer 503 to the first n calls, 429 to the next m.
        unavailable: u32,
        limited: u32,
        /// Reject events whose id is this.
        reject: Option<String>,
        seen: Mutex<Vec<(String, Value)>>,
    }

    async fn handler(
        State(mock): State<Arc<Mock>>,
        headers: HeaderMap,
        body: axum::body::Bytes,
    ) -> Response {
        let n = mock.calls.fetch_add(1, Ordering::SeqCst);
        if n < mock.unavailable {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [("retry-after", "0")],
                "busy",
            )
                .into_response();
        }
        if n < mock.unavailable + mock.limited {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "0")],
                "slow down",
            )
                .into_response();
        }
        let token = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = if headers.get("content-encoding").is_some() {
            use std::io::Read;
            let mut out = Vec::new();
            if flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut out)
                .is_err()
            {
                return (StatusCode::BAD_REQUEST, "bad gzip").into_response();
            }
            out
        } else {
            body.to_vec()
        };
        let Ok(Value::Array(events)) = serde_json::from_slice::<Value>(&text) else {
            return (StatusCode::BAD_REQUEST, "not an array").into_response();
        };
        let mut errors = Vec::new();
        for (index, event) in events.iter().enumerate() {
            if mock.reject.as_deref() == event["event_id"].as_str() {
                errors.push(json!({"index": index, "event_id": event["event_id"], "code": "invalid", "path": "/payload", "message": "no"}));
            }
        }
        if let Ok(mut seen) = mock.seen.lock() {
            seen.extend(events.iter().map(|e| (token.clone(), e.clone())));
        }
        axum::Json(json!({"accepted": events.len() - errors.len(), "rejected": errors.len(), "errors": errors}))
            .into_response()
    }

    async fn serve(mock: Arc<Mock>) -> anyhow::Result<String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let app = Router::new()
            .route("/v1/events", post(handler))
            .with_state(mock);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(format!("http://{address}"))
    }

    fn events(n: usize) -> Vec<Value> {
        (0..n)
            .map(|i| {
                let t = if i % 3 == 0 {
                    "dossier.resolved"
                } else {
                    "document.received"
                };
                json!({"event_id": format!("e{i}"), "event_type": t})
            })
            .collect()
    }

    #[tokio::test]
    async fn pushes_everything_with_retries_and_tokens() -> anyhow::Result<()> {
        let mock = Arc::new(Mock {
            unavailable: 2,
            limited: 1,
            ..Mock::default()
        });
        let target = Target::local(serve(mock.clone()).await?);
        let batches = batches_of_values(&events(50), 7);
        let options = PushOptions {
            concurrency: 3,
            gzip: true,
            max_wait: Duration::from_millis(10),
            ..PushOptions::default()
        };
        let stats = push(&target, batches.into_iter(), &options).await?;
        assert_eq!(stats.events, 50);
        assert_eq!(stats.accepted, 50);
        assert_eq!((stats.accepted_documents, stats.accepted_onestop), (33, 17));
        assert_eq!(stats.retries, 3);
        assert_eq!(stats.requests, stats.batches + 3);
        let seen = mock.seen.lock().map(|s| s.clone()).unwrap_or_default();
        assert_eq!(seen.len(), 50);
        for (token, event) in seen {
            let document = event["event_type"]
                .as_str()
                .unwrap_or_default()
                .starts_with("document.");
            let expected = if document {
                "Bearer local-documents"
            } else {
                "Bearer local-onestop"
            };
            assert_eq!(token, expected);
        }
        Ok(())
    }

    #[tokio::test]
    async fn a_rejected_event_fails_the_push_with_its_error() -> anyhow::Result<()> {
        let mock = Arc::new(Mock {
            reject: Some("e4".into()),
            ..Mock::default()
        });
        let target = Target::local(serve(mock).await?);
        let batches = batches_of_values(&events(20), 5);
        let error = push(&target, batches.into_iter(), &PushOptions::default())
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("rejected 1 of the 5 events"), "{error}");
        assert!(error.contains("\"e4\""), "{error}");
        Ok(())
    }

    #[tokio::test]
    async fn gives_up_after_bounded_attempts() -> anyhow::Result<()> {
        let mock = Arc::new(Mock {
            unavailable: 1_000,
            ..Mock::default()
        });
        let target = Target::local(serve(mock).await?);
        let options = PushOptions {
            max_attempts: 3,
            max_wait: Duration::from_millis(1),
            ..PushOptions::default()
        };
        let result = push(
            &target,
            batches_of_values(&events(3), 10).into_iter(),
            &options,
        )
        .await;
        assert!(
            matches!(result, Err(PushError::GaveUp { attempts: 3, .. })),
            "{result:?}"
        );
        // Nobody listening: connection errors, retried, then a clear error.
        let nowhere = Target::local("http://127.0.0.1:9");
        let result = push(
            &nowhere,
            batches_of_values(&events(3), 10).into_iter(),
            &options,
        )
        .await;
        let message = result.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("after 3 attempts"), "{message}");
        Ok(())
    }
}
