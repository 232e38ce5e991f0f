//! TLS and authentication for real: a Kafka of this test whose only client
//! listener is SASL_SSL (SCRAM-SHA-256) and a ClickHouse of this test with only
//! an HTTPS port and a password, both with certificates of a CA made here
//! (see `egov_tests::secure`), which also signed the certificate ingest serves
//! HTTPS with. An event goes through the whole pipeline over them; plaintext,
//! a wrong password and a client without the CA are refused; no password ever
//! appears in the logs.

use egov_runtime::config::{Secret, SecurityProtocol};
use egov_runtime::ops::{self, Readiness};
use egov_tests::secure::{self, SecureServers};
use egov_tests::{clickhouse_query, unique_settings, CapturedLogs, Pipeline, DOCUMENTS_TOKEN};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_crosses_sasl_ssl_kafka_and_https_clickhouse() -> anyhow::Result<()> {
    let logs =
        CapturedLogs::install("debug,rdkafka=debug,hyper=info,rustls=info,h2=info,reqwest=info")?;

    let servers = SecureServers::start().await?;
    let kafka_password = servers.kafka.sasl_password.expose().to_owned();
    let clickhouse_password = servers.clickhouse.password.expose().to_owned();

    let mut settings = unique_settings("tls")?;
    let names = settings.kafka.clone();
    settings.kafka = egov_runtime::config::KafkaConfig {
        raw_topic: names.raw_topic,
        curated_topic: names.curated_topic,
        dlq_topic: names.dlq_topic,
        transform_group: names.transform_group,
        load_group: names.load_group,
        partitions: names.partitions,
        ..servers.kafka.clone()
    };
    settings.clickhouse = egov_runtime::config::ClickHouseConfig {
        database: settings.clickhouse.database.clone(),
        ..servers.clickhouse.clone()
    };

    // Ingest serves HTTPS with a certificate of the same CA.
    settings.ingest.tls_cert_file = Some(servers.certificates.cert_file.clone());
    settings.ingest.tls_key_file = Some(servers.certificates.key_file.clone());

    // Through the whole pipeline: HTTPS into ingest, Kafka produce and consume
    // over SASL_SSL, migrations and inserts over HTTPS with the `clickhouse` client.
    let pipeline = Pipeline::start_with(settings.clone()).await?;
    let https = reqwest::Client::builder()
        .use_preconfigured_tls(egov_runtime::tls::client_config(Some(
            &servers.certificates.ca_file,
        ))?)
        .build()?;
    let ingest_url = format!(
        "https://localhost:{}/v1/events",
        pipeline.ingest_addr.port()
    );
    let event = json!({
        "event_id": "tls-1",
        "event_type": "document.received",
        "occurred_at": "2021-03-01T08:00:00+07:00",
        "unit_code": "08707",
        "payload": {"document_id": "VB-TLS", "channel": "national_axis", "due_at": "2021-03-10T17:00:00+07:00"}
    });
    let response = https
        .post(&ingest_url)
        .bearer_auth(DOCUMENTS_TOKEN)
        .json(&event)
        .send()
        .await?;
    let status = response.status().as_u16();
    let answer: serde_json::Value = response.json().await?;
    assert_eq!(
        (status, answer["accepted"].as_u64()),
        (200, Some(1)),
        "{answer}"
    );
    // Plain HTTP to the ingest port is not served.
    let plain = pipeline.post_json(DOCUMENTS_TOKEN, &event).await;
    assert!(plain.is_err(), "plain HTTP to HTTPS ingest got {plain:?}");
    pipeline
        .wait_for(
            "SELECT count() FROM events WHERE event_id = 'tls-1'",
            1,
            Duration::from_secs(60),
        )
        .await?;
    assert_eq!(
        pipeline
            .query("SELECT system, event_type, unit_code FROM events FINAL")
            .await?,
        "documents\tdocument.received\t08707\n"
    );

    // The readiness probes and the operator tools' Kafka clients, secured too.
    let readiness = Readiness::builder(&settings.ops)
        .kafka(&settings.kafka)
        .clickhouse(&settings.clickhouse)
        .build()?;
    readiness.refresh().await;
    assert_eq!(readiness.status().reasons, Vec::<String>::new());
    let (kafka, raw) = (settings.kafka.clone(), settings.kafka.raw_topic.clone());
    let held = tokio::task::spawn_blocking(move || {
        ops::topic_messages(&kafka, &raw, Duration::from_secs(10))
    })
    .await??;
    assert_eq!(held, 1);

    // TLS without SASL, on the broker's SSL listener.
    let ssl = egov_runtime::config::KafkaConfig {
        brokers: servers.kafka_ssl_brokers.clone(),
        security_protocol: SecurityProtocol::Ssl,
        ..settings.kafka.clone()
    };
    assert_eq!(secure::metadata(&ssl, Duration::from_secs(10)).await?, 1);

    // Refused: plaintext to the SASL_SSL port, a wrong password, and TLS
    // without the CA that signed the broker's certificate.
    let short = Duration::from_secs(3);
    let plaintext = egov_runtime::config::KafkaConfig {
        security_protocol: SecurityProtocol::Plaintext,
        ..settings.kafka.clone()
    };
    let wrong_password = egov_runtime::config::KafkaConfig {
        sasl_password: Secret::new("not-the-password"),
        ..settings.kafka.clone()
    };
    let no_ca = egov_runtime::config::KafkaConfig {
        ssl_ca_file: None,
        ..settings.kafka.clone()
    };
    let (plaintext, wrong_password, no_ca) = tokio::join!(
        secure::metadata(&plaintext, short),
        secure::metadata(&wrong_password, short),
        secure::metadata(&no_ca, short),
    );
    assert!(
        plaintext.is_err(),
        "plaintext Kafka client got {plaintext:?}"
    );
    assert!(
        wrong_password.is_err(),
        "Kafka client with a wrong password got {wrong_password:?}"
    );
    assert!(no_ca.is_err(), "Kafka client without the CA got {no_ca:?}");

    // ClickHouse: plain HTTP to the HTTPS port, a wrong password, no CA.
    let https_url = settings.clickhouse.url.clone();
    let http_url = https_url.replacen("https://", "http://", 1);
    let plain = reqwest::Client::builder()
        .timeout(short)
        .build()?
        .get(&http_url)
        .query(&[("query", "SELECT 1")])
        .basic_auth(secure::USER, Some(&clickhouse_password))
        .send()
        .await;
    let plain_answered = match plain {
        Ok(response) => response.text().await.ok(),
        Err(_) => None,
    };
    assert!(
        plain_answered.as_deref().map(str::trim) != Some("1"),
        "plain HTTP to the HTTPS port answered {plain_answered:?}"
    );
    let mut wrong = settings.clone();
    wrong.clickhouse.password = Secret::new("not-the-password");
    let refused = clickhouse_query(&wrong, "SELECT 1").await;
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.to_string().contains("password")),
        "wrong ClickHouse password got {refused:?}"
    );
    let mut untrusted = settings.clone();
    untrusted.clickhouse.ca_file = None;
    let refused = clickhouse_query(&untrusted, "SELECT 1").await;
    assert!(
        refused.is_err(),
        "ClickHouse without the CA got {refused:?}"
    );
    let refused = egov_runtime::clickhouse::query_client(&untrusted.clickhouse)?
        .query("SELECT 1")
        .fetch_one::<u8>()
        .await;
    assert!(
        refused.is_err(),
        "clickhouse client without the CA got {refused:?}"
    );

    pipeline.stop().await?;
    drop(servers);
    let logged = logs.text();
    assert!(
        logged.contains("events ingested"),
        "nothing captured:\n{logged}"
    );
    for password in [&kafka_password, &clickhouse_password] {
        assert!(
            !logged.contains(password.as_str()),
            "a password is in the logs"
        );
    }
    Ok(())
}
