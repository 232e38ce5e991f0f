//! Poison on the raw topic: messages written straight to Kafka with kcat (as a
//! misbehaving client could) go to the dead-letter topic with the reason, the
//! rest still arrives, and a replay after the cause is fixed counts once.
//! What Kafka refuses for good is a dead letter too, never a retry forever; a
//! letter is replayed to the topic it came from, and only once.

use egov_runtime::config::Settings;
use egov_runtime::dead_letter::DeadLetter;
use egov_tests::Pipeline;
use egov_tools::dlq::replay;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::Consumer;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::json;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Writes one message per line to `topic` with kcat, an independent client.
fn kcat_produce(brokers: &str, topic: &str, lines: &[String]) -> anyhow::Result<()> {
    kcat_produce_with(brokers, topic, &[], lines)
}

/// [`kcat_produce`] with more headers (`name=value`) on every message.
fn kcat_produce_with(
    brokers: &str,
    topic: &str,
    headers: &[String],
    lines: &[String],
) -> anyhow::Result<()> {
    let mut child = Command::new("kcat")
        .args([
            "-b",
            brokers,
            "-P",
            "-t",
            topic,
            "-H",
            "egov-system=onestop",
        ])
        .args(headers.iter().flat_map(|h| ["-H", h.as_str()]))
        .stdin(Stdio::piped())
        .spawn()?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| anyhow::anyhow!("kcat stdin"))?;
    for line in lines {
        writeln!(stdin, "{line}")?;
    }
    drop(stdin);
    anyhow::ensure!(child.wait()?.success(), "kcat failed");
    Ok(())
}

/// The dead letters, once there are at least `count` (or after 20 s).
async fn letters_when(settings: &Settings, count: usize) -> anyhow::Result<Vec<DeadLetter>> {
    let mut letters = Vec::new();
    for _ in 0..100 {
        letters = replay::list(&settings.kafka).await?;
        if letters.len() >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(letters)
}

/// Whether `group` has committed, on every partition of `topic`, the end of the topic.
async fn committed_to_the_end(
    settings: &Settings,
    group: &str,
    topic: &str,
) -> anyhow::Result<bool> {
    let consumer = egov_runtime::kafka::assigned_consumer(&settings.kafka, group)?;
    let timeout = Duration::from_secs(10);
    let metadata = consumer.fetch_metadata(Some(topic), timeout)?;
    let mut partitions = TopicPartitionList::new();
    for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
        partitions.add_partition(topic, partition.id());
    }
    let committed = consumer.committed_offsets(partitions, timeout)?;
    for element in committed.elements() {
        let (_, high) = consumer.fetch_watermarks(topic, element.partition(), timeout)?;
        let done = match element.offset() {
            Offset::Offset(offset) => offset,
            _ => 0,
        };
        if done < high {
            return Ok(false);
        }
    }
    Ok(true)
}

