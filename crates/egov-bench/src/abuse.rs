//! `egov ingest` under abuse, with its default settings: many clients of one
//! token send worst-case bodies as fast as they are answered, while a normal
//! client of another token sends ordinary requests one after another. The
//! figures are the peak memory of the process and the normal client's
//! latencies.

use crate::bench::Bench;
use crate::egov::status_kib;
use crate::events::{Batch, Generator};
use crate::say;
use anyhow::Context;
use bytes::Bytes;
use egov_model::System;
use egov_runtime::config::{IngestSection, Settings};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ABUSER_TOKEN: &str = "local-documents";
const NORMAL_TOKEN: &str = "local-onestop";

/// `egov ingest` with its default settings under `abuse_clients` clients
/// sending worst-case bodies for `abuse_secs`.
pub async fn phase(bench: &mut Bench<'_>) -> anyhow::Result<()> {
    let (args, names) = (bench.args, bench.names);
    let defaults = Settings::default().ingest;
    let bodies = bodies(&defaults)?;
    let normal = Generator::new(&bench.catalogue, format!("bench-{}-a-", names.id), 5)
        .batches(200 * args.batch, args.batch)
        .into_iter()
        .map(Batch::body_only)
        .collect();
    let what = format!(
        "abuse: {} clients with worst-case bodies for {} s against ",
        args.abuse_clients, args.abuse_secs
    );
    let (process, address) = bench
        .start_egov("ingest", &names.abuse, "egov-ingest-abuse.log", &what)
        .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = status_kib(process.pid, "VmRSS").unwrap_or(0) as f64 / 1024.0;
    let mut figures = run(
        &address,
        bodies,
        normal,
        args.abuse_clients,
        args.abuse_secs,
    )
    .await?;
    figures.rss_mib_max = process.stop().await?.hwm_kib as f64 / 1024.0;
    figures.rss_mib_idle = idle;
    say(format!(
        "abuse: peak RSS {:.0} MiB; normal client p50 {:.0} ms, p99 {:.0} ms, {} of {} requests failed; abusive answers {:?}",
        figures.rss_mib_max,
        figures.normal_p50_ms,
        figures.normal_p99_ms,
        figures.normal_failures,
        figures.normal_requests,
        figures.abusive_answers
    ));
    bench.results.abuse_rss_mib_max = figures.rss_mib_max;
    bench.results.abuse_normal_p99_ms = figures.normal_p99_ms;
    bench.results.abuse = Some(figures);
    Ok(())
}

/// One kind of hostile body.
#[derive(Clone)]
pub struct Body {
    pub kind: &'static str,
    content_type: &'static str,
    gzip: bool,
    bytes: Bytes,
}

impl Body {
    fn new(kind: &'static str, content_type: &'static str, gzip: bool, bytes: Vec<u8>) -> Self {
        Self {
            kind,
            content_type,
            gzip,
            bytes: Bytes::from(bytes),
        }
    }
}

fn gzip(data: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data)?;
    Ok(encoder.finish()?)
}

