//! Load's view of ClickHouse replication (`egov_load::replicas`), against real
//! servers. On the local single server there is nothing to report. With a
//! ZooKeeper and two ClickHouse servers of this test (temp dir, free ports),
//! one table has a replica on each, `r1` and `r2`, as a shard of
//! `deploy/cluster` has: the measurement (and its gauges) shows `r2` behind
//! while its fetches are stopped, caught up once they run, a replica gone
//! (`active_replicas` 1 of 2 on `r1`) once `r2`'s server is killed, and `r1`
//! without ZooKeeper (read-only gauge 1, delay unknown) once ZooKeeper is gone.

use egov_ingest::metrics_exporter_prometheus::PrometheusBuilder;
use egov_load::replicas::{self, ReplicaRow};
use egov_runtime::config::ClickHouseConfig;
use egov_tests::secure::{free_port, spawn_clickhouse, Server, TempDir};
use egov_tests::{clickhouse_query, sample, unique_settings};
use std::process::Command;
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_single_server_has_no_replicas_to_report() -> anyhow::Result<()> {
    let settings = unique_settings("replicas_single")?;
    let database = settings.clickhouse.database.clone();
    let mut server = settings.clone();
    server.clickhouse.database = "default".into();
    clickhouse_query(&server, &format!("CREATE DATABASE `{database}`")).await?;
    clickhouse_query(
        &settings,
        "CREATE TABLE t (x UInt8) ENGINE = MergeTree ORDER BY x",
    )
    .await?;
    let client = egov_runtime::clickhouse::query_client(&settings.clickhouse)?;
    let rows = egov_load::replicas::measure(&client, &database).await;
    clickhouse_query(&server, &format!("DROP DATABASE `{database}`")).await?;
    assert_eq!(rows?, vec![]);
    Ok(())
}

/// A ZooKeeper (Debian's `zookeeper` jars) and two ClickHouse servers using it, of this test.
struct Replicated {
    zookeeper: Option<Server>,
    clickhouse: Vec<Option<Server>>,
    urls: Vec<String>,
    // Last: removed after the servers are stopped.
    dir: TempDir,
}

const ZOOKEEPER_JAR: &str = "/usr/share/java/zookeeper.jar";
const DATABASE: &str = "egov";

impl Replicated {
    fn start() -> anyhow::Result<Self> {
        anyhow::ensure!(
            std::path::Path::new(ZOOKEEPER_JAR).exists(),
            "{ZOOKEEPER_JAR} is missing: install Debian's zookeeper package"
        );
        let dir = TempDir::new("replicas")?;
        let zk_port = free_port()?;
        let zk_dir = dir.0.join("zookeeper");
        std::fs::create_dir_all(zk_dir.join("data"))?;
        std::fs::write(
            zk_dir.join("zoo.cfg"),
            format!(
                "tickTime=500\ndataDir={}\nclientPort={zk_port}\nclientPortAddress=127.0.0.1\n\
                 admin.enableServer=false\nminSessionTimeout=1000\nmaxSessionTimeout=60000\n",
                zk_dir.join("data").display()
            ),
        )?;
        let mut command = Command::new("java");
        command
            .args(["-Xmx128m", "-cp", ZOOKEEPER_JAR])
            .arg("org.apache.zookeeper.server.ZooKeeperServerMain")
            .arg(zk_dir.join("zoo.cfg"));
        let zookeeper = Server::spawn("zookeeper", command, &zk_dir, vec![])?;
        let mut clickhouse = Vec::new();
        let mut urls = Vec::new();
        for replica in ["r1", "r2"] {
            let (server, url) = start_clickhouse(&dir.0.join(replica), zk_port)?;
            clickhouse.push(Some(server));
            urls.push(url);
        }
        Ok(Self {
            zookeeper: Some(zookeeper),
            clickhouse,
            urls,
            dir,
        })
    }

    /// The configuration of load writing to server `n` (0: `r1`, 1: `r2`).
    fn config(&self, n: usize) -> ClickHouseConfig {
        ClickHouseConfig {
            url: self.urls[n].clone(),
            database: DATABASE.to_owned(),
            ..ClickHouseConfig::default()
        }
    }

    fn ensure_running(&mut self) -> anyhow::Result<()> {
        for server in self
            .clickhouse
            .iter_mut()
            .chain([&mut self.zookeeper])
            .flatten()
        {
            server.ensure_running()?;
        }
        Ok(())
    }

    async fn query(&mut self, n: usize, sql: &str) -> anyhow::Result<String> {
        self.ensure_running()?;
        let mut settings = unique_settings("replicas")?;
        settings.clickhouse = ClickHouseConfig {
            database: "default".into(),
            ..self.config(n)
        };
        clickhouse_query(&settings, sql).await
    }

