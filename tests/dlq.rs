//! Poison on the raw topic: messages written straight to Kafka with kcat (as a
//! misbehaving client could) go to the dead-letter topic with the reason, the
//! rest still arrives, and a replay after the cause is fixed counts once.

use egov_tests::Pipeline;
use serde_json::json;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Writes one message per line to `topic` with kcat, an independent client.
fn kcat_produce(brokers: &str, topic: &str, lines: &[String]) -> anyhow::Result<()> {
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
    pipeline
        .wait_for(
            "SELECT uniqExact(event_id) FROM events",
            1,
            Duration::from_secs(60),
        )
        .await?;

    // The three poison messages are dead letters, with reasons and origin.
    let mut letters = Vec::new();
    for _ in 0..100 {
        letters = egov_transform::dlq::list(&settings.kafka).await?;
        if letters.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut reasons: Vec<(&str, Option<&str>)> = letters
        .iter()
        .map(|l| (l.reason.as_str(), l.event_id.as_deref()))
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        vec![
            ("invalid", Some("no-payload")),
            ("not_json", None),
            ("unknown_unit", Some("needs-new-unit"))
        ]
    );
    assert!(letters
        .iter()
        .all(|l| l.source.starts_with(&settings.kafka.raw_topic)
            && l.dead_at_ms > 0
            && !l.detail.is_empty()));

    // The unit is added to the catalogue; transform restarts with it; replay.
    let dir = std::env::temp_dir().join(format!("egov-dlq-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let catalogue = dir.join("units.csv");
    let mut units = egov_common::catalogue::EMBEDDED_UNITS_CSV.to_owned();
    units.push_str("26999,commune,commune,Xã Mới,244,244,2021-01-01,\n");
    std::fs::write(&catalogue, units)?;
    let mut fixed = settings.clone();
    fixed.catalogue.path = Some(catalogue);
    let pipeline = pipeline.restart_with(fixed.clone()).await?;
    let replayed = egov_transform::dlq::replay(&fixed.kafka).await?;
    assert_eq!(replayed.replayed, 3);
    pipeline
        .wait_for(
            "SELECT uniqExact(event_id) FROM events",
            2,
            Duration::from_secs(60),
        )
        .await?;
    let units = pipeline.query("SELECT unit_code, level, district_code FROM events FINAL WHERE event_id = 'needs-new-unit' FORMAT TSV").await?;
    assert_eq!(units, "26999\tcommune\t244\n");

    // The two that are still poison are dead letters again (3 + 2), and the
    // reconciliation accounts for every accepted event.
    let mut count = 0;
    for _ in 0..100 {
        count = egov_transform::dlq::list(&fixed.kafka).await?.len();
        if count >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(count, 5);
    let accounts = egov_load::reconcile::reconcile(&fixed.kafka, &fixed.clickhouse).await?;
    assert_eq!(accounts.missing(), 0, "{accounts:?}");
    assert_eq!(
        accounts.unreadable_raw_messages, 2,
        "not json, and not json again after the replay"
    );
    let loaded: u64 = accounts.days.iter().map(|d| d.loaded).sum();
    let dead: u64 = accounts.days.iter().map(|d| d.dead_lettered).sum();
    assert_eq!((loaded, dead), (2, 1), "{accounts:?}");
    // A second replay sends only the two new dead letters, never the first three again.
    assert_eq!(egov_transform::dlq::replay(&fixed.kafka).await?.replayed, 2);
    std::fs::remove_dir_all(&dir)?;
    pipeline.stop().await
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
    pipeline
        .wait_for(
            "SELECT uniqExact(event_id) FROM events",
            1,
            Duration::from_secs(60),
        )
        .await?;
    let mut letters = Vec::new();
    for _ in 0..100 {
        letters = egov_transform::dlq::list(&settings.kafka).await?;
        if !letters.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let found: Vec<(&str, Option<&str>)> = letters
        .iter()
        .map(|l| (l.reason.as_str(), l.event_id.as_deref()))
        .collect();
    assert_eq!(
        found,
        vec![("undecodable_curated", Some("from-another-writer"))]
    );
    assert!(letters[0].source.starts_with(&settings.kafka.curated_topic));
    pipeline.stop().await
}
