//! Topic settings from the configuration, against the real local Kafka (one
//! broker): a missing topic is created with the configured replicas,
//! `min.insync.replicas` and retention; an existing topic weaker than
//! configured is reported in the log (a warning with the topic and what falls
//! short), in `egov_topic_weaker_than_config{topic}` and by the check that
//! `egov status` shows. With one broker a replication factor above 1 cannot be
//! created, so that shortfall is shown with `kafka.replication_factor`
//! configured above what the topics have.

use egov_runtime::kafka;
use egov_runtime::topics;
use egov_tests::{unique_settings, CapturedLogs, Cleanup};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use std::collections::BTreeMap;

const DAY_MS: i64 = 24 * 3_600_000;

/// A topic's configuration as the broker describes it.
async fn describe(
    admin: &AdminClient<DefaultClientContext>,
    topic: &str,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut results = admin
        .describe_configs(&[ResourceSpecifier::Topic(topic)], &AdminOptions::new())
        .await?;
    let resource = results
        .pop()
        .ok_or_else(|| anyhow::anyhow!("no answer"))?
        .map_err(|code| anyhow::anyhow!("{code}"))?;
    Ok(resource
        .entries
        .into_iter()
        .filter_map(|entry| Some((entry.name, entry.value?)))
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_are_created_as_configured_and_weaker_ones_reported() -> anyhow::Result<()> {
    let logs = CapturedLogs::install("info,rdkafka=warn")?;
    let metrics = egov_runtime::telemetry::init_metrics()?;

    let mut settings = unique_settings("topics")?;
    settings.kafka.partitions = 1;
    let _cleanup = Cleanup(settings.clone());
    let config = settings.kafka.clone();
    assert_eq!(config.replication_factor, 1, "deploy/local's default");
    let admin: AdminClient<DefaultClientContext> = kafka::client_config(&config).create()?;

    // Made before the pipeline sees them: the raw topic keeps an hour, the
    // dead letters two days (configured: 7 and 30 days).
    let hour = 3_600_000.to_string();
    let two_days = (2 * DAY_MS).to_string();
    let weak = [
        NewTopic::new(&config.raw_topic, 1, TopicReplication::Fixed(1)).set("retention.ms", &hour),
        NewTopic::new(&config.dlq_topic, 1, TopicReplication::Fixed(1))
            .set("retention.ms", &two_days),
    ];
    for result in admin.create_topics(&weak, &AdminOptions::new()).await? {
        result.map_err(|(topic, code)| anyhow::anyhow!("{topic}: {code}"))?;
    }

    let topics = [
        config.raw_topic.as_str(),
        config.curated_topic.as_str(),
        config.dlq_topic.as_str(),
    ];
    kafka::ensure_topics(&config, &topics).await?;

    // The missing one was created as configured.
    let curated = describe(&admin, &config.curated_topic).await?;
    assert_eq!(curated.get("retention.ms"), Some(&(3 * DAY_MS).to_string()));
    assert_eq!(
        curated.get("min.insync.replicas").map(String::as_str),
        Some("1")
    );
    // The existing ones were left as they were.
    assert_eq!(
        describe(&admin, &config.raw_topic)
            .await?
            .get("retention.ms"),
        Some(&hour)
    );

    let logs = logs.text();
    let warning = |topic: &str| {
        logs.lines()
            .find(|line| {
                line.contains("WARN")
                    && line.contains("topic settings weaker than configured")
                    && line.contains(&format!("topic=\"{topic}\""))
            })
            .map(str::to_owned)
    };
    let raw_warning = warning(&config.raw_topic).ok_or_else(|| anyhow::anyhow!("{logs}"))?;
    assert!(
        raw_warning.contains("retention 1 h, configured 7 d"),
        "{raw_warning}"
    );
    let dlq_warning = warning(&config.dlq_topic).ok_or_else(|| anyhow::anyhow!("{logs}"))?;
    assert!(
        dlq_warning.contains("retention 2 d, configured 30 d"),
        "{dlq_warning}"
    );
    assert_eq!(warning(&config.curated_topic), None, "{logs}");
    assert!(
        logs.contains(&format!("topic=\"{}\"", config.curated_topic))
            && logs.contains("topic created"),
        "{logs}"
    );

    let rendered = metrics.render();
    for (topic, weaker) in [
        (&config.raw_topic, 1),
        (&config.curated_topic, 0),
        (&config.dlq_topic, 1),
    ] {
        let series = format!("egov_topic_weaker_than_config{{topic=\"{topic}\"}} {weaker}");
        assert!(
            rendered.lines().any(|l| l == series),
            "{series} in\n{rendered}"
        );
    }

    // What `egov status` shows: the same, and with three replicas configured
    // every topic falls short in replicas and min.insync.replicas as well.
    let checks = topics::check(&config, &topics).await?;
    let weaker: Vec<usize> = checks.iter().map(|c| c.weaker.len()).collect();
    assert_eq!(weaker, vec![1, 0, 1]);
    assert!(checks.iter().all(|c| c.exists));
    let three = egov_runtime::config::KafkaConfig {
        replication_factor: 3,
        ..config.clone()
    };
    let checks = topics::check(&three, &topics).await?;
    let described: Vec<String> = checks.iter().map(topics::TopicCheck::describe).collect();
    let replicas = "replication factor 1, configured 3; min.insync.replicas 1, configured 2";
    assert_eq!(
        described,
        [
            format!("{replicas}; retention 1 h, configured 7 d"),
            replicas.to_owned(),
            format!("{replicas}; retention 2 d, configured 30 d"),
        ]
    );
    // A topic that does not exist is said so, and checking creates nothing.
    let absent = format!("{}.absent", config.raw_topic);
    let checks = topics::check(&config, &[&absent]).await?;
    assert!(!checks[0].exists && checks[0].weaker.is_empty());
    assert!(!topics::check(&config, &[&absent]).await?[0].exists);
    Ok(())
}