    /// The replicas server `n` reports once `done` holds for them (within a minute).
    async fn measure_until(
        &mut self,
        n: usize,
        done: impl Fn(&[ReplicaRow]) -> bool,
    ) -> anyhow::Result<Vec<ReplicaRow>> {
        let client = egov_runtime::clickhouse::query_client(&self.config(n))?;
        let started = Instant::now();
        loop {
            self.ensure_running()?;
            let rows = replicas::measure(&client, DATABASE).await;
            if let Ok(rows) = &rows {
                if done(rows) {
                    return Ok(rows.clone());
                }
            }
            if started.elapsed() > Duration::from_secs(60) {
                let log =
                    std::fs::read_to_string(self.dir.0.join(["r1", "r2"][n]).join("error.log"))
                        .unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(30).collect();
                anyhow::bail!(
                    "replicas on server {n} still {rows:?} after a minute; its error log ends:\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// A ClickHouse server in `dir` using the ZooKeeper on `zk_port`; its HTTP URL.
fn start_clickhouse(dir: &std::path::Path, zk_port: u16) -> anyhow::Result<(Server, String)> {
    let (http_port, tcp_port, interserver_port) = (free_port()?, free_port()?, free_port()?);
    let ports = format!(
        "    <http_port>{http_port}</http_port>
    <tcp_port>{tcp_port}</tcp_port>
    <interserver_http_port>{interserver_port}</interserver_http_port>
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <zookeeper>
        <node><host>127.0.0.1</host><port>{zk_port}</port></node>
        <session_timeout_ms>3000</session_timeout_ms>
    </zookeeper>"
    );
    // The user of `ClickHouseConfig::default()`: `default`, no password.
    let server = spawn_clickhouse(dir, &ports, "default", "")?;
    Ok((server, format!("http://127.0.0.1:{http_port}")))
}

/// The gauges `replicas::record` sets for `rows`, as Prometheus text.
fn gauges(rows: &[ReplicaRow]) -> String {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || replicas::record(rows));
    handle.render()
}

fn series(name: &str, replica: &str) -> String {
    format!("{name}{{table=\"events\",replica=\"{replica}\"}}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_behind_gone_or_without_zookeeper_shows_in_the_gauges() -> anyhow::Result<()> {
    let mut servers = Replicated::start()?;
    let started = Instant::now();
    for (n, replica) in ["r1", "r2"].into_iter().enumerate() {
        // Until the server has a ZooKeeper session.
        while servers
            .query(n, "SELECT count() FROM system.zookeeper WHERE path = '/'")
            .await
            .is_err()
        {
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(90),
                "zookeeper or clickhouse does not answer"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        servers
            .query(n, &format!("CREATE DATABASE {DATABASE}"))
            .await?;
        servers
            .query(
                n,
                &format!(
                    "CREATE TABLE {DATABASE}.events (x UInt64) ENGINE = \
                     ReplicatedMergeTree('/clickhouse/tables/s1/events', '{replica}') ORDER BY x"
                ),
            )
            .await?;
    }
    let rows = servers
        .measure_until(0, |rows| rows.iter().any(|r| r.active_replicas == 2))
        .await?;
    assert_eq!(
        rows,
        vec![ReplicaRow {
            table: "events".into(),
            replica_name: "r1".into(),
            is_readonly: 0,
            is_session_expired: 0,
            absolute_delay: 0,
            queue_size: 0,
            active_replicas: 2,
            total_replicas: 2,
        }]
    );

    // r2 cannot fetch what r1 takes: it falls behind.
    servers.query(1, "SYSTEM STOP FETCHES egov.events").await?;
    servers
        .query(0, "INSERT INTO egov.events VALUES (1)")
        .await?;
    let behind = servers
        .measure_until(1, |rows| {
            rows.iter()
                .any(|r| r.queue_size >= 1 && r.absolute_delay >= 2)
        })
        .await?;
    let text = gauges(&behind);
    let delay = sample(
        &text,
        &series("egov_clickhouse_replica_delay_seconds", "r2"),
    );
    assert!(delay.is_some_and(|d| d >= 2.0), "{text}");
    assert_eq!(
        sample(&text, &series("egov_clickhouse_replicas_active", "r2")),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, &series("egov_clickhouse_replica_readonly", "r2")),
        Some(0.0),
        "{text}"
    );

    // Fetching again, it catches up.
    servers.query(1, "SYSTEM START FETCHES egov.events").await?;
    servers.query(1, "SYSTEM SYNC REPLICA egov.events").await?;
    let caught_up = servers
        .measure_until(1, |rows| {
            rows.iter()
                .all(|r| r.queue_size == 0 && r.absolute_delay == 0)
        })
        .await?;
    assert_eq!(
        sample(
            &gauges(&caught_up),
            &series("egov_clickhouse_replica_delay_seconds", "r2")
        ),
        Some(0.0)
    );
    assert_eq!(
        servers
            .query(1, "SELECT count() FROM egov.events")
            .await?
            .trim(),
        "1"
    );

    // r2's server killed: once its ZooKeeper session ends, r1 sees one active replica of two.
    servers.clickhouse[1].take();
    let down = servers
        .measure_until(0, |rows| rows.iter().any(|r| r.active_replicas == 1))
        .await?;
    let text = gauges(&down);
    assert_eq!(
        sample(&text, &series("egov_clickhouse_replicas_active", "r1")),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, &series("egov_clickhouse_replicas_total", "r1")),
        Some(2.0),
        "{text}"
    );

    // ZooKeeper gone: r1 has no session, inserts through it would fail.
    servers.zookeeper.take();
    let lost = servers
        .measure_until(0, |rows| rows.iter().any(|r| r.active_replicas == 0))
        .await?;
    let text = gauges(&lost);
    assert_eq!(
        sample(&text, &series("egov_clickhouse_replica_readonly", "r1")),
        Some(1.0),
        "{text}"
    );
    // Its delay is unknown then (18.16 reports the current Unix time).
    assert!(
        sample(
            &text,
            &series("egov_clickhouse_replica_delay_seconds", "r1")
        )
        .is_some_and(f64::is_nan),
        "{text}"
    );
    Ok(())
}
