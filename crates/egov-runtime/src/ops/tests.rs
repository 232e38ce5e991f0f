use super::*;

fn ops() -> OpsSection {
    OpsSection {
        readiness_interval_ms: 50,
        probe_timeout_ms: 300,
        ..OpsSection::default()
    }
}

#[test]
fn checks_start_failing_and_shutdown_is_a_reason() -> anyhow::Result<()> {
    let readiness = Readiness::builder(&ops()).catalogue().build()?;
    assert_eq!(
        readiness.status(),
        ReadyStatus {
            ready: false,
            reasons: vec!["catalogue: not loaded yet".into()]
        }
    );
    readiness.set(Check::Catalogue, Ok(()));
    // A check nobody asked for changes nothing.
    readiness.set(Check::ClickHouse, Err("down".into()));
    assert!(readiness.is_ready());
    readiness.set_shutting_down();
    assert_eq!(readiness.status().reasons, vec!["shutting down".to_owned()]);
    Ok(())
}

#[test]
fn a_stalled_stage_is_a_reason_that_names_it() -> anyhow::Result<()> {
    let readiness = Readiness::builder(&ops()).stage(Stage::Load).build()?;
    assert!(readiness.is_ready(), "a stage is not stalled until told");
    readiness.set(Check::Stage(Stage::Load), Err("stalled: …".into()));
    // Not asked for: `egov load` has no transform.
    readiness.set(Check::Stage(Stage::Transform), Err("stalled: …".into()));
    assert_eq!(
        readiness.status().reasons,
        vec!["load: stalled: …".to_owned()]
    );
    readiness.set(Check::Stage(Stage::Load), Ok(()));
    assert!(readiness.is_ready());
    Ok(())
}

#[test]
fn always_is_ready_until_shutdown() {
    let readiness = Readiness::always();
    assert!(readiness.is_ready());
    readiness.set_shutting_down();
    assert!(!readiness.is_ready());
}

#[tokio::test]
async fn unreachable_clickhouse_is_named_with_its_reason() -> anyhow::Result<()> {
    // Port 1 on loopback: nobody listens, the connection is refused at once.
    let clickhouse = ClickHouseConfig {
        url: "http://127.0.0.1:1".into(),
        ..ClickHouseConfig::default()
    };
    let readiness = Readiness::builder(&ops()).clickhouse(&clickhouse).build()?;
    assert_eq!(
        readiness.status().reasons,
        vec!["clickhouse: not checked yet".to_owned()]
    );
    readiness.refresh().await;
    assert_eq!(
        readiness.status().reasons,
        vec!["clickhouse: connection refused".to_owned()]
    );
    Ok(())
}

#[tokio::test]
async fn a_silent_server_times_out() -> anyhow::Result<()> {
    // Accepts connections and never answers, like a stopped ClickHouse.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let clickhouse = ClickHouseConfig {
        url: format!("http://{address}"),
        ..ClickHouseConfig::default()
    };
    let readiness = Readiness::builder(&ops()).clickhouse(&clickhouse).build()?;
    let started = std::time::Instant::now();
    readiness.refresh().await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        readiness.status().reasons,
        vec!["clickhouse: no answer within 0.3 s".to_owned()]
    );
    hold.abort();
    Ok(())
}

#[tokio::test]
async fn spawn_marks_shutting_down_at_once() -> anyhow::Result<()> {
    let readiness = Readiness::builder(&ops()).build()?;
    let (trigger, shutdown) = crate::shutdown::channel();
    let task = readiness.spawn(shutdown);
    assert!(readiness.is_ready());
    trigger.trigger();
    tokio::time::timeout(Duration::from_secs(2), task).await??;
    assert_eq!(readiness.status().reasons, vec!["shutting down".to_owned()]);
    Ok(())
}

#[tokio::test]
async fn status_says_what_the_process_is() -> anyhow::Result<()> {
    let ask = |readiness: Readiness| async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let server =
            tokio::spawn(async move { axum::serve(listener, router_with(None, readiness)).await });
        let answer = reqwest::get(format!("http://{address}{STATUS_PATH}")).await?;
        let status = answer.status().as_u16();
        let body: ProcessStatus = answer.json().await?;
        server.abort();
        anyhow::ensure!(status == 200, "/status answered {status}");
        Ok::<_, anyhow::Error>(body)
    };
    let run = ask(Readiness::pipeline(&crate::config::Settings::default())?).await?;
    assert_eq!(run.process, Some(Process::Run));
    assert_eq!(
        run.components,
        vec![Component::Ingest, Component::Transform, Component::Load]
    );
    assert_eq!(run.version, env!("CARGO_PKG_VERSION"));
    let load = ask(Readiness::builder(&ops()).process(Process::Load).build()?).await?;
    assert_eq!(
        (load.process, load.components),
        (Some(Process::Load), vec![Component::Load])
    );
    let unsaid = ask(Readiness::always()).await?;
    assert_eq!((unsaid.process, unsaid.components), (None, Vec::new()));
    // The JSON as documented.
    let json = serde_json::to_value(ProcessStatus::of(Some(Process::Transform)))?;
    assert_eq!(json["process"], "transform");
    assert_eq!(json["components"], serde_json::json!(["transform"]));
    Ok(())
}