async fn wait_committed_to_the_end(
    settings: &Settings,
    group: &str,
    topic: &str,
) -> anyhow::Result<()> {
    for _ in 0..150 {
        if committed_to_the_end(settings, group, topic).await? {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    anyhow::bail!("{group} did not commit the end of {topic}")
}

/// How many messages `topic` holds.
async fn messages_in(settings: &Settings, topic: &str) -> anyhow::Result<u64> {
    Ok(egov_runtime::kafka::scan_topic(&settings.kafka, topic, |_| {}).await?)
}

/// Each letter's reason and event id.
fn reasons(letters: &[DeadLetter]) -> Vec<(&str, Option<&str>)> {
    letters
        .iter()
        .map(|l| (l.reason.as_str(), l.event_id.as_deref()))
        .collect()
}

/// With the pipeline stopped (else letters that are poison again come back
/// as new ones), a replay sends `expected`: only the letters not replayed
/// before; the one after it nothing.
async fn replays_only_once(
    mut pipeline: Pipeline,
    settings: &Settings,
    expected: replay::ReplayStats,
) -> anyhow::Result<()> {
    pipeline.shutdown_services().await?;
    assert_eq!(replay::replay(&settings.kafka).await?, expected);
    assert_eq!(
        replay::replay(&settings.kafka).await?,
        replay::ReplayStats::default()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_goes_to_the_dead_letter_topic_and_a_fixed_replay_counts_once() -> anyhow::Result<()>
{
    let pipeline = Pipeline::start("dlq").await?;
    let settings = pipeline.settings.clone();
    let event = |id: &str, unit: &str| {
        json!({"event_id": id, "event_type": "dossier.resolved", "occurred_at": "2021-05-07T10:00:00+07:00",
               "unit_code": unit, "payload": {"dossier_id": "HS-1"}})
        .to_string()
    };
    let lines = vec![
        "this is not json".to_owned(),
        event("needs-new-unit", "26999"),
        json!({"event_id": "no-payload", "event_type": "dossier.resolved", "occurred_at": "2021-05-07T10:00:00+07:00", "unit_code": "244"}).to_string(),
        event("fine-1", "244"),
    ];
    kcat_produce(&settings.kafka.brokers, &settings.kafka.raw_topic, &lines)?;
    pipeline.wait_for_event_ids(1).await?;

    // The three poison messages are dead letters, with reasons and origin.
    let letters = letters_when(&settings, 3).await?;
    let mut reasons = reasons(&letters);
    reasons.sort();
    assert_eq!(
        reasons,
        vec![
            ("invalid", Some("no-payload")),
            ("not_json", None),
            ("unknown_unit", Some("needs-new-unit"))
        ]
    );
    assert!(letters.iter().all(|l| l
        .origin
        .as_ref()
        .is_some_and(|o| o.topic == settings.kafka.raw_topic)
        && l.service == "transform"
        && l.dead_at_ms > 0
        && !l.detail.is_empty()
        && l.replayed_from.is_none()));

    // The unit is added to the catalogue; transform restarts with it; replay.
    let dir = std::env::temp_dir().join(format!("egov-dlq-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let catalogue = dir.join("units.csv");
    let mut units = egov_model::catalogue::EMBEDDED_UNITS_CSV.to_owned();
    units.push_str("26999,commune,commune,Xã Mới,244,244,2021-01-01,\n");
    std::fs::write(&catalogue, units)?;
    let mut fixed = settings.clone();
    fixed.catalogue.path = Some(catalogue);
    let pipeline = pipeline.restart_with(fixed.clone()).await?;
    let replayed = replay::replay(&fixed.kafka).await?;
    assert_eq!(
        replayed,
        replay::ReplayStats {
            to_raw: 3,
            to_curated: 0,
            skipped: 0
        }
    );
    pipeline.wait_for_event_ids(2).await?;
    let units = pipeline.query("SELECT unit_code, level, district_code FROM events FINAL WHERE event_id = 'needs-new-unit' FORMAT TSV").await?;
    assert_eq!(units, "26999\tcommune\t244\n");

    // The two that are still poison are dead letters again (3 + 2), and the
    // reconciliation accounts for every accepted event.
    let letters = letters_when(&fixed, 5).await?;
    assert_eq!(letters.len(), 5);
    let again: Vec<&str> = letters
        .iter()
        .filter_map(|l| l.replayed_from.as_deref())
        .collect();
    assert_eq!(again.len(), 2, "the replayed messages name their letters");
    assert!(again
        .iter()
        .all(|from| from.starts_with(&fixed.kafka.dlq_topic)));
    let accounts = egov_tools::reconcile::reconcile(&fixed.kafka, &fixed.clickhouse).await?;
    assert_eq!(accounts.missing(), 0, "{accounts:?}");
    assert_eq!(
        accounts.unreadable_raw_messages, 2,
        "not json, and not json again after the replay"
    );
    let loaded: u64 = accounts.days.iter().map(|d| d.loaded).sum();
    let dead: u64 = accounts.days.iter().map(|d| d.dead_lettered).sum();
    assert_eq!((loaded, dead), (2, 1), "{accounts:?}");
    // A second replay sends only the two new dead letters, never the first
    // three again, and a third one nothing.
    let only_the_new = replay::ReplayStats {
        to_raw: 2,
        to_curated: 0,
        skipped: 0,
    };
    replays_only_once(pipeline, &fixed, only_the_new).await?;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// Transform skips the schemas only for events ingest sealed with the
/// pipeline's key: an event sealed under another key is checked in full.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_under_a_forged_seal_is_checked_in_full() -> anyhow::Result<()> {
    let pipeline = Pipeline::start("forged").await?;
    let settings = pipeline.settings.clone();
    let received_ms = "1620356400000";
    let invalid = json!({"event_id": "forged-1", "event_type": "dossier.received", "occurred_at": "2021-05-07T10:00:00+07:00",
        "unit_code": "244", "payload": {"dossier_id": "HS-1"}})
    .to_string();
    let valid = json!({"event_id": "forged-2", "event_type": "dossier.resolved", "occurred_at": "2021-05-07T10:00:00+07:00",
        "unit_code": "244", "payload": {"dossier_id": "HS-1"}})
    .to_string();
    // Sealed as ingest would, but under a key that is not the pipeline's.
    let forger = egov_runtime::seal::SealKey::new(b"not the pipeline's key");
    for line in [&invalid, &valid] {
        let seal = forger.seal("onestop", received_ms, line.as_bytes());
        kcat_produce_with(
            &settings.kafka.brokers,
            &settings.kafka.raw_topic,
            &[
                format!("egov-received-ms={received_ms}"),
                format!("{}={seal}", egov_runtime::seal::HEADER_SEAL),
            ],
            std::slice::from_ref(line),
        )?;
    }
    pipeline.wait_for_event_ids(1).await?;
    let letters = letters_when(&settings, 1).await?;
    assert_eq!(reasons(&letters), vec![("invalid", Some("forged-1"))]);
    assert!(letters[0].detail.contains("/payload"), "{:?}", letters[0]);
    let loaded = pipeline
        .query("SELECT event_id FROM events FINAL FORMAT TSV")
        .await?;
    assert_eq!(loaded, "forged-2\n");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_curated_message_is_a_dead_letter_not_a_loss() -> anyhow::Result<()> {
    let pipeline = Pipeline::start("curated_dlq").await?;
    let settings = pipeline.settings.clone();
    kcat_produce(
        &settings.kafka.brokers,
        &settings.kafka.curated_topic,
        &[r#"{"event_id":"from-another-writer"}"#.to_owned()],
    )?;
    let event = json!({"event_id": "fine", "event_type": "dossier.resolved", "occurred_at": "2021-05-07T10:00:00+07:00",
                       "unit_code": "244", "payload": {"dossier_id": "HS-1"}});
    let (status, _) = pipeline
        .post_json(egov_tests::ONESTOP_TOKEN, &event)
        .await?;
    assert_eq!(status, 200);
    pipeline.wait_for_event_ids(1).await?;
    let letters = letters_when(&settings, 1).await?;
    let found: Vec<(&str, Option<&str>, &str)> = letters
        .iter()
        .map(|l| (l.reason.as_str(), l.event_id.as_deref(), l.service.as_str()))
        .collect();
    assert_eq!(
        found,
        vec![("undecodable_curated", Some("from-another-writer"), "load")]
    );
    let origin = letters[0].origin.as_ref().map(|o| o.topic.as_str());
    assert_eq!(origin, Some(settings.kafka.curated_topic.as_str()));

    // A letter of a good curated event, as load would write it, is replayed
    // with the other one to the curated topic (not the raw one) and counts once.
    let mut fine = None;
    egov_runtime::kafka::scan_topic(&settings.kafka, &settings.kafka.curated_topic, |m| {
        let letter = DeadLetter::from_message(m);
        if letter.event_id.as_deref() == Some("fine") {
            fine = Some(egov_runtime::dead_letter::Letter::of(
                m,
                egov_runtime::dead_letter::Reason::UndecodableCurated,
                "written by the test",
                egov_runtime::dead_letter::Service::Load,
            ));
        }
    })
    .await?;
    let fine =
        fine.ok_or_else(|| anyhow::anyhow!("the curated event is not in the curated topic"))?;
    let producer = egov_runtime::kafka::durable_producer(&settings.kafka)?;
    producer
        .send(
            fine.record(&settings.kafka.dlq_topic),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(e, _)| e)?;
    let curated_before = messages_in(&settings, &settings.kafka.curated_topic).await?;
    assert_eq!(
        replay::replay(&settings.kafka).await?,
        replay::ReplayStats {
            to_raw: 0,
            to_curated: 2,
            skipped: 0
        }
    );
    assert_eq!(messages_in(&settings, &settings.kafka.raw_topic).await?, 1);
    assert_eq!(
        messages_in(&settings, &settings.kafka.curated_topic).await?,
        curated_before + 2
    );
    wait_committed_to_the_end(
        &settings,
        &settings.kafka.load_group,
        &settings.kafka.curated_topic,
    )
    .await?;
    let rows = pipeline
        .query("SELECT count(), uniqExact(event_id) FROM events FINAL FORMAT TSV")
        .await?;
    assert_eq!(rows, "1\t1\n");
    // The undecodable one failed again: a new letter naming the one it was replayed from.
    let letters = letters_when(&settings, 3).await?;
    assert_eq!(letters.len(), 3);
    let again: Vec<&DeadLetter> = letters
        .iter()
        .filter(|l| l.replayed_from.is_some())
        .collect();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].event_id.as_deref(), Some("from-another-writer"));
    // Replayed once, never again: the next run replays only the new letter
    // (to the curated topic), the one after nothing.
    let only_the_new = replay::ReplayStats {
        to_raw: 0,
        to_curated: 1,
        skipped: 0,
    };
    replays_only_once(pipeline, &settings, only_the_new).await
}

/// Creates `topic` with a small `max.message.bytes`, before the pipeline does.
async fn create_small_topic(
    settings: &Settings,
    topic: &str,
    max_bytes: usize,
) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &settings.kafka.brokers)
        .create()?;
    let max_bytes = max_bytes.to_string();
    let new = NewTopic::new(topic, settings.kafka.partitions, TopicReplication::Fixed(1))
        .set("max.message.bytes", &max_bytes);
    for result in admin.create_topics(&[new], &AdminOptions::new()).await? {
        result.map_err(|(topic, code)| anyhow::anyhow!("cannot create {topic}: {code}"))?;
    }
    Ok(())
}

/// `n` random hexadecimal digits: what lz4 cannot shrink much.
fn incompressible(n: usize) -> String {
    let mut text = String::new();
    while text.len() < n {
        text.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    text.truncate(n);
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_kafka_refuses_for_good_is_a_dead_letter_and_the_rest_flows_on() -> anyhow::Result<()>
{
    let settings = egov_tests::unique_settings("refused")?;
    // Curated messages of more than 1,500 bytes are refused; letters of more than 8,000.
    create_small_topic(&settings, &settings.kafka.curated_topic, 1_500).await?;
    create_small_topic(&settings, &settings.kafka.dlq_topic, 8_000).await?;
    let pipeline = Pipeline::start_with(settings.clone()).await?;
    let event = |id: &str, note: String| {
        json!({"event_id": id, "event_type": "dossier.resolved", "occurred_at": "2021-05-07T10:00:00+07:00",
               "unit_code": "244", "payload": {"dossier_id": "HS-1", "note": note}})
    };
    // Each accepted by ingest (the raw topic takes up to 1 MB).
    for (id, note) in [
        ("large", incompressible(3_000)),
        ("larger-than-a-letter", incompressible(12_000)),
    ] {
        let (status, body) = pipeline
            .post_json(egov_tests::ONESTOP_TOKEN, &event(id, note))
            .await?;
        assert_eq!((status, &body["accepted"]), (200, &json!(1)), "{body}");
    }
    let fine = json!([
        event("after-1", "short".into()),
        event("after-2", String::new())
    ]);
    let (status, _) = pipeline.post_json(egov_tests::ONESTOP_TOKEN, &fine).await?;
    assert_eq!(status, 200);

    // The events after them arrive, and transform's offsets move past them.
    pipeline.wait_for_event_ids(2).await?;
    wait_committed_to_the_end(
        &settings,
        &settings.kafka.transform_group,
        &settings.kafka.raw_topic,
    )
    .await?;
    let ids = pipeline
        .query("SELECT event_id FROM events FINAL ORDER BY event_id FORMAT TSV")
        .await?;
    assert_eq!(ids, "after-1\nafter-2\n");

    // The large one is a dead letter with its raw message; the larger one,
    // too large for a letter, a truncated letter saying its size and origin.
    let mut letters = letters_when(&settings, 2).await?;
    letters.sort_by_key(|l| l.bytes);
    assert_eq!(letters.len(), 2, "{letters:?}");
    for letter in &letters {
        assert_eq!(
            (letter.reason.as_str(), letter.service.as_str()),
            ("produce_refused", "transform")
        );
        let origin = letter.origin.as_ref().map(|o| o.topic.as_str());
        assert_eq!(origin, Some(settings.kafka.raw_topic.as_str()));
    }
    let (truncated, full) = (&letters[0], &letters[1]);
    assert_eq!(full.event_id.as_deref(), Some("large"));
    assert_eq!(full.truncated_from, None);
    assert!(full.bytes > 3_000);
    assert_eq!((truncated.bytes, truncated.event_id.as_deref()), (0, None));
    assert!(
        truncated.truncated_from.is_some_and(|b| b > 12_000),
        "{truncated:?}"
    );
    assert!(
        truncated.detail.contains(&settings.kafka.raw_topic),
        "{}",
        truncated.detail
    );

    // Replay sends the full letter back to the raw topic; the truncated one has nothing to send.
    assert_eq!(
        replay::replay(&settings.kafka).await?,
        replay::ReplayStats {
            to_raw: 1,
            to_curated: 0,
            skipped: 1
        }
    );
    pipeline.stop().await
}
