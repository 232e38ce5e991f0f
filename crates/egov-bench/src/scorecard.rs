//! Phase `scorecard`: the province's 2021 scenario (about 2.5 million events)
//! through `egov run` (a process of its own, with its own topics, groups and
//! database), then how long `egov scorecard` and `egov report` take for the
//! whole year on it: the `egov scorecard` process as an analyst runs it, and
//! the library call alone (the queries and what is computed from them); and
//! every page and API call of `egov dashboard` for the year (`crate::dashboard`).
//! `BENCH_SCORECARD_DB` names a database that already holds the scenario
//! (e.g. kept by `--keep`) to measure without loading again.
//!
//! Phase `country` does the same at country scale ([`Scale`]): the scenario
//! sent by `BENCH_PROVINCES` provinces (10: about 25 million events), each
//! with unit codes of its own, through the same pipeline with their national
//! catalogue (`EGOV__CATALOGUE__PATH`, written beside the results); then
//! the same timings (not the dashboard's), and a check that every province's report for the year
//! equals province 1's. `BENCH_COUNTRY_DB` measures a database that already
//! holds it.

use crate::bench::Bench;
use crate::ch::ClickHouse;
use crate::egov::{self, egov_env, free_port};
use crate::report::median;
use crate::say;
use anyhow::Context;
use egov_analytics::scorecard::ScorecardRequest;
use egov_analytics::ReportRequest;
use egov_model::Catalogue;
use egov_runtime::clickhouse::ident;
use egov_runtime::config::{ClickHouseConfig, Settings};
use egov_scenario::provinces::unit_code;
use egov_scenario::push::{push, PushOptions, Target};
use egov_scenario::report2021::{Report2021, DEFAULT_SEED};
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use serde::Serialize;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Each measurement is the median of this many runs, after one to warm up.
const RUNS: usize = 7;

/// How many provinces send the 2021 scenario, and what that needs.
pub struct Scale {
    /// Provinces sending the scenario (1: the province alone).
    pub provinces: u16,
    /// A database that already holds the scenario of that many provinces.
    pub existing: Option<String>,
    /// In the names of the topics, groups and database (`y2021`, `n10`).
    pub tag: String,
    /// The file the national catalogue is written to (provinces > 1).
    pub catalogue_path: PathBuf,
    /// Also time every page of `egov dashboard`.
    pub dashboard: bool,
}

impl Scale {
    /// The unit catalogue of the provinces; written to `catalogue_path`
    /// for the `egov` processes when there is more than one province.
    fn catalogue(&self) -> anyhow::Result<Catalogue> {
        let base = Catalogue::embedded()?;
        if self.provinces <= 1 {
            return Ok(base);
        }
        let catalogue = egov_scenario::provinces::national_catalogue(&base, self.provinces)?;
        let mut out = Vec::new();
        catalogue.write_csv(&mut out)?;
        std::fs::write(&self.catalogue_path, out)
            .with_context(|| self.catalogue_path.display().to_string())?;
        Ok(catalogue)
    }

