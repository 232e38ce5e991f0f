//! The pipeline in one process (`egov run`) as operators see it: the
//! consumer lag measured from inside and from outside, a stage that stalls
//! (load unable to insert) in `/readyz` and the metrics, and `egov status`,
//! which asks each process what it is (`/status`). Against the real local
//! Kafka and ClickHouse.

use egov_runtime::kafka;
use egov_runtime::ops;
use egov_tests::ops::{dossier, fast_checks, recorder, sample_or_zero};
use egov_tests::{unique_settings, Cleanup, Pipeline, ONESTOP_TOKEN};
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::producer::FutureRecord;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_lag_is_the_high_watermark_minus_the_position() -> anyhow::Result<()> {
    let mut settings = unique_settings("ops_lag")?;
    settings.kafka.partitions = 1;
    let _cleanup = Cleanup(settings.clone());
    let config = &settings.kafka;
    kafka::ensure_topics(config, &[&config.raw_topic]).await?;
    let producer = kafka::durable_producer(config)?;
    for i in 0..5 {
        let payload = format!("m{i}");
        producer
            .send(
                FutureRecord::<(), _>::to(&config.raw_topic).payload(&payload),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(error, _)| error)?;
    }
    let consumer = kafka::durable_consumer(config, &config.transform_group, &config.raw_topic)?;
    for _ in 0..2 {
        tokio::time::timeout(Duration::from_secs(30), consumer.recv()).await??;
    }
    let lags = egov_runtime::lag::measure_lag(&consumer, Duration::from_secs(10))?;
    assert_eq!(
        lags,
        vec![egov_runtime::lag::PartitionLag {
            topic: config.raw_topic.clone(),
            partition: 0,
            lag: 3
        }]
    );

    // From outside (egov status): the group's committed offset against the watermarks.
    let outside = || {
        ops::group_lag(
            config,
            &config.transform_group,
            &config.raw_topic,
            Duration::from_secs(10),
        )
    };
    assert_eq!(outside()?[0].lag, 5, "nothing committed yet: all of it");
    let mut next = TopicPartitionList::new();
    next.add_partition_offset(&config.raw_topic, 0, Offset::Offset(2))?;
    consumer.store_offsets(&next)?;
    consumer.commit_consumer_state(CommitMode::Sync)?;
    assert_eq!(outside()?[0].lag, 3);
    assert_eq!(
        ops::topic_messages(config, &config.raw_topic, Duration::from_secs(10))?,
        5
    );
    assert_eq!(
        ops::topic_messages(config, &config.dlq_topic, Duration::from_secs(10))?,
        0,
        "a topic that does not exist holds nothing"
    );
    Ok(())
}

