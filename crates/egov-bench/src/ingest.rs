//! HTTP clients of ingest (`Sender`), and the maximum rate they reach.

use crate::events::Batch;
use anyhow::{bail, Context};
use egov_model::System;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The development tokens, active in `egov run` with `EGOV__INGEST__DEV_TOKENS=true` (see `egov_env`).
fn token(system: System) -> &'static str {
    match system {
        System::Documents => "local-documents",
        System::Onestop => "local-onestop",
    }
}

#[derive(Clone)]
pub struct Sender {
    http: reqwest::Client,
    url: String,
    retries: Arc<AtomicUsize>,
}

impl Sender {
    pub fn new(ingest_addr: &str, clients: usize) -> anyhow::Result<Self> {
        Ok(Self {
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(clients.max(1) * 2)
                .tcp_nodelay(true)
                .timeout(Duration::from_secs(60))
                .build()?,
            url: format!("http://{ingest_addr}/v1/events"),
            retries: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Requests answered 429 or 503 and sent again so far.
    pub fn retries(&self) -> usize {
        self.retries.load(Ordering::Relaxed)
    }

    /// POSTs one batch until it is answered 200 with every event accepted;
    /// 429 and 503 are retried after their `Retry-After`, as a client should.
    pub async fn post(&self, batch: &Batch) -> anyhow::Result<()> {
        for _attempt in 0..100 {
            let sent = self
                .http
                .post(&self.url)
                .bearer_auth(token(batch.system))
                .header("content-type", "application/json")
                .body(batch.body.clone())
                .send()
                .await;
            let response = match sent {
                Ok(response) => response,
                Err(error) => {
                    // Counted and retried like a 503: the figures say so.
                    eprintln!("egov-bench: POST /v1/events failed: {error}; retrying");
                    self.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            let status = response.status().as_u16();
            if status == 429 || status == 503 {
                self.retries.fetch_add(1, Ordering::Relaxed);
                let after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(1);
                tokio::time::sleep(Duration::from_millis(200).max(Duration::from_secs(after) / 4))
                    .await;
                continue;
            }
            let text = response.text().await?;
            if status != 200 {
                bail!("ingest answered {status}: {text}");
            }
            let answer: serde_json::Value = serde_json::from_str(&text)?;
            let accepted = answer["accepted"].as_u64().unwrap_or(0);
            if accepted != batch.count as u64 {
                bail!(
                    "ingest accepted {accepted} of {} events: {text}",
                    batch.count
                );
            }
            return Ok(());
        }
        bail!("ingest refused a request 100 times")
    }
}

/// Sends `warm_up` (not timed: connections, producer and caches warm), then
/// every batch with `clients` requests in flight; the time from the first
/// request to the last 200.
pub async fn max_rate(
    sender: &Sender,
    warm_up: &[Batch],
    batches: Arc<Vec<Batch>>,
    clients: usize,
) -> anyhow::Result<Duration> {
    futures::future::try_join_all(warm_up.iter().map(|batch| sender.post(batch))).await?;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients.max(1) {
        let (sender, batches, next) = (sender.clone(), batches.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(batch) = batches.get(index) else {
                    return Ok::<_, anyhow::Error>(());
                };
                sender.post(batch).await?;
            }
        }));
    }
    for task in tasks {
        task.await.context("ingest client")??;
    }
    Ok(started.elapsed())
}