    /// What the `egov` processes need to read the catalogue.
    fn env(&self) -> Vec<(String, String)> {
        if self.provinces <= 1 {
            return Vec::new();
        }
        vec![(
            "EGOV__CATALOGUE__PATH".to_owned(),
            self.catalogue_path.display().to_string(),
        )]
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Figures {
    /// Provinces that sent the 2021 scenario.
    pub provinces: u16,
    pub database: String,
    /// Rows of `events` (distinct events of the scenario).
    pub events: u64,
    /// Seconds from the first request until every event was in ClickHouse
    /// (0 when an existing database was measured).
    pub load_s: f64,
    /// The peak resident memory of that `egov run`, MiB.
    pub rss_mib_max: f64,
    /// The CPU each process used meanwhile (`None` when an existing database
    /// was measured).
    pub load_cpu: Option<crate::cpu::ProcessCpu>,
    /// `egov scorecard --from 2021-01-01 --to 2021-12-31 --format json`, the
    /// process from start to exit, median.
    pub scorecard_year_ms: f64,
    /// The library call alone (`egov_analytics::scorecard`), median.
    pub scorecard_year_query_ms: f64,
    /// `egov_analytics::report` for the year, median.
    pub report_year_ms: f64,
    /// With several provinces: every province's report for the year was
    /// checked equal to province 1's (`egov report --unit` of its root).
    pub provinces_equal: bool,
    pub runs: Vec<Run>,
    /// `egov dashboard`'s pages and API calls for the year.
    pub dashboard: Option<crate::dashboard::Figures>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Run {
    pub scorecard_process_ms: f64,
    pub scorecard_query_ms: f64,
    pub report_ms: f64,
}

/// What the phase made, removed at its end unless kept.
struct Resources {
    topics: Vec<String>,
    groups: Vec<String>,
    database: String,
}

/// Measures and fills in the results (`scorecard_year_ms`, `scorecard`).
pub async fn phase(bench: &mut Bench<'_>) -> anyhow::Result<()> {
    let scale = Scale {
        provinces: 1,
        existing: std::env::var("BENCH_SCORECARD_DB")
            .ok()
            .filter(|d| !d.is_empty()),
        tag: "y2021".to_owned(),
        catalogue_path: PathBuf::new(),
        dashboard: true,
    };
    let figures = run(bench, &scale).await?;
    bench.results.scorecard_year_ms = figures.scorecard_year_ms;
    if let Some(dashboard) = &figures.dashboard {
        bench.results.dashboard_first_ms_max = dashboard.first_ms_max;
        bench.results.dashboard_cached_ms_max = dashboard.cached_ms_max;
    }
    if figures.load_s > 0.0 {
        let results = &mut bench.results;
        results.province_year_s = figures.load_s;
        results.rss_mib_max = results.rss_mib_max.max(figures.rss_mib_max);
    }
    bench.results.scorecard = Some(figures);
    Ok(())
}

/// Phase `country`: fills in `country_*` and `country`.
pub async fn country_phase(bench: &mut Bench<'_>) -> anyhow::Result<()> {
    let provinces = bench.args.provinces;
    let scale = Scale {
        provinces,
        existing: bench.args.country_db.clone().filter(|d| !d.is_empty()),
        tag: format!("n{provinces}"),
        catalogue_path: bench
            .log_dir
            .join(format!("units-{provinces}-provinces.csv")),
        dashboard: false,
    };
    let figures = run(bench, &scale).await?;
    let results = &mut bench.results;
    results.country_report_year_ms = figures.report_year_ms;
    results.country_scorecard_year_ms = figures.scorecard_year_ms;
    if figures.load_s > 0.0 {
        results.country_year_s = figures.load_s;
        results.rss_mib_max = results.rss_mib_max.max(figures.rss_mib_max);
    }
    results.country = Some(figures);
    Ok(())
}

async fn run(bench: &Bench<'_>, scale: &Scale) -> anyhow::Result<Figures> {
    let (settings, id, keep) = (bench.settings, &bench.names.id, bench.args.keep);
    // The run's environment; `load` replaces topics, groups, database and port.
    let names = bench.names;
    let mut env = egov_env(bench.args, settings, names, &names.raw, "127.0.0.1:0")?;
    let catalogue = scale.catalogue()?;
    env.extend(scale.env());
    let ch = ClickHouse::new(&settings.clickhouse)?;
    let mut figures = Figures {
        provinces: scale.provinces,
        ..Figures::default()
    };
    let mut made = None;
    // The dashboard reads the database measured (a later entry wins).
    let mut dashboard_env = env.clone();
    let database = match &scale.existing {
        Some(database) => database.clone(),
        None => {
            let tag = &scale.tag;
            let resources = Resources {
                topics: ["raw", "curated", "dlq"]
                    .map(|t| format!("bench.{id}.{tag}.{t}"))
                    .to_vec(),
                groups: ["transform", "load"]
                    .map(|g| format!("bench.{id}.{tag}.{g}"))
                    .to_vec(),
                database: format!("egov_bench_{id}_{tag}"),
            };
            let loaded = load(bench, env, scale.provinces, &resources).await;
            let database = resources.database.clone();
            made = Some(resources);
            match loaded {
                Ok((seconds, rss_mib_max, cpu)) => {
                    figures.load_s = seconds;
                    figures.rss_mib_max = rss_mib_max;
                    figures.load_cpu = Some(cpu);
                }
                Err(error) => {
                    cleanup(settings, &ch, made.as_ref(), keep).await;
                    return Err(error);
                }
            }
            database
        }
    };
    dashboard_env.push(("EGOV__CLICKHOUSE__DATABASE".into(), database.clone()));
    let mut measured = measure(bench, scale, &catalogue, &database, &mut figures).await;
    if measured.is_ok() && scale.dashboard {
        match crate::dashboard::measure(&bench.args.egov, dashboard_env, &bench.log_dir).await {
            Ok(dashboard) => figures.dashboard = Some(dashboard),
            Err(error) => measured = Err(error),
        }
    }
    cleanup(settings, &ch, made.as_ref(), keep).await;
    measured?;
    figures.database = database;
    Ok(figures)
}

/// Pushes the scenario of `provinces` provinces through `egov run` and waits
/// until ClickHouse has it all: the seconds that took (`province_year_s`,
/// `country_year_s`), the process's peak RSS, and the CPU each process used
/// meanwhile.
async fn load(
    bench: &Bench<'_>,
    mut env: Vec<(String, String)>,
    provinces: u16,
    resources: &Resources,
) -> anyhow::Result<(f64, f64, crate::cpu::ProcessCpu)> {
    let (egov_binary, settings) = (&bench.args.egov, bench.settings);
    let ch = ClickHouse::new(&settings.clickhouse)?;
    let address = format!("127.0.0.1:{}", free_port()?);
    // Later entries win: this phase's topics, groups, database and port.
    for (key, value) in [
        ("EGOV__KAFKA__RAW_TOPIC", resources.topics[0].clone()),
        ("EGOV__KAFKA__CURATED_TOPIC", resources.topics[1].clone()),
        ("EGOV__KAFKA__DLQ_TOPIC", resources.topics[2].clone()),
        ("EGOV__KAFKA__TRANSFORM_GROUP", resources.groups[0].clone()),
        ("EGOV__KAFKA__LOAD_GROUP", resources.groups[1].clone()),
        ("EGOV__CLICKHOUSE__DATABASE", resources.database.clone()),
        ("EGOV__INGEST__LISTEN", address.clone()),
    ] {
        env.push((key.to_owned(), value));
    }
    say(format!(
        "scorecard: generating the 2021 scenario of {provinces} province(s)"
    ));
    let scenario = Arc::new(Report2021::generate_provinces(DEFAULT_SEED, provinces)?);
    let distinct = scenario.composition().distinct_events * u64::from(provinces);
    let log = bench.log_dir.join(if provinces > 1 {
        format!("egov-run-2021-{provinces}-provinces.log")
    } else {
        "egov-run-2021.log".to_owned()
    });
    say(format!(
        "scorecard: starting {} run on {address} (log {})",
        egov_binary.display(),
        log.display()
    ));
    let mut process = egov::EgovProcess::spawn(egov_binary, "run", &env, address.clone(), &log)?;
    process.wait_ready(Duration::from_secs(90)).await?;
    let started = Instant::now();
    let window = crate::cpu::Window::start(process.pid);
    let options = PushOptions {
        concurrency: 4,
        ..PushOptions::default()
    };
    let stats = push(
        &Target::local(format!("http://{address}")),
        scenario.batches(2_000, false),
        &options,
    )
    .await?;
    drop(scenario);
    say(format!(
        "scorecard: {} events accepted in {:.1?}; waiting for {distinct} distinct rows",
        stats.accepted,
        started.elapsed()
    ));
    // `count()` is cheap (the parts' row counts); the distinct count with
    // FINAL reads every key, so it is asked only once the rows could be there.
    let table = format!("{}.events", ident(&resources.database));
    let (rows, distinct_rows) = (
        format!("SELECT count() FROM {table}"),
        format!("SELECT count() FROM {table} FINAL"),
    );
    let limit = Duration::from_secs(900 + 240 * u64::from(provinces - 1));
    loop {
        if ch.number(None, &rows).await.unwrap_or(0) >= distinct
            && ch.number(None, &distinct_rows).await.unwrap_or(0) >= distinct
        {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < limit,
            "the 2021 scenario is not all in ClickHouse after {limit:?}"
        );
        let poll = if provinces > 1 { 2_000 } else { 500 };
        tokio::time::sleep(Duration::from_millis(poll)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = window.end();
    say(format!(
        "scorecard: CPU meanwhile, s: egov run {:.1}, the sender {:.1}, Kafka {:.1}, ClickHouse {:.1}; all CPUs busy {:.1} of {:.1}",
        cpu.egov_run_s,
        cpu.sender_s,
        cpu.kafka_s,
        cpu.clickhouse_s,
        cpu.machine_s,
        cpu.wall_s * std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64)
    ));
    let memory = process.stop().await?;
    Ok((seconds, memory.hwm_kib as f64 / 1024.0, cpu))
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

async fn measure(
    bench: &Bench<'_>,
    scale: &Scale,
    catalogue: &Catalogue,
    database: &str,
    figures: &mut Figures,
) -> anyhow::Result<()> {
    let (egov_binary, settings) = (&bench.args.egov, bench.settings);
    let ch = &bench.ch;
    ch.quiesce(Duration::from_secs(60)).await;
    figures.events = ch
        .number(
            None,
            &format!("SELECT count() FROM {}.events", ident(database)),
        )
        .await?;
    let mut config = settings.clickhouse.clone();
    config.database = database.to_owned();
    let client = egov_runtime::clickhouse::query_client(&config)?;
    let from = chrono::NaiveDate::from_ymd_opt(2021, 1, 1).context("date")?;
    let to = chrono::NaiveDate::from_ymd_opt(2021, 12, 31).context("date")?;
    let request = ScorecardRequest {
        from,
        to,
        level: None,
    };
    let report = ReportRequest {
        from,
        to,
        unit: None,
    };
    let process = || -> anyhow::Result<Duration> {
        let started = Instant::now();
        let output = Command::new(egov_binary)
            .args(["scorecard", "--from", "2021-01-01", "--to", "2021-12-31"])
            .args(["--format", "json"])
            .env_remove("EGOV_CONFIG")
            .env("EGOV__CLICKHOUSE__URL", &config.url)
            .env("EGOV__CLICKHOUSE__USER", &config.user)
            .env("EGOV__CLICKHOUSE__PASSWORD", config.password.expose())
            .env("EGOV__CLICKHOUSE__DATABASE", database)
            .envs(scale.env())
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()?;
        let elapsed = started.elapsed();
        anyhow::ensure!(output.status.success(), "egov scorecard failed");
        Ok(elapsed)
    };
    for round in 0..=RUNS {
        let scorecard_process = process()?;
        let started = Instant::now();
        let card = egov_analytics::scorecard::scorecard(
            &client,
            database,
            catalogue,
            &request,
            &settings.scorecard,
        )
        .await?;
        let scorecard_query = started.elapsed();
        let started = Instant::now();
        egov_analytics::report_on(&client, database, &report).await?;
        let report_elapsed = started.elapsed();
        anyhow::ensure!(card.units.len() >= catalogue.len());
        // The first round warms caches and connections.
        if round > 0 {
            figures.runs.push(Run {
                scorecard_process_ms: ms(scorecard_process),
                scorecard_query_ms: ms(scorecard_query),
                report_ms: ms(report_elapsed),
            });
        }
    }
    let of = |f: fn(&Run) -> f64| median(&figures.runs.iter().map(f).collect::<Vec<_>>());
    figures.scorecard_year_ms = of(|r| r.scorecard_process_ms);
    figures.scorecard_year_query_ms = of(|r| r.scorecard_query_ms);
    figures.report_year_ms = of(|r| r.report_ms);
    say(format!(
        "scorecard ({} province(s)): {} rows; egov scorecard for 2021 {:.0} ms (the queries {:.0} ms), egov report {:.0} ms",
        scale.provinces,
        figures.events,
        figures.scorecard_year_ms,
        figures.scorecard_year_query_ms,
        figures.report_year_ms
    ));
    if scale.provinces > 1 {
        figures.provinces_equal = provinces_equal(&config, scale.provinces, &report).await?;
    }
    Ok(())
}

/// Every province's report for the year (`--unit` its root) equals
/// province 1's: the same mix, each with its own units. An error otherwise.
async fn provinces_equal(
    config: &ClickHouseConfig,
    provinces: u16,
    year: &ReportRequest,
) -> anyhow::Result<bool> {
    let root = Catalogue::embedded()?
        .units()
        .find(|u| u.parent_code.is_none())
        .map(|u| u.code.clone())
        .context("the catalogue has no root")?;
    let report_of = |province: u16| {
        let request = ReportRequest {
            unit: Some(unit_code(&root, province).into_owned()),
            ..year.clone()
        };
        async move { egov_analytics::report(config, &request).await }
    };
    let first = serde_json::to_value(report_of(1).await?)?;
    anyhow::ensure!(
        first["documents"]["total"]["incoming"].as_u64() > Some(0),
        "province 1 has no documents in 2021"
    );
    for province in 2..=provinces {
        let other = serde_json::to_value(report_of(province).await?)?;
        anyhow::ensure!(
            other == first,
            "province {province}'s report for 2021 differs from province 1's: {other} against {first}"
        );
    }
    say(format!(
        "scorecard: the report for 2021 of each of the {provinces} provinces equals province 1's"
    ));
    Ok(true)
}

async fn cleanup(settings: &Settings, ch: &ClickHouse, made: Option<&Resources>, keep: bool) {
    let Some(resources) = made else { return };
    if keep {
        say(format!(
            "scorecard: keeping database {} (BENCH_SCORECARD_DB={0} measures it again) and topics {:?}",
            resources.database, resources.topics
        ));
        return;
    }
    let drop = format!("DROP DATABASE IF EXISTS {}", ident(&resources.database));
    if let Err(error) = ch.execute(&drop).await {
        say(format!("scorecard cleanup: {error:#}"));
    }
    let admin: Result<AdminClient<DefaultClientContext>, _> =
        egov_runtime::kafka::client_config(&settings.kafka).create();
    if let Ok(admin) = admin {
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        let topics: Vec<&str> = resources.topics.iter().map(String::as_str).collect();
        let groups: Vec<&str> = resources.groups.iter().map(String::as_str).collect();
        if let Err(error) = admin.delete_topics(&topics, &options).await {
            say(format!("scorecard cleanup: {error}"));
        }
        let _ = admin.delete_groups(&groups, &options).await;
    }
}