/// Polls the `/readyz` of a pipeline until `done` holds; fails after `timeout`.
async fn wait_pipeline_readyz(
    pipeline: &Pipeline,
    timeout: Duration,
    done: impl Fn(u16, &str) -> bool,
) -> anyhow::Result<(u16, String)> {
    egov_tests::ops::wait_readyz(&pipeline.http, &pipeline.url("/readyz"), timeout, done).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_that_cannot_insert_is_stalled_in_readyz_and_metrics_until_it_can(
) -> anyhow::Result<()> {
    let mut settings = unique_settings("ops_stall")?;
    fast_checks(&mut settings);
    settings.ops.stall_after_s = 2;
    // As in `egov run`: one readiness for ingest, transform and load.
    let pipeline = Pipeline::start_as_one_process(settings, Some(recorder()?)).await?;
    let metric = |series: String| {
        let pipeline = &pipeline;
        async move {
            let text = pipeline
                .http
                .get(pipeline.url("/metrics"))
                .send()
                .await?
                .text()
                .await?;
            Ok::<_, anyhow::Error>(sample_or_zero(&text, &series))
        }
    };
    let stalled_seconds =
        |stage: &str| metric(format!("egov_stage_stalled_seconds{{service=\"{stage}\"}}"));
    wait_pipeline_readyz(&pipeline, Duration::from_secs(30), |status, _| {
        status == 200
    })
    .await?;
    let events = |ids: std::ops::Range<u32>| {
        json!(ids
            .map(|i| dossier(&format!("stall-{i}")))
            .collect::<Vec<_>>())
    };
    let (status, _) = pipeline.post_json(ONESTOP_TOKEN, &events(0..2)).await?;
    assert_eq!(status, 200);
    let count = "SELECT count() FROM events";
    pipeline.wait_for(count, 2, Duration::from_secs(30)).await?;

    // ClickHouse stays healthy, but the table load inserts into is gone (only
    // this test's database is touched): every insert fails, load retries it
    // forever and commits nothing while the next events wait.
    pipeline.query("DROP TABLE events").await?;
    let (status, _) = pipeline.post_json(ONESTOP_TOKEN, &events(2..5)).await?;
    assert_eq!(status, 200);
    let (_, body) = wait_pipeline_readyz(&pipeline, Duration::from_secs(60), |status, _| {
        status == 503
    })
    .await?;
    let body: Value = serde_json::from_str(&body)?;
    let reasons: Vec<&str> = body["reasons"]
        .as_array()
        .map(|reasons| reasons.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let curated = &pipeline.settings.kafka.curated_topic;
    let [reason] = reasons[..] else {
        anyhow::bail!("one reason expected: {body}");
    };
    let seconds: u64 = reason
        .strip_prefix("load: stalled: no committed progress for ")
        .and_then(|rest| rest.strip_suffix(&format!(" s while 3 messages wait on {curated}")))
        .and_then(|seconds| seconds.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("unexpected reason: {reason}"))?;
    assert!(seconds >= 2, "{reason}");
    assert!(stalled_seconds("load").await? >= 2.0);
    assert_eq!(stalled_seconds("transform").await?, 0.0);
    // The readiness check of that stage fails, in the metrics too.
    let check_ok = |check: &str| metric(format!("egov_readiness_check_ok{{check=\"{check}\"}}"));
    assert_eq!(check_ok("load").await?, 0.0);
    assert_eq!(check_ok("transform").await?, 1.0);
    assert_eq!(check_ok("clickhouse").await?, 1.0);
    // Alive all the same.
    let health = pipeline.http.get(pipeline.url("/healthz")).send().await?;
    assert_eq!(health.status(), 200);

    // The table back (its migration's statements again; `egov migrate` skips
    // what it applied before): load's retry goes through, its offsets move,
    // and readiness recovers on its own.
    let (_, sql) = egov_tools::migrate::MIGRATIONS
        .into_iter()
        .find(|(name, _)| *name == "001_events")
        .ok_or_else(|| anyhow::anyhow!("no migration 001_events"))?;
    for statement in egov_tools::migrate::statements(sql, &pipeline.settings.clickhouse.database) {
        pipeline.query(&statement).await?;
    }
    wait_pipeline_readyz(&pipeline, Duration::from_secs(60), |status, _| {
        status == 200
    })
    .await?;
    pipeline.wait_for(count, 3, Duration::from_secs(30)).await?;
    assert_eq!(stalled_seconds("load").await?, 0.0);
    assert_eq!(check_ok("load").await?, 1.0);
    pipeline.stop().await
}

/// `egov status` as an operator runs it against `pipeline`: the ingest
/// address is the pipeline's, transform and load have addresses nobody
/// listens on (as under `egov run`, where they have no port of their own).
async fn egov_status(pipeline: &Pipeline) -> anyhow::Result<egov_tools::status::Status> {
    let mut asked = pipeline.settings.clone();
    asked.ingest.listen = pipeline.ingest_addr.to_string();
    asked.transform.listen = format!("127.0.0.1:{}", egov_tests::secure::free_port()?);
    asked.load.listen = format!("127.0.0.1:{}", egov_tests::secure::free_port()?);
    Ok(egov_tools::status::collect(&asked, Duration::from_secs(2)).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn egov_status_asks_each_process_what_it_is() -> anyhow::Result<()> {
    // `egov run`: one process, its /status says it runs all three.
    let mut settings = unique_settings("ops_status_run")?;
    fast_checks(&mut settings);
    let run = Pipeline::start_as_one_process(settings, None).await?;
    wait_pipeline_readyz(&run, Duration::from_secs(30), |status, _| status == 200).await?;
    let status = egov_status(&run).await?;
    let address = run.ingest_addr.to_string();
    for (service, name) in status.services.iter().zip(["ingest", "transform", "load"]) {
        assert_eq!(service.name, name);
        assert!(service.up, "{service:?}");
        assert_eq!(service.ready, Some(true), "{service:?}");
        assert_eq!(service.process, Some(ops::Process::Run), "{service:?}");
        assert_eq!(service.address, address, "{service:?}");
        assert_eq!(service.in_ingest_process, name != "ingest", "{service:?}");
    }
    let table = egov_tools::status::render(&status);
    assert!(
        table.contains("inside the ingest process (egov run)"),
        "{table}"
    );
    run.stop().await?;

    // `egov ingest` alone (the consumers run elsewhere, here without a port):
    // its /status says ingest, and transform and load are reported down, not
    // taken for part of it.
    let alone = Pipeline::start("ops_status_alone").await?;
    let status = egov_status(&alone).await?;
    let [ingest, transform, load] = &status.services[..] else {
        anyhow::bail!("three services expected: {status:?}");
    };
    assert_eq!(ingest.process, Some(ops::Process::Ingest), "{ingest:?}");
    for service in [transform, load] {
        assert!(!service.up, "{service:?}");
        assert!(!service.in_ingest_process, "{service:?}");
        assert_eq!(service.process, None, "{service:?}");
    }
    alone.stop().await
}
