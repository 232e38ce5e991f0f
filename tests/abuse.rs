//! Ingest under abuse, against the real local Kafka: an event over the
//! per-event limit or one Kafka refuses for good is only that event's error;
//! a body of many tiny lines gets a bounded answer; refused requests are paid
//! for; one token cannot hold every slot; slow request heads are cut off;
//! connections are capped; and HTTPS works with a certificate made here,
//! while plain HTTP to it fails.

use anyhow::{bail, Context};
use egov_tests::secure::Certificates;
use egov_tests::{
    read_some, read_to_end, retry_after, unique_settings, write_all, Pipeline, DOCUMENTS_TOKEN,
    ONESTOP_TOKEN,
};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

fn dossier(id: &str, note_bytes: usize) -> Value {
    json!({"event_id": id, "event_type": "dossier.resolved", "occurred_at": "2021-05-07T10:00:00+07:00",
           "unit_code": "244", "payload": {"dossier_id": "HS-1", "note": "x".repeat(note_bytes)}})
}

/// (index, code, path) of every listed error.
fn listed(answer: &Value) -> Vec<(u64, String, String)> {
    answer["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    (
                        e["index"].as_u64().unwrap_or(u64::MAX),
                        e["code"].as_str().unwrap_or("").to_owned(),
                        e["path"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn post_ndjson(
    pipeline: &Pipeline,
    token: &str,
    body: String,
) -> anyhow::Result<(u16, Value)> {
    let ndjson = [("content-type", "application/x-ndjson")];
    let response = pipeline.post_raw(token, &ndjson, body).await?;
    Ok((response.status().as_u16(), response.json().await?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_over_the_per_event_limit_is_only_that_events_invalid_error() -> anyhow::Result<()>
{
    let pipeline = Pipeline::start("abuse_event").await?;
    // 300 KiB of payload: over the default 256 KiB, far under the body limit.
    let batch = json!([
        dossier("ok-1", 10),
        dossier("big", 300 * 1024),
        dossier("ok-2", 10)
    ]);
    let (status, answer) = pipeline.post_json(ONESTOP_TOKEN, &batch).await?;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        (answer["accepted"].as_u64(), answer["rejected"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(listed(&answer), vec![(1, "invalid".into(), String::new())]);
    let message = answer["errors"][0]["message"].as_str().unwrap_or("");
    assert!(message.contains("at most 262144 bytes"), "{message}");

    // The same line by line: the large line alone is refused.
    let lines = [dossier("ok-3", 10), dossier("big-2", 300 * 1024)]
        .iter()
        .map(|event| event.to_string() + "\n")
        .collect::<String>();
    let (status, answer) = post_ndjson(&pipeline, ONESTOP_TOKEN, lines).await?;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(listed(&answer), vec![(1, "invalid".into(), String::new())]);
    pipeline.wait_for_event_ids(3).await?;
    pipeline.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_kafka_refuses_for_good_is_a_per_event_error_not_a_503() -> anyhow::Result<()> {
    let mut settings = unique_settings("abuse_kafka")?;
    // Let a 1.5 MB event through ingest's own limit: Kafka (1 MB per message) refuses it.
    settings.ingest.max_event_bytes = 4 << 20;
    let pipeline = Pipeline::start_with(settings).await?;
    let batch = json!([dossier("fine", 10), dossier("huge", 1_500_000)]);
    let (status, answer) = pipeline.post_json(ONESTOP_TOKEN, &batch).await?;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        (answer["accepted"].as_u64(), answer["rejected"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(listed(&answer), vec![(1, "invalid".into(), String::new())]);
    assert_eq!(answer["errors"][0]["event_id"], "huge");
    let message = answer["errors"][0]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("Kafka refuses this event for good"),
        "{message}"
    );
    pipeline.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_of_one_character_lines_gets_a_bounded_answer() -> anyhow::Result<()> {
    let mut settings = unique_settings("abuse_lines")?;
    settings.ingest.max_errors_per_response = 5;
    let pipeline = Pipeline::start_with(settings).await?;

    // 10 MiB of one-character lines: refused once the 10,001st line is counted.
    let lines = "x\n".repeat(5 << 20);
    let (status, answer) = post_ndjson(&pipeline, ONESTOP_TOKEN, lines).await?;
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["error"], "too_large");
    assert!(
        answer["message"]
            .as_str()
            .unwrap_or("")
            .contains("at most 10000"),
        "{answer}"
    );

    // Within the count: 12 bad lines and 2 good ones; 5 errors listed, 7 counted.
    let mut body = "x\n".repeat(12);
    body += &(dossier("lines-1", 1).to_string() + "\n" + &dossier("lines-2", 1).to_string());
    let (status, answer) = post_ndjson(&pipeline, ONESTOP_TOKEN, body).await?;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        (answer["accepted"].as_u64(), answer["rejected"].as_u64()),
        (Some(2), Some(12))
    );
    let indexes: Vec<u64> = listed(&answer).iter().map(|(index, ..)| *index).collect();
    assert_eq!(indexes, vec![0, 1, 2, 3, 4]);
    assert_eq!(answer["errors_omitted"], 7);
    pipeline.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_requests_count_against_the_senders_rate_limit() -> anyhow::Result<()> {
    let mut settings = unique_settings("abuse_rate")?;
    settings.ingest.rate_limit_events_per_s = 0.1;
    settings.ingest.rate_limit_burst = 6.0;
    settings.ingest.max_events = 3;
    let pipeline = Pipeline::start_with(settings).await?;

    // Four events of at most three: 413, and it costs four events (two left).
    let four: Vec<Value> = (0..4).map(|i| dossier(&format!("rate-{i}"), 1)).collect();
    let (status, _) = pipeline.post_json(ONESTOP_TOKEN, &json!(four)).await?;
    assert_eq!(status, 413);
    // Not JSON: 400, one event (one left).
    let response = pipeline
        .post_raw(ONESTOP_TOKEN, &[("content-type", "application/json")], "[{")
        .await?;
    assert_eq!(response.status(), 400);
    // Two events: admitted with one left, which leaves a debt of one.
    let two = json!([dossier("rate-a", 1), dossier("rate-b", 1)]);
    let (status, answer) = pipeline.post_json(ONESTOP_TOKEN, &two).await?;
    assert_eq!(status, 200, "{answer}");
    // Without the refusals' cost, four of six would be left now.
    let response = pipeline
        .http
        .post(pipeline.url("/v1/events"))
        .bearer_auth(ONESTOP_TOKEN)
        .json(&dossier("rate-c", 1))
        .send()
        .await?;
    assert_eq!(response.status(), 429);
    assert!(retry_after(&response) >= 1);
    // The other token's bucket is untouched.
    let (status, _) = pipeline.post_json(DOCUMENTS_TOKEN, &json!([])).await?;
    assert_eq!(status, 200);
    pipeline.stop().await
}

/// A POST whose head is sent with a part of its body; the rest is held.
async fn held_request(addr: SocketAddr, token: &str) -> anyhow::Result<TcpStream> {
    held_request_of(addr, token, 1000).await
}

/// [`held_request`] announcing `length` bytes of body.
async fn held_request_of(
    addr: SocketAddr,
    token: &str,
    length: usize,
) -> anyhow::Result<TcpStream> {
    let stream = TcpStream::connect(addr).await?;
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\ncontent-length: {length}\r\n\r\n["
    );
    write_all(&stream, head.as_bytes()).await?;
    Ok(stream)
}

/// The first answer any of `streams` gets: its index and text.
async fn first_answer(streams: &[TcpStream]) -> anyhow::Result<(usize, String)> {
    let started = Instant::now();
    let mut buffer = [0u8; 4096];
    while started.elapsed() < Duration::from_secs(20) {
        for (i, stream) in streams.iter().enumerate() {
            let read =
                tokio::time::timeout(Duration::from_millis(50), read_some(stream, &mut buffer));
            if let Ok(read) = read.await {
                return Ok((i, String::from_utf8_lossy(&buffer[..read?]).into_owned()));
            }
        }
    }
    bail!("none of {} requests was answered", streams.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_token_cannot_hold_every_slot() -> anyhow::Result<()> {
    let mut settings = unique_settings("abuse_slots")?;
    settings.ingest.max_in_flight_per_token = 2;
    let pipeline = Pipeline::start_with(settings).await?;
    // Three requests of one token that never finish their body: one is refused.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(held_request(pipeline.ingest_addr, ONESTOP_TOKEN).await?);
    }
    let (refused, answer) = first_answer(&held).await?;
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert!(answer.contains("retry-after: 1"), "{answer}");
    assert!(
        answer.contains("\"error\":\"too_many_in_flight\""),
        "{answer}"
    );
    held.remove(refused);

    // The other token is served meanwhile; the first one's next request is refused too.
    let (status, _) = pipeline.post_json(DOCUMENTS_TOKEN, &json!([])).await?;
    assert_eq!(status, 200);
    let (status, answer) = pipeline.post_json(ONESTOP_TOKEN, &json!([])).await?;
    assert_eq!(status, 429, "{answer}");

    // A client that goes away gives its slot back.
    drop(held);
    post_until_200(&pipeline, &json!([]), "the slots were not given back").await?;
    pipeline.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_in_hand_are_bounded_in_memory() -> anyhow::Result<()> {
    let mut settings = unique_settings("abuse_budget")?;
    settings.ingest.max_body_bytes_in_flight = 100 * 1024;
    let pipeline = Pipeline::start_with(settings).await?;
    // Two requests announcing 60 KiB each, bodies held: one of them is refused.
    let held = vec![
        held_request_of(pipeline.ingest_addr, ONESTOP_TOKEN, 60 * 1024).await?,
        held_request_of(pipeline.ingest_addr, DOCUMENTS_TOKEN, 60 * 1024).await?,
    ];
    let (_, answer) = first_answer(&held).await?;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("retry-after: 1"), "{answer}");
    assert!(answer.contains("\"error\":\"overloaded\""), "{answer}");
    assert!(answer.contains("set aside"), "{answer}");
    // A small request fits beside the one held; a gzip bomb does not.
    let (status, _) = pipeline
        .post_json(ONESTOP_TOKEN, &json!([dossier("small", 1)]))
        .await?;
    assert_eq!(status, 200);
    let bomb = {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut encoder, &vec![b' '; 8 << 20])?;
        encoder.finish()?
    };
    let gzip = [
        ("content-type", "application/json"),
        ("content-encoding", "gzip"),
    ];
    let response = pipeline.post_raw(ONESTOP_TOKEN, &gzip, bomb).await?;
    assert_eq!(response.status(), 503);
    // Once the held body is gone, its memory is free again.
    drop(held);
    let big = json!([dossier("big", 70 * 1024)]);
    post_until_200(&pipeline, &big, "the memory was not given back").await?;
    pipeline.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_request_head_is_cut_off() -> anyhow::Result<()> {
    let mut settings = unique_settings("abuse_slow")?;
    settings.ingest.header_read_timeout_ms = 500;
    let pipeline = Pipeline::start_with(settings).await?;
    let addr = pipeline.ingest_addr;

    // Half a head, then nothing: the server closes the connection unanswered.
    let slow = TcpStream::connect(addr).await?;
    write_all(
        &slow,
        format!("POST /v1/events HTTP/1.1\r\nhost: {addr}\r\n").as_bytes(),
    )
    .await?;
    let answer = tokio::time::timeout(Duration::from_secs(20), read_to_end(&slow))
        .await
        .context("the slow connection was not closed")?
        .unwrap_or_default();
    assert!(!String::from_utf8_lossy(&answer).contains("200 OK"));

    // A connection that sends nothing at all is closed too.
    let silent = TcpStream::connect(addr).await?;
    tokio::time::timeout(Duration::from_secs(20), read_to_end(&silent))
        .await
        .context("the silent connection was not closed")??;

    // A prompt client is served.
    let response = pipeline.http.get(pipeline.url("/healthz")).send().await?;
    assert_eq!(response.status(), 200);
    pipeline.stop().await
}

/// Sends `GET /healthz` on a new connection; the answer, empty when the
/// server closed the connection without one.
async fn healthz_raw(addr: SocketAddr) -> anyhow::Result<String> {
    let stream = TcpStream::connect(addr).await?;
    let request = format!("GET /healthz HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    if write_all(&stream, request.as_bytes()).await.is_err() {
        return Ok(String::new());
    }
    let answer = tokio::time::timeout(Duration::from_secs(20), read_to_end(&stream)).await?;
    Ok(String::from_utf8_lossy(&answer.unwrap_or_default()).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_are_closed() -> anyhow::Result<()> {
    let mut settings = unique_settings("abuse_conns")?;
    settings.ingest.max_connections = 3;
    let pipeline = Pipeline::start_with(settings).await?;
    let addr = pipeline.ingest_addr;
    // Three connections in a request each, held open.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(held_request(addr, DOCUMENTS_TOKEN).await?);
    }
    // Once they are all accepted, a fourth is closed without an answer.
    let started = Instant::now();
    loop {
        let answer = healthz_raw(addr).await?;
        if answer.is_empty() {
            break;
        }
        if started.elapsed() > Duration::from_secs(10) {
            bail!("a fourth connection is still served: {answer}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // When one closes, a new connection is served again.
    held.pop();
    let started = Instant::now();
    loop {
        let answer = healthz_raw(addr).await?;
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        if started.elapsed() > Duration::from_secs(10) {
            bail!("no connection served after one closed: {answer:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(held);
    pipeline.stop().await
}

/// POSTs `body` to `/v1/events` over HTTPS, trusting only `ca`.
async fn https_post(addr: SocketAddr, ca: &Path, body: &Value) -> anyhow::Result<(u16, Value)> {
    let response = reqwest::Client::builder()
        .use_preconfigured_tls(egov_runtime::tls::client_config(Some(ca))?)
        .build()?
        .post(format!("https://{addr}/v1/events"))
        .bearer_auth(ONESTOP_TOKEN)
        .json(body)
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_ingest_works_and_plain_http_to_it_fails() -> anyhow::Result<()> {
    let certificates = Certificates::make()?;
    let mut settings = unique_settings("abuse_tls")?;
    settings.ingest.tls_cert_file = Some(certificates.cert_file.clone());
    settings.ingest.tls_key_file = Some(certificates.key_file.clone());
    let pipeline = Pipeline::start_with(settings).await?;

    let (status, answer) = https_post(
        pipeline.ingest_addr,
        &certificates.ca_file,
        &json!([dossier("tls-1", 1)]),
    )
    .await?;
    assert_eq!(
        (status, answer["accepted"].as_u64()),
        (200, Some(1)),
        "{answer}"
    );

    let plain = pipeline
        .http
        .post(pipeline.url("/v1/events"))
        .bearer_auth(ONESTOP_TOKEN)
        .json(&json!([dossier("tls-2", 1)]))
        .send()
        .await;
    assert!(plain.is_err(), "plain HTTP was answered: {plain:?}");
    pipeline.wait_for_event_ids(1).await?;
    pipeline.stop().await
}

/// Posts `body` with the one-stop token until it is answered 200; fails with
/// `what` and the last answer after 10 s.
async fn post_until_200(pipeline: &Pipeline, body: &Value, what: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let (status, answer) = pipeline.post_json(ONESTOP_TOKEN, body).await?;
        if status == 200 {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(10) {
            bail!("{what}: still {status} {answer}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
