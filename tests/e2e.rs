//! End to end: HTTP → ingest → Kafka → transform → Kafka → load → ClickHouse,
//! against the real local servers started by `deploy/local/up.sh`.

use egov_tests::{Pipeline, DOCUMENTS_TOKEN, ONESTOP_TOKEN};
use serde_json::{json, Value};
use std::time::Duration;

const ARRIVAL_TIMEOUT: Duration = Duration::from_secs(60);

fn event(id: &str, event_type: &str, occurred_at: &str, unit: &str, payload: Value) -> Value {
    json!({"event_id": id, "event_type": event_type, "occurred_at": occurred_at, "unit_code": unit, "payload": payload})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_both_systems_arrive_as_exact_rows() -> anyhow::Result<()> {
    let pipeline = Pipeline::start("rows").await?;
    let documents = json!([
        event(
            "d-1",
            "document.received",
            "2021-03-01T08:00:00+07:00",
            "08707",
            json!({"document_id": "VB-1", "channel": "national_axis", "due_at": "2021-03-10T17:00:00+07:00"})
        ),
        event(
            "d-2",
            "document.issued",
            "2021-03-02T23:30:00+07:00",
            "000.00.03.H62",
            json!({"document_id": "VB-2", "signed": true, "signature": {"personal": true, "organization": true}})
        ),
        event(
            "d-3",
            "document.issued",
            "2021-03-03T01:00:00Z",
            "243",
            json!({"document_id": "VB-3", "signed": false})
        ),
    ]);
    let dossiers = json!([
        event(
            "o-1",
            "dossier.received",
            "2021-05-03T08:00:00+07:00",
            "244",
            json!({"dossier_id": "HS-1", "procedure_code": "1.004227", "channel": "online", "due_at": "2021-05-10T17:00:00+07:00", "vendor_field": 7})
        ),
        event(
            "o-2",
            "dossier.resolved",
            "2021-05-07T10:00:00+07:00",
            "244",
            json!({"dossier_id": "HS-1"})
        ),
        event(
            "o-3",
            "dossier.received",
            "2021-05-04T16:59:59Z",
            "000.00.02.H62",
            json!({"dossier_id": "HS-2", "procedure_code": "2.000001", "channel": "direct", "due_at": "2021-05-05T00:00:00Z"})
        ),
    ]);
    let (status, answer) = pipeline.post_json(DOCUMENTS_TOKEN, &documents).await?;
    assert_eq!(
        (
            status,
            answer["accepted"].as_u64(),
            answer["rejected"].as_u64()
        ),
        (200, Some(3), Some(0)),
        "{answer}"
    );
    let (status, answer) = pipeline.post_json(ONESTOP_TOKEN, &dossiers).await?;
    assert_eq!(
        (status, answer["accepted"].as_u64()),
        (200, Some(3)),
        "{answer}"
    );
    // A resent request is accepted again and must change nothing downstream.
    let (status, _) = pipeline.post_json(ONESTOP_TOKEN, &dossiers).await?;
    assert_eq!(status, 200);

    pipeline
        .wait_for("SELECT count() FROM events FINAL", 6, ARRIVAL_TIMEOUT)
        .await?;
    let rows = pipeline
        .query(
            "SELECT system, event_id, event_type, toString(occurred_at), local_date, unit_code, level, district_code, \
             entity_id, channel, procedure_code, signed, due_date \
             FROM events FINAL ORDER BY event_id FORMAT TabSeparated",
        )
        .await?;
    let expected = [
        "documents\td-1\tdocument.received\t2021-03-01 01:00:00\t2021-03-01\t08707\tcommune\t243\tVB-1\tnational_axis\t\t0\t2021-03-10",
        "documents\td-2\tdocument.issued\t2021-03-02 16:30:00\t2021-03-02\t000.00.03.H62\tprovince\t\tVB-2\t\t\t1\t\\N",
        "documents\td-3\tdocument.issued\t2021-03-03 01:00:00\t2021-03-03\t243\tdistrict\t243\tVB-3\t\t\t0\t\\N",
        "onestop\to-1\tdossier.received\t2021-05-03 01:00:00\t2021-05-03\t244\tdistrict\t244\tHS-1\tonline\t1.004227\t0\t2021-05-10",
        "onestop\to-2\tdossier.resolved\t2021-05-07 03:00:00\t2021-05-07\t244\tdistrict\t244\tHS-1\t\t\t0\t\\N",
        "onestop\to-3\tdossier.received\t2021-05-04 16:59:59\t2021-05-04\t000.00.02.H62\tprovince\t\tHS-2\tdirect\t2.000001\t0\t2021-05-05",
    ];
    assert_eq!(rows.lines().collect::<Vec<_>>(), expected);
    // The payload is kept as sent, unknown fields included.
    let payload = pipeline
        .query("SELECT payload FROM events FINAL WHERE event_id = 'o-1' FORMAT TabSeparatedRaw")
        .await?;
    let payload: Value = serde_json::from_str(payload.trim())?;
    assert_eq!(payload["vendor_field"], 7);
    pipeline.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_refuses_bad_requests_and_bad_events_precisely() -> anyhow::Result<()> {
    let pipeline = Pipeline::start("errors").await?;
    let url = pipeline.url("/v1/events");
    let http = &pipeline.http;

    let status = http.post(&url).json(&json!([])).send().await?.status();
    assert_eq!(status, 401, "no token");
    let status = http
        .post(&url)
        .bearer_auth("nope")
        .json(&json!([]))
        .send()
        .await?
        .status();
    assert_eq!(status, 401, "unknown token");
    let response = pipeline
        .post_raw(ONESTOP_TOKEN, &[("content-type", "text/plain")], "{}")
        .await?;
    assert_eq!(response.status(), 415);
    let response = pipeline
        .post_raw(ONESTOP_TOKEN, &[("content-type", "application/json")], "[{")
        .await?;
    assert_eq!(response.status(), 400);
    assert!(response.headers().contains_key("x-request-id"));

    let good = |id: &str| {
        event(
            id,
            "dossier.resolved",
            "2021-05-07T10:00:00+07:00",
            "244",
            json!({"dossier_id": "HS-1"}),
        )
    };
    let batch = json!([
        good("ok-1"),
        event(
            "bad-unit",
            "dossier.resolved",
            "2021-05-07T10:00:00+07:00",
            "99999",
            json!({"dossier_id": "HS-1"})
        ),
        event(
            "wrong-system",
            "document.completed",
            "2021-05-07T10:00:00+07:00",
            "244",
            json!({"document_id": "VB-1"})
        ),
        good("ok-1"),
        event(
            "no-due",
            "dossier.received",
            "2021-05-07T10:00:00+07:00",
            "244",
            json!({"dossier_id": "HS-9", "procedure_code": "1", "channel": "direct"})
        ),
        good("ok-2"),
    ]);
    let (status, answer) = pipeline.post_json(ONESTOP_TOKEN, &batch).await?;
    assert_eq!(status, 200);
    assert_eq!(
        (answer["accepted"].as_u64(), answer["rejected"].as_u64()),
        (Some(2), Some(4)),
        "{answer}"
    );
    let errors: Vec<(u64, &str, &str, &str)> = answer["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    (
                        e["index"].as_u64().unwrap_or(99),
                        e["event_id"].as_str().unwrap_or(""),
                        e["code"].as_str().unwrap_or(""),
                        e["path"].as_str().unwrap_or(""),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        errors,
        vec![
            (1, "bad-unit", "unknown_unit", "/unit_code"),
            (2, "wrong-system", "forbidden", "/event_type"),
            (3, "ok-1", "duplicate_in_request", "/event_id"),
            (4, "no-due", "invalid", "/payload/due_at"),
        ]
    );
    assert!(
        answer["errors"][3]["message"]
            .as_str()
            .unwrap_or("")
            .contains("due_at"),
        "{answer}"
    );

    // NDJSON, one line broken: that line alone is refused.
    let ndjson = format!("{}\nnot json\n", good("ok-3"));
    let response = pipeline
        .post_raw(
            ONESTOP_TOKEN,
            &[("content-type", "application/x-ndjson")],
            ndjson,
        )
        .await?;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await?;
    assert_eq!(
        (
            answer["accepted"].as_u64(),
            answer["errors"][0]["index"].as_u64()
        ),
        (Some(1), Some(1)),
        "{answer}"
    );

    pipeline.wait_for_event_ids(3).await?;
    pipeline.stop().await
}

fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut encoder, data)?;
    encoder.finish()
}

