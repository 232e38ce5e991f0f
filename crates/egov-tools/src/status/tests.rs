use super::*;

fn status() -> Status {
    let at = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap_or_default();
    Status {
        at,
        services: vec![
            Service {
                name: "ingest",
                address: "127.0.0.1:8080".into(),
                up: true,
                ready: Some(false),
                reasons: vec!["clickhouse: connection refused".into()],
                in_ingest_process: false,
                process: None,
            },
            Service {
                name: "transform",
                address: "127.0.0.1:8081".into(),
                up: true,
                ready: Some(false),
                reasons: vec![],
                in_ingest_process: true,
                process: Some(Process::Run),
            },
            Service {
                name: "load",
                address: "127.0.0.1:8082".into(),
                up: false,
                ready: None,
                reasons: vec!["not listening (connection refused)".into()],
                in_ingest_process: false,
                process: None,
            },
        ],
        clickhouse: ClickHouse {
            rows_last_minute: Measured::Value(123_456),
            last_insert: Measured::Value(Some(at - chrono::TimeDelta::seconds(5))),
            last_ingested: Measured::Error {
                error: "clickhouse: no answer in time".into(),
            },
        },
        consumer_lag: vec![GroupLag {
            stage: Stage::Load,
            group: "egov-load".into(),
            topic: "egov.curated.v1".into(),
            lag: Lag {
                lag: Measured::Value(1_234_567),
            },
        }],
        dead_letters: Measured::Value(0),
        topics: Measured::Value(vec![
            TopicCheck {
                topic: "egov.raw.v1".into(),
                exists: true,
                weaker: vec![topics::Shortfall::RetentionMs {
                    has: 86_400_000,
                    configured: 7 * 86_400_000,
                }],
            },
            TopicCheck {
                topic: "egov.curated.v1".into(),
                exists: true,
                weaker: vec![],
            },
            TopicCheck {
                topic: "egov.dlq.v1".into(),
                exists: false,
                weaker: vec![],
            },
        ]),
    }
}

#[test]
fn the_table_says_what_is_down_and_why() {
    let table = render(&status());
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0], "egov status at 2023-11-14 22:13:20 UTC");
    assert_eq!(
        lines[3],
        "ingest     127.0.0.1:8080         up    NO     clickhouse: connection refused"
    );
    assert_eq!(
        lines[4],
        "transform  127.0.0.1:8081         up    NO     inside the ingest process (egov run)"
    );
    assert_eq!(
        lines[5],
        "load       127.0.0.1:8082         DOWN  -      not listening (connection refused)"
    );
    assert!(table.contains("rows into ClickHouse, last minute        123,456 (2057.6/s)"));
    assert!(table
        .contains("last ClickHouse insert                   2023-11-14 22:13:15 UTC (5 s ago)"));
    assert!(table.contains(
        "latest event ingested                    unknown: clickhouse: no answer in time"
    ));
    assert!(table.contains("consumer lag, load (egov.curated.v1)     1,234,567"));
    assert!(table.contains("dead letters                             0"));
    assert!(table.contains(
        "topic egov.raw.v1                        WEAKER than configured: retention 1 d, configured 7 d\n"
    ));
    assert!(table.contains("topic egov.curated.v1                    as configured\n"));
    assert!(table.contains(
        "topic egov.dlq.v1                        missing (the services create it at start)\n"
    ));
    let unknown = Status {
        topics: Measured::Error {
            error: "kafka: no answer in time".into(),
        },
        ..status()
    };
    assert!(render(&unknown)
        .contains("topics                                   unknown: kafka: no answer in time\n"));
}

#[test]
fn json_has_values_or_errors() -> anyhow::Result<()> {
    let json = serde_json::to_value(status())?;
    assert_eq!(json["clickhouse"]["rows_last_minute"], 123_456);
    assert_eq!(
        json["clickhouse"]["last_ingested"]["error"],
        "clickhouse: no answer in time"
    );
    assert_eq!(json["consumer_lag"][0]["lag"], 1_234_567);
    assert_eq!(json["services"][2]["up"], false);
    assert_eq!(
        json["topics"][0]["weaker"][0],
        serde_json::json!({"setting": "retention_ms", "has": 86_400_000, "configured": 604_800_000})
    );
    Ok(())
}

#[test]
fn a_stalled_stage_under_egov_run_is_shown_on_its_own_row() {
    let reasons = vec![
        "kafka: metadata request failed".to_owned(),
        "load: stalled: no committed progress for 73 s while 1,204 messages wait on egov.curated.v1".to_owned(),
    ];
    assert_eq!(reasons_of("load", &reasons), reasons);
    assert_eq!(reasons_of("transform", &reasons), reasons[..1].to_vec());
    let stalled_only = reasons[1..].to_vec();
    assert!(reasons_of("transform", &stalled_only).is_empty());
}

#[test]
fn numbers_and_ages_read_well() {
    let now = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap_or_default();
    assert!(ago(now - chrono::TimeDelta::minutes(5), now).ends_with("(5 min ago)"));
    assert!(ago(now - chrono::TimeDelta::days(3), now).ends_with("(3 days ago)"));
    assert_eq!(clickhouse::time_of_ms(0), None);
    assert_eq!(clickhouse::time_of_ms(1_700_000_000_000), Some(now));
}