/// The worst-case bodies for the default limits: the body limit filled with
/// one-character lines; gzip bombs (JSON and NDJSON) that decode to 64 MiB;
/// the body limit filled with events each one byte over the per-event limit.
pub fn bodies(limits: &IngestSection) -> anyhow::Result<Vec<Body>> {
    let max_body = limits.max_body_bytes;
    let lines = b"x\n".repeat(max_body / 2);
    let zeros = vec![b' '; 64 << 20];
    let bomb = gzip(&zeros)?;
    drop(zeros);
    let event = |i: usize| {
        let head = format!(
            r#"{{"event_id":"abuse-{i:08}","event_type":"document.received","occurred_at":"2021-05-07T10:00:00+07:00","unit_code":"244","payload":{{"document_id":"VB-1","note":""#
        );
        let tail = r#""}}"#;
        let fill = (limits.max_event_bytes + 1).saturating_sub(head.len() + tail.len());
        format!("{head}{}{tail}", "a".repeat(fill))
    };
    let per_event = event(0).len() + 1;
    let count = (max_body.saturating_sub(2) / per_event).max(1);
    let over = format!("[{}]", (0..count).map(event).collect::<Vec<_>>().join(","));
    Ok(vec![
        Body::new("one_char_lines", "application/x-ndjson", false, lines),
        Body::new("gzip_bomb_json", "application/json", true, bomb.clone()),
        Body::new("gzip_bomb_ndjson", "application/x-ndjson", true, bomb),
        Body::new(
            "events_over_the_limit",
            "application/json",
            false,
            over.into_bytes(),
        ),
    ])
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Abuse {
    pub secs: f64,
    pub abusive_clients: usize,
    /// Bytes of each kind of body.
    pub bodies: BTreeMap<String, usize>,
    /// Answers to the abusive requests: HTTP status, or `error` (connection closed, timeout).
    pub abusive_answers: BTreeMap<String, u64>,
    pub normal_requests: u64,
    /// Normal requests not answered 200 with every event accepted.
    pub normal_failures: u64,
    pub normal_p50_ms: f64,
    pub normal_p99_ms: f64,
    pub normal_max_ms: f64,
    /// VmHWM of `egov ingest` (its peak resident set since it started).
    pub rss_mib_max: f64,
    pub rss_mib_idle: f64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Runs the abusive clients and the normal one against `address` for `secs`.
pub async fn run(
    address: &str,
    bodies: Vec<Body>,
    normal: Vec<Batch>,
    clients: usize,
    secs: u64,
) -> anyhow::Result<Abuse> {
    let url = format!("http://{address}/v1/events");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .build()?;
    let until = Instant::now() + Duration::from_secs(secs);
    let answers: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let bodies = Arc::new(bodies);
    let mut abusers = Vec::new();
    for client in 0..clients {
        let (http, url, answers, bodies) =
            (http.clone(), url.clone(), answers.clone(), bodies.clone());
        abusers.push(tokio::spawn(async move {
            let mut i = client;
            while Instant::now() < until {
                let body = &bodies[i % bodies.len()];
                i += 1;
                let mut request = http
                    .post(&url)
                    .bearer_auth(ABUSER_TOKEN)
                    .header("content-type", body.content_type)
                    .body(body.bytes.clone());
                if body.gzip {
                    request = request.header("content-encoding", "gzip");
                }
                let answer = match request.send().await {
                    Ok(response) => {
                        let status = response.status().as_u16().to_string();
                        let _ = response.bytes().await;
                        status
                    }
                    Err(_) => "error".to_owned(),
                };
                if let Ok(mut answers) = answers.lock() {
                    *answers
                        .entry(format!("{} {answer}", body.kind))
                        .or_default() += 1;
                }
            }
        }));
    }
    let normal: Vec<Batch> = normal
        .into_iter()
        .filter(|batch| batch.system == System::Onestop)
        .collect();
    anyhow::ensure!(
        !normal.is_empty(),
        "no one-stop batch for the normal client"
    );
    let started = Instant::now();
    // On a thread and runtime of its own: its latencies are not those of
    // this process's abusive clients waiting for a worker.
    let (mut latencies, failures) = tokio::task::spawn_blocking(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(normal_client(&url, &normal, until))
    })
    .await??;
    for abuser in abusers {
        abuser.await.context("an abusive client")?;
    }
    latencies.sort_by(f64::total_cmp);
    let answers = answers.lock().map(|a| a.clone()).unwrap_or_default();
    Ok(Abuse {
        secs: started.elapsed().as_secs_f64(),
        abusive_clients: clients,
        bodies: bodies
            .iter()
            .map(|body| (body.kind.to_owned(), body.bytes.len()))
            .collect(),
        abusive_answers: answers,
        normal_requests: latencies.len() as u64,
        normal_failures: failures,
        normal_p50_ms: percentile(&latencies, 0.5),
        normal_p99_ms: percentile(&latencies, 0.99),
        normal_max_ms: latencies.last().copied().unwrap_or(f64::NAN),
        rss_mib_max: f64::NAN,
        rss_mib_idle: f64::NAN,
    })
}

/// Sends `batches` one after another until `until`, about ten a second: the
/// latency of every request, and how many were not answered 200 with every
/// event accepted.
async fn normal_client(
    url: &str,
    batches: &[Batch],
    until: Instant,
) -> anyhow::Result<(Vec<f64>, u64)> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .build()?;
    let mut latencies = Vec::new();
    let mut failures = 0u64;
    for batch in batches.iter().cycle() {
        if Instant::now() >= until {
            break;
        }
        let sent = Instant::now();
        let outcome = http
            .post(url)
            .bearer_auth(NORMAL_TOKEN)
            .header("content-type", "application/json")
            .body(batch.body.clone())
            .send()
            .await;
        let ok = match outcome {
            Ok(response) if response.status() == 200 => {
                let answer: serde_json::Value = response.json().await.unwrap_or_default();
                answer["rejected"] == 0
            }
            Ok(response) => {
                let _ = response.bytes().await;
                false
            }
            Err(_) => false,
        };
        latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
        failures += u64::from(!ok);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok((latencies, failures))
}