async fn post_gzip(pipeline: &Pipeline, body: Vec<u8>) -> reqwest::Result<reqwest::Response> {
    let gzip = [
        ("content-type", "application/json"),
        ("content-encoding", "gzip"),
    ];
    pipeline.post_raw(ONESTOP_TOKEN, &gzip, body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_requests_get_413_even_when_gzip_hides_the_size() -> anyhow::Result<()> {
    let mut settings = egov_tests::unique_settings("limits")?;
    settings.ingest.max_body_bytes = 64 * 1024;
    settings.ingest.max_events = 5;
    let pipeline = Pipeline::start_with(settings).await?;
    let url = pipeline.url("/v1/events");
    let good = |i: usize| {
        event(
            &format!("e-{i}"),
            "dossier.resolved",
            "2021-05-07T10:00:00+07:00",
            "244",
            json!({"dossier_id": "HS-1"}),
        )
    };

    let six: Vec<Value> = (0..6).map(good).collect();
    let (status, answer) = pipeline.post_json(ONESTOP_TOKEN, &json!(six)).await?;
    assert_eq!(status, 413, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap_or("")
            .contains("at most 5"),
        "{answer}"
    );

    let padding = "x".repeat(70 * 1024);
    let big = event(
        "big",
        "dossier.resolved",
        "2021-05-07T10:00:00+07:00",
        "244",
        json!({"dossier_id": "HS-1", "note": padding}),
    );
    let response = pipeline
        .http
        .post(&url)
        .bearer_auth(ONESTOP_TOKEN)
        .json(&big)
        .send()
        .await?;
    assert_eq!(response.status(), 413);
    let answer: Value = response.json().await?;
    assert_eq!(answer["error"], "too_large", "{answer}");

    // 8 MiB of spaces around one event, gzip-compressed to a few KiB.
    let mut body = vec![b' '; 8 << 20];
    body.extend_from_slice(good(0).to_string().as_bytes());
    let compressed = gzip(&body)?;
    assert!(compressed.len() < 64 * 1024);
    let response = post_gzip(&pipeline, compressed).await?;
    assert_eq!(response.status(), 413);

    // Within the limits, gzip is accepted.
    let compressed = gzip(json!([good(1), good(2)]).to_string().as_bytes())?;
    let response = post_gzip(&pipeline, compressed).await?;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await?;
    assert_eq!(answer["accepted"], 2, "{answer}");
    pipeline.wait_for_event_ids(2).await?;
    pipeline.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_kafka_ingest_stays_up_and_answers_503_with_retry_after() -> anyhow::Result<()> {
    let mut settings = egov_tests::unique_settings("nokafka")?;
    // Nothing listens on port 1: every produce times out.
    settings.kafka.brokers = "127.0.0.1:1".into();
    settings.kafka.produce_timeout_ms = 1_500;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/v1/events", listener.local_addr()?);
    let (trigger, shutdown) = egov_runtime::shutdown::channel();
    let ingest = tokio::spawn(egov_ingest::run(
        settings.ingest_config(),
        listener,
        shutdown,
        None,
    ));
    let body = event(
        "e-1",
        "dossier.resolved",
        "2021-05-07T10:00:00+07:00",
        "244",
        json!({"dossier_id": "HS-1"}),
    );
    let response = reqwest::Client::new()
        .post(&url)
        .bearer_auth(ONESTOP_TOKEN)
        .json(&body)
        .send()
        .await?;
    assert_eq!(response.status(), 503);
    let retry_after = egov_tests::retry_after(&response);
    assert!(retry_after >= 1);
    let answer: Value = response.json().await?;
    assert_eq!(answer["error"], "unavailable", "{answer}");
    // Still serving: a bad request is still answered at once.
    let response = reqwest::Client::new().post(&url).json(&body).send().await?;
    assert_eq!(response.status(), 401);
    trigger.trigger();
    tokio::time::timeout(Duration::from_secs(30), ingest).await???;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_inserts_the_batch_in_hand_and_commits_it() -> anyhow::Result<()> {
    let mut settings = egov_tests::unique_settings("graceful")?;
    // A batch that would wait a minute for more rows.
    settings.load.batch_max_wait_ms = 60_000;
    let mut pipeline = Pipeline::start_with(settings.clone()).await?;
    let events: Vec<Value> = (0..3)
        .map(|i| {
            event(
                &format!("g-{i}"),
                "dossier.resolved",
                "2021-05-07T10:00:00+07:00",
                "244",
                json!({"dossier_id": "HS-1"}),
            )
        })
        .collect();
    let (status, _) = pipeline.post_json(ONESTOP_TOKEN, &json!(events)).await?;
    assert_eq!(status, 200);
    // Wait until load holds the rows (the curated topic has them), then stop.
    let curated = settings.kafka.clone();
    let mut in_curated = 0;
    for _ in 0..100 {
        in_curated =
            egov_runtime::kafka::scan_topic(&curated, &curated.curated_topic, |_| {}).await?;
        if in_curated == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(in_curated, 3);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        pipeline.query("SELECT count() FROM events").await?.trim(),
        "0",
        "still batching"
    );
    pipeline.shutdown_services().await?;
    assert_eq!(
        pipeline.query("SELECT count() FROM events").await?.trim(),
        "3",
        "flushed at stop"
    );
    // Committed: the load group's offsets are at the end of the curated topic.
    let committed = committed_total(
        &settings.kafka,
        &settings.kafka.load_group,
        &settings.kafka.curated_topic,
    )?;
    assert_eq!(committed, 3);
    drop(pipeline);
    Ok(())
}

/// The sum of a group's committed offsets over a topic's partitions.
fn committed_total(
    kafka: &egov_runtime::config::KafkaConfig,
    group: &str,
    topic: &str,
) -> anyhow::Result<i64> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = egov_runtime::kafka::client_config(kafka)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()?;
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let mut list = rdkafka::TopicPartitionList::new();
    for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
        list.add_partition(topic, partition.id());
    }
    let committed = consumer.committed_offsets(list, Duration::from_secs(10))?;
    Ok(committed
        .elements()
        .iter()
        .filter_map(|e| e.offset().to_raw())
        .filter(|o| *o > 0)
        .sum())
}

/// Two tokens limited to different units: one reusing the other's event ids,
/// for its own unit or for the other's, changes nothing of the other unit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scoped_token_cannot_change_another_units_events() -> anyhow::Result<()> {
    use egov_ingest::auth::sha256_hex;
    use egov_runtime::config::TokenConfig;
    let (token_a, token_b) = (
        "scope-token-of-unit-a-at-least-32-characters",
        "scope-token-of-unit-b-at-least-32-characters",
    );
    let (unit_a, unit_b) = ("244", "243");
    let mut settings = egov_tests::unique_settings("scope")?;
    for (token, unit) in [(token_a, unit_a), (token_b, unit_b)] {
        settings.ingest.tokens.push(TokenConfig {
            token_sha256: sha256_hex(token),
            system: egov_model::System::Onestop,
            units: vec![unit.into()],
        });
    }
    let pipeline = Pipeline::start_with(settings).await?;
    let received = |id: &str, unit: &str, dossier: &str| {
        event(
            id,
            "dossier.received",
            "2021-05-03T08:00:00+07:00",
            unit,
            json!({"dossier_id": dossier, "procedure_code": "1.004227", "channel": "online", "due_at": "2021-05-10T17:00:00+07:00"}),
        )
    };
    let resolved = |id: &str, unit: &str, dossier: &str| {
        event(
            id,
            "dossier.resolved",
            "2021-05-07T10:00:00+07:00",
            unit,
            json!({"dossier_id": dossier}),
        )
    };
    let a_events = json!([
        received("scope-1", unit_a, "HS-A1"),
        resolved("scope-2", unit_a, "HS-A1"),
        received("scope-3", unit_a, "HS-A2"),
    ]);
    let (status, answer) = pipeline.post_json(token_a, &a_events).await?;
    assert_eq!(
        (status, answer["accepted"].clone()),
        (200, json!(3)),
        "{answer}"
    );
    let count = |unit: &str| format!("SELECT count() FROM events FINAL WHERE unit_code = '{unit}'");
    pipeline
        .wait_for(&count(unit_a), 3, ARRIVAL_TIMEOUT)
        .await?;

    let request = egov_analytics::ReportRequest {
        from: chrono::NaiveDate::from_ymd_opt(2021, 5, 1).ok_or_else(|| anyhow::anyhow!("date"))?,
        to: chrono::NaiveDate::from_ymd_opt(2021, 5, 31).ok_or_else(|| anyhow::anyhow!("date"))?,
        unit: Some(unit_a.into()),
    };
    let report_a = || async {
        anyhow::Ok(serde_json::to_value(
            egov_analytics::report(&pipeline.settings.clickhouse, &request).await?,
        )?)
    };
    let rows_a = format!(
        "SELECT event_id, event_type, entity_id, unit_code FROM events FINAL \
         WHERE unit_code = '{unit_a}' ORDER BY event_id"
    );
    // The figures read the rollups, which trail the events by an insert's views.
    pipeline
        .eventually(&json!(2), ARRIVAL_TIMEOUT, || async {
            Ok(report_a().await?["dossiers"]["district"]["received"].clone())
        })
        .await?;
    let (figures_before, rows_before) = (report_a().await?, pipeline.query(&rows_a).await?);
    assert_eq!(
        figures_before["dossiers"]["district"]["received"], 2,
        "{figures_before}"
    );
    assert_eq!(
        figures_before["dossiers"]["district"]["resolved_early"], 1,
        "{figures_before}"
    );

    // B reuses A's ids: for its own unit accepted (they are its own events),
    // for A's unit forbidden.
    let own = json!([
        received("scope-1", unit_b, "HS-B1"),
        event(
            "scope-2",
            "dossier.withdrawn",
            "2021-05-04T10:00:00+07:00",
            unit_b,
            json!({"dossier_id": "HS-A1"})
        ),
        received("scope-3", unit_b, "HS-B3"),
    ]);
    let (status, answer) = pipeline.post_json(token_b, &own).await?;
    assert_eq!(
        (status, answer["accepted"].clone()),
        (200, json!(3)),
        "{answer}"
    );
    let foreign = json!([
        event(
            "scope-2",
            "dossier.withdrawn",
            "2021-05-04T10:00:00+07:00",
            unit_a,
            json!({"dossier_id": "HS-A1"})
        ),
        received("scope-4", unit_a, "HS-A9"),
    ]);
    let (status, answer) = pipeline.post_json(token_b, &foreign).await?;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], 0, "{answer}");
    let codes: Vec<&str> = answer["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["code"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(codes, ["forbidden", "forbidden"], "{answer}");
    pipeline
        .wait_for(&count(unit_b), 3, ARRIVAL_TIMEOUT)
        .await?;

    // Merged as far as ClickHouse goes: nothing of A's was replaced.
    pipeline.query("OPTIMIZE TABLE events FINAL").await?;
    assert_eq!(pipeline.query(&rows_a).await?, rows_before);
    assert_eq!(report_a().await?, figures_before);
    assert_eq!(
        pipeline
            .query("SELECT count() FROM events FINAL WHERE event_id LIKE 'scope-%'")
            .await?
            .trim(),
        "6"
    );
    Ok(())
}
