//! `egov-bench`: the benchmark behind `deploy/local/bench.sh`. Against the
//! local Kafka and ClickHouse, in one run on one machine, it measures
//!
//! 1. ingest (`egov run`, a separate process) over HTTP against the same events
//!    produced straight to Kafka with ingest's producer settings;
//! 2. load (`egov_load::run`) against ClickHouse's Kafka engine with a
//!    materialized view, on the same curated messages;
//! 3. freshness: at half the measured ingest rate, from an event's 200 to its
//!    row in ClickHouse;
//! 4. the peak memory of `egov run`;
//! 5. `egov ingest` under abuse: its peak memory while many clients send
//!    worst-case bodies, and a normal client's latency meanwhile;
//!
//! then prints a table and writes `target/bench/results.json`. Every topic,
//! consumer group and database it makes has a name unique to the run and is
//! removed at the end.

mod abuse;
mod ch;
mod egov;
mod events;
mod ingest;
mod load;
mod produce;
mod report;

use anyhow::Context;
use ch::ClickHouse;
use clap::Parser;
use egov_common::config::Settings;
use egov_common::Catalogue;
use events::Generator;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use report::Results;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(
    name = "egov-bench",
    about = "Throughput, freshness and memory of egov against raw Kafka produce and ClickHouse's Kafka engine"
)]
struct Args {
    /// Events sent to ingest at full speed, and produced straight to Kafka.
    #[arg(long, env = "BENCH_EVENTS", default_value_t = 300_000)]
    events: usize,
    /// Curated rows loaded by egov load and by the Kafka engine.
    #[arg(long, env = "BENCH_LOAD_ROWS", default_value_t = 1_000_000)]
    load_rows: usize,
    /// Seconds of offered load at half the ingest rate, for freshness.
    #[arg(long, env = "BENCH_FRESH_SECS", default_value_t = 30)]
    fresh_secs: u64,
    /// At most this many events in the freshness phase (it ends sooner then).
    #[arg(long, env = "BENCH_FRESH_MAX_EVENTS", default_value_t = 1_500_000)]
    fresh_max_events: usize,
    /// Fraction of the measured ingest rate offered in the freshness phase.
    #[arg(long, env = "BENCH_FRESH_LOAD", default_value_t = 0.5)]
    fresh_load: f64,
    /// Events per request (and per raw-produce batch).
    #[arg(long, env = "BENCH_BATCH", default_value_t = 500)]
    batch: usize,
    /// Concurrent HTTP clients (and raw-produce batches in flight).
    #[arg(long, env = "BENCH_CLIENTS", default_value_t = 8)]
    clients: usize,
    /// How often ClickHouse is asked which events are visible (freshness).
    #[arg(long, env = "BENCH_POLL_MS", default_value_t = 50)]
    poll_ms: u64,
    /// The egov binary under test.
    #[arg(long, env = "BENCH_EGOV", default_value = "target/release/egov")]
    egov: PathBuf,
    /// Where the results go (and the log of `egov run`, beside it).
    #[arg(long, env = "BENCH_OUT", default_value = "target/bench/results.json")]
    out: PathBuf,
    /// Rounds of each throughput measurement; the figures are their medians.
    #[arg(long, env = "BENCH_ROUNDS", default_value_t = 3)]
    rounds: usize,
    /// Seconds of abuse: `egov ingest` with its defaults, worst-case bodies.
    #[arg(long, env = "BENCH_ABUSE_SECS", default_value_t = 20)]
    abuse_secs: u64,
    /// Clients sending worst-case bodies during the abuse phase.
    #[arg(long, env = "BENCH_ABUSE_CLIENTS", default_value_t = 64)]
    abuse_clients: usize,
    /// Phases to run, comma-separated: raw (raw produce), alone (`egov
    /// ingest` alone), run (`egov run`: ingest, freshness, memory), abuse
    /// (`egov ingest` under worst-case bodies), load (egov load and the
    /// Kafka engine).
    #[arg(
        long,
        env = "BENCH_PHASES",
        default_value = "raw,alone,run,abuse,load",
        value_delimiter = ','
    )]
    phases: Vec<String>,
    /// Extra environment of the `egov` processes under test, KEY=VALUE
    /// (comma-separated in the variable), for experiments such as another
    /// allocator (`LD_PRELOAD=...`) or other settings (`EGOV__...`).
    #[arg(long, env = "BENCH_EGOV_ENV", value_delimiter = ',')]
    egov_env: Vec<String>,
    /// Keep the topics and databases of the run (for inspection).
    #[arg(long)]
    keep: bool,
}

impl Args {
    fn wants(&self, phase: &str) -> bool {
        self.phases.iter().any(|p| p.trim() == phase)
    }
}

/// Names of everything the run creates.
#[derive(Debug, Clone)]
pub struct Names {
    pub id: String,
    pub raw: String,
    pub curated: String,
    pub dlq: String,
    pub produce: String,
    pub ingest_only: String,
    pub abuse: String,
    pub load_topic: String,
    pub engine_topic: String,
    pub transform_group: String,
    pub load_group: String,
    pub pipeline_db: String,
    pub rounds: usize,
}

impl Names {
    fn new(rounds: usize) -> Self {
        let id = format!(
            "{:x}{:04x}",
            chrono::Utc::now().timestamp(),
            rand::random::<u16>()
        );
        let topic = |what: &str| format!("bench.{id}.{what}");
        Self {
            raw: topic("raw"),
            curated: topic("curated"),
            dlq: topic("dlq"),
            produce: topic("produce"),
            ingest_only: topic("ingest-only"),
            abuse: topic("abuse"),
            load_topic: topic("load"),
            engine_topic: topic("engine"),
            transform_group: topic("transform"),
            load_group: topic("pipeline-load"),
            pipeline_db: format!("egov_bench_{id}"),
            rounds,
            id,
        }
    }

    fn topics(&self) -> Vec<&str> {
        vec![
            &self.raw,
            &self.curated,
            &self.dlq,
            &self.produce,
            &self.ingest_only,
            &self.abuse,
            &self.load_topic,
            &self.engine_topic,
        ]
    }

    fn load_group_of(&self, round: usize) -> String {
        format!("bench.{}.load{round}", self.id)
    }

    fn engine_group_of(&self, round: usize) -> String {
        format!("bench.{}.engine{round}", self.id)
    }

    fn load_db(&self, round: usize) -> String {
        format!("egov_bench_{}_load{round}", self.id)
    }

    fn engine_db(&self, round: usize) -> String {
        format!("egov_bench_{}_engine{round}", self.id)
    }

    fn groups(&self) -> Vec<String> {
        let mut groups = vec![self.transform_group.clone(), self.load_group.clone()];
        for round in 0..self.rounds {
            groups.push(self.load_group_of(round));
            groups.push(self.engine_group_of(round));
        }
        groups
    }

    fn databases(&self) -> Vec<String> {
        let mut databases = vec![self.pipeline_db.clone()];
        for round in 0..self.rounds {
            databases.push(self.load_db(round));
            databases.push(self.engine_db(round));
        }
        databases
    }
}

fn say(message: impl AsRef<str>) {
    eprintln!(
        "[{}] {}",
        chrono::Utc::now().format("%H:%M:%S"),
        message.as_ref()
    );
}

/// A free TCP port on the loopback interface.
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // Brokers and ClickHouse as the services see them (EGOV__* variables).
    let settings = Settings::load(None)?;
    let names = Names::new(args.rounds.max(1));
    say(format!("run {}", names.id));
    let outcome = run(&args, &settings, &names).await;
    if args.keep {
        say(format!(
            "keeping topics {:?} and databases {:?}",
            names.topics(),
            names.databases()
        ));
    } else if let Err(error) = cleanup(&settings, &names).await {
        say(format!("cleanup: {error:#}"));
    }
    let results = outcome?;
    println!("{}", results.table());
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.out, serde_json::to_string_pretty(&results)? + "\n")
        .with_context(|| args.out.display().to_string())?;
    say(format!("results written to {}", args.out.display()));
    Ok(())
}

/// The environment of an `egov` process under test.
fn egov_env(
    args: &Args,
    settings: &Settings,
    names: &Names,
    raw_topic: &str,
    ingest_addr: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    let kafka = &settings.kafka;
    let mut env: Vec<(String, String)> = [
        ("EGOV__KAFKA__BROKERS", kafka.brokers.clone()),
        ("EGOV__KAFKA__RAW_TOPIC", raw_topic.to_owned()),
        ("EGOV__KAFKA__CURATED_TOPIC", names.curated.clone()),
        ("EGOV__KAFKA__DLQ_TOPIC", names.dlq.clone()),
        (
            "EGOV__KAFKA__TRANSFORM_GROUP",
            names.transform_group.clone(),
        ),
        ("EGOV__KAFKA__LOAD_GROUP", names.load_group.clone()),
        ("EGOV__KAFKA__PARTITIONS", kafka.partitions.to_string()),
        ("EGOV__CLICKHOUSE__URL", settings.clickhouse.url.clone()),
        ("EGOV__CLICKHOUSE__USER", settings.clickhouse.user.clone()),
        (
            "EGOV__CLICKHOUSE__PASSWORD",
            settings.clickhouse.password.expose().to_owned(),
        ),
        ("EGOV__CLICKHOUSE__DATABASE", names.pipeline_db.clone()),
        ("EGOV__INGEST__LISTEN", ingest_addr.to_owned()),
        (
            "EGOV__TRANSFORM__LISTEN",
            format!("127.0.0.1:{}", free_port()?),
        ),
        ("EGOV__LOAD__LISTEN", format!("127.0.0.1:{}", free_port()?)),
        // The development tokens (crate::ingest uses them).
        ("EGOV__INGEST__DEV_TOKENS", "true".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for extra in args.egov_env.iter().filter(|e| !e.trim().is_empty()) {
        let (key, value) = extra
            .split_once('=')
            .with_context(|| format!("BENCH_EGOV_ENV: `{extra}` is not KEY=VALUE"))?;
        env.push((key.trim().to_owned(), value.to_owned()));
    }
    Ok(env)
}

fn median(values: &[f64]) -> f64 {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

async fn run(args: &Args, settings: &Settings, names: &Names) -> anyhow::Result<Results> {
    let catalogue = Catalogue::embedded()?;
    let ch = ClickHouse::new(&settings.clickhouse)?;
    let mut results = Results::new(args.batch, args.clients)?;
    results.run_id = names.id.clone();
    results.sizes = report::Sizes {
        events: args.events as u64,
        load_rows: args.load_rows as u64,
        fresh_secs: args.fresh_secs,
        rounds: args.rounds as u64,
    };
    let kafka = &settings.kafka;
    egov_common::kafka::ensure_topics(kafka, &names.topics()).await?;
    let log_dir = args.out.parent().map(PathBuf::from).unwrap_or_default();
    std::fs::create_dir_all(&log_dir)?;

    say(format!(
        "generating {} rounds of {} events",
        args.rounds, args.events
    ));
    // Every round its own event ids: the pipeline's table must count each once.
    let rounds: Vec<Arc<Vec<events::Batch>>> = (0..args.rounds)
        .map(|r| {
            Arc::new(
                Generator::new(
                    &catalogue,
                    format!("bench-{}-i{r}-", names.id),
                    10 + r as u64,
                )
                .batches(args.events, args.batch),
            )
        })
        .collect();
    results.event_bytes = events::mean_event_bytes(rounds.first().map_or(&[], |b| b.as_slice()));
    // One request per client before the first timed round of each client:
    // connections, producer and caches warm.
    let warm_up = Generator::new(&catalogue, format!("bench-{}-w-", names.id), 4)
        .batches(args.clients * args.batch, args.batch);
    let warm_events = (args.clients * args.batch) as u64;

    // The processes under test; each is started once and serves every round.
    let raw = if args.wants("raw") {
        Some(produce::RawProducer::new(kafka, &names.produce, &warm_up).await?)
    } else {
        None
    };
    let mut alone = None;
    if args.wants("alone") {
        let address = format!("127.0.0.1:{}", free_port()?);
        let env = egov_env(args, settings, names, &names.ingest_only, &address)?;
        let log = log_dir.join("egov-ingest.log");
        say(format!(
            "starting {} ingest on {address} (log {})",
            args.egov.display(),
            log.display()
        ));
        let mut process =
            egov::EgovProcess::spawn(&args.egov, "ingest", &env, address.clone(), &log)?;
        process.wait_ready(Duration::from_secs(90)).await?;
        let sender = ingest::Sender::new(&address, args.clients)?;
        ingest::max_rate(&sender, &warm_up, Arc::new(Vec::new()), args.clients).await?;
        alone = Some((process, sender));
    }
    let mut pipeline = None;
    let mut ready_at = Duration::ZERO;
    let mut expected = 0u64;
    if args.wants("run") {
        let address = format!("127.0.0.1:{}", free_port()?);
        let env = egov_env(args, settings, names, &names.raw, &address)?;
        let log = log_dir.join("egov-run.log");
        say(format!(
            "starting {} run on {address} (log {})",
            args.egov.display(),
            log.display()
        ));
        let mut process = egov::EgovProcess::spawn(&args.egov, "run", &env, address.clone(), &log)?;
        process.wait_ready(Duration::from_secs(90)).await?;
        ready_at = process.since_start();
        tokio::time::sleep(Duration::from_secs(2)).await;
        results.rss_mib_idle = egov::status_kib(process.pid, "VmRSS").unwrap_or(0) as f64 / 1024.0;
        let sender = ingest::Sender::new(&address, args.clients)?;
        ingest::max_rate(&sender, &warm_up, Arc::new(Vec::new()), args.clients).await?;
        expected += warm_events;
        pipeline = Some((process, sender));
    }

    // 1-3. Rounds of: raw produce, `egov ingest` alone, `egov run` (and its drain).
    let mut ingest_phase = (Duration::MAX, Duration::ZERO);
    for (r, batches) in rounds.iter().enumerate() {
        let mut round = report::Round::default();
        say(format!("round {}: starting", r + 1));
        let n = args.events as f64;
        if let Some(raw) = &raw {
            ch.quiesce(Duration::from_secs(30)).await;
            let elapsed = raw
                .run(&names.produce, batches.clone(), args.clients)
                .await?;
            round.raw_produce_events_per_s = n / elapsed.as_secs_f64();
        }
        if let Some((_, sender)) = &alone {
            let elapsed = ingest::max_rate(sender, &[], batches.clone(), args.clients).await?;
            round.ingest_only_events_per_s = n / elapsed.as_secs_f64();
        }
        if let Some((process, sender)) = &pipeline {
            ch.quiesce(Duration::from_secs(30)).await;
            let from = process.since_start();
            let elapsed = ingest::max_rate(sender, &[], batches.clone(), args.clients).await?;
            let started = Instant::now() - elapsed;
            round.ingest_events_per_s = n / elapsed.as_secs_f64();
            expected += args.events as u64;
            let drained = ch
                .wait_rows(
                    &names.pipeline_db,
                    "events",
                    expected,
                    started,
                    Duration::from_millis(200),
                    Duration::from_secs(600),
                )
                .await?;
            round.pipeline_rows_per_s = n / drained.all_rows.as_secs_f64();
            ingest_phase = (ingest_phase.0.min(from), process.since_start());
        }
        say(format!(
            "round {}: raw produce {:.0}/s, egov ingest alone {:.0}/s, egov run ingest {:.0}/s (all in ClickHouse at {:.0} rows/s)",
            r + 1,
            round.raw_produce_events_per_s,
            round.ingest_only_events_per_s,
            round.ingest_events_per_s,
            round.pipeline_rows_per_s
        ));
        results.rounds.push(round);
    }
    drop(rounds);
    let of =
        |f: fn(&report::Round) -> f64| median(&results.rounds.iter().map(f).collect::<Vec<_>>());
    results.raw_produce_events_per_s = of(|r| r.raw_produce_events_per_s);
    results.ingest_only_events_per_s = of(|r| r.ingest_only_events_per_s);
    results.ingest_events_per_s = of(|r| r.ingest_events_per_s);
    results.pipeline_rows_per_s = of(|r| r.pipeline_rows_per_s);
    if let Some((process, sender)) = alone.take() {
        results.ingest_retries += sender.retries() as u64;
        results.ingest_only_rss_mib_max = process.stop().await?.hwm_kib as f64 / 1024.0;
    }

    // 4. Freshness at a fixed share of the measured rate, then memory.
    if let Some((process, sender)) = pipeline.take() {
        let distinct = ch
            .number(
                Some(&names.pipeline_db),
                "SELECT uniqExact(event_id) FROM events",
            )
            .await?;
        anyhow::ensure!(
            distinct == expected,
            "{distinct} distinct events in ClickHouse, {expected} sent"
        );
        ch.quiesce(Duration::from_secs(30)).await;
        let rate = results.ingest_events_per_s * args.fresh_load;
        let fresh_events = ((rate * args.fresh_secs as f64) as usize)
            .clamp(args.batch, args.fresh_max_events.max(args.batch));
        let prefix = format!("bench-{}-f-", names.id);
        let fresh_batches: Vec<_> = Generator::new(&catalogue, prefix.clone(), 3)
            .batches(fresh_events, args.batch)
            .into_iter()
            .map(events::Batch::body_only)
            .collect();
        say(format!(
            "freshness: {fresh_events} events offered at {rate:.0} events/s"
        ));
        let fresh_start = process.since_start();
        let freshness = ingest::freshness(
            &sender,
            &ch,
            &names.pipeline_db,
            &prefix,
            Arc::new(fresh_batches),
            args.batch,
            rate,
            Duration::from_millis(args.poll_ms),
        )
        .await?;
        let fresh_phase = (fresh_start, process.since_start());
        say(format!(
            "freshness: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} of {} events seen)",
            freshness.p50_ms,
            freshness.p99_ms,
            freshness.max_ms,
            freshness.events_seen,
            freshness.events
        ));
        results.ingest_retries += sender.retries() as u64;
        let memory = process.stop().await?;
        results.rss_mib_max = memory.hwm_kib as f64 / 1024.0;
        results.rss_mib_by_phase = report::PhaseRss {
            start: memory.max_rss_kib(Duration::ZERO, ready_at) as f64 / 1024.0,
            ingest_and_drain: memory.max_rss_kib(ingest_phase.0, ingest_phase.1) as f64 / 1024.0,
            freshness: memory.max_rss_kib(fresh_phase.0, fresh_phase.1) as f64 / 1024.0,
        };
        results.freshness = Some(freshness);
        say(format!(
            "egov run stopped; peak RSS (VmHWM) {:.0} MiB",
            results.rss_mib_max
        ));
    }

    // 5. `egov ingest` with its defaults under abuse.
    if args.wants("abuse") {
        let defaults = Settings::default().ingest;
        let bodies = abuse::bodies(&defaults)?;
        let normal = Generator::new(&catalogue, format!("bench-{}-a-", names.id), 5)
            .batches(200 * args.batch, args.batch)
            .into_iter()
            .map(events::Batch::body_only)
            .collect();
        let address = format!("127.0.0.1:{}", free_port()?);
        let env = egov_env(args, settings, names, &names.abuse, &address)?;
        let log = log_dir.join("egov-ingest-abuse.log");
        say(format!(
            "abuse: {} clients with worst-case bodies for {} s against {} ingest on {address} (log {})",
            args.abuse_clients,
            args.abuse_secs,
            args.egov.display(),
            log.display()
        ));
        let mut process =
            egov::EgovProcess::spawn(&args.egov, "ingest", &env, address.clone(), &log)?;
        process.wait_ready(Duration::from_secs(90)).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let idle = egov::status_kib(process.pid, "VmRSS").unwrap_or(0) as f64 / 1024.0;
        let mut figures = abuse::run(
            &address,
            bodies,
            normal,
            args.abuse_clients,
            args.abuse_secs,
        )
        .await?;
        figures.rss_mib_max = process.stop().await?.hwm_kib as f64 / 1024.0;
        figures.rss_mib_idle = idle;
        say(format!(
            "abuse: peak RSS {:.0} MiB; normal client p50 {:.0} ms, p99 {:.0} ms, {} of {} requests failed; abusive answers {:?}",
            figures.rss_mib_max,
            figures.normal_p50_ms,
            figures.normal_p99_ms,
            figures.normal_failures,
            figures.normal_requests,
            figures.abusive_answers
        ));
        results.abuse_rss_mib_max = figures.rss_mib_max;
        results.abuse_normal_p99_ms = figures.normal_p99_ms;
        results.abuse = Some(figures);
    }

    // 6. Load against the Kafka engine, on the same curated messages, in
    //    rounds that alternate which goes first.
    if args.wants("load") {
        say(format!(
            "load: curating {} events and filling two topics",
            args.load_rows
        ));
        let load_batches = Generator::new(&catalogue, format!("bench-{}-l-", names.id), 2)
            .batches(args.load_rows, args.batch);
        let messages = load::curated_messages(&load_batches, &catalogue)?;
        drop(load_batches);
        results.curated_event_bytes = messages.iter().map(|(_, v)| v.len()).sum::<usize>() as f64
            / messages.len().max(1) as f64;
        produce::prefill(kafka, &[&names.load_topic, &names.engine_topic], &messages).await?;
        drop(messages);
        let rows = args.load_rows as u64;
        for r in 0..args.rounds {
            let mut pair = report::LoadRound::default();
            for egov_first in [r % 2 == 0, r % 2 == 1] {
                ch.quiesce(Duration::from_secs(60)).await;
                if egov_first {
                    say(format!("load round {}: egov load", r + 1));
                    let database = names.load_db(r);
                    egov_load::migrate::migrate(
                        &egov_common::config::ClickHouseConfig {
                            database: database.clone(),
                            ..settings.clickhouse.clone()
                        },
                        &catalogue,
                    )
                    .await?;
                    let visible = load::egov_load(
                        settings,
                        &ch,
                        &names.load_topic,
                        &names.load_group_of(r),
                        &database,
                        rows,
                    )
                    .await?;
                    pair.load_rows_per_s = rows as f64 / visible.all_rows.as_secs_f64();
                    pair.load_all_rows_s = visible.all_rows.as_secs_f64();
                    pair.load_first_row_s = visible.first_row.map_or(f64::NAN, |d| d.as_secs_f64());
                } else {
                    say(format!("load round {}: Kafka engine", r + 1));
                    let visible = load::kafka_engine(
                        &ch,
                        &kafka.brokers,
                        &names.engine_topic,
                        &names.engine_group_of(r),
                        &names.engine_db(r),
                        rows,
                    )
                    .await?;
                    pair.kafka_engine_rows_per_s = rows as f64 / visible.all_rows.as_secs_f64();
                    pair.kafka_engine_all_rows_s = visible.all_rows.as_secs_f64();
                    pair.kafka_engine_first_row_s =
                        visible.first_row.map_or(f64::NAN, |d| d.as_secs_f64());
                }
            }
            say(format!(
                "load round {}: egov load {:.0} rows/s, Kafka engine {:.0} rows/s",
                r + 1,
                pair.load_rows_per_s,
                pair.kafka_engine_rows_per_s
            ));
            results.load_rounds.push(pair);
        }
        let of = |f: fn(&report::LoadRound) -> f64| {
            median(&results.load_rounds.iter().map(f).collect::<Vec<_>>())
        };
        results.load_rows_per_s = of(|r| r.load_rows_per_s);
        results.kafka_engine_rows_per_s = of(|r| r.kafka_engine_rows_per_s);
    }

    results.finish();
    Ok(results)
}

/// Drops the run's databases, then deletes its topics and consumer groups.
async fn cleanup(settings: &Settings, names: &Names) -> anyhow::Result<()> {
    let ch = ClickHouse::new(&settings.clickhouse)?;
    for database in names.databases() {
        anyhow::ensure!(
            database.starts_with("egov_bench_"),
            "not a bench database: {database}"
        );
        ch.query(None, &format!("DROP DATABASE IF EXISTS `{database}`"))
            .await?;
    }
    let admin: AdminClient<DefaultClientContext> =
        egov_common::kafka::client_config(&settings.kafka).create()?;
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    admin.delete_topics(&names.topics(), &options).await?;
    // A group is deletable once its members are gone; ClickHouse's may take a moment.
    for _ in 0..10 {
        let groups = names.groups();
        let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
        let results = admin.delete_groups(&groups, &options).await?;
        if results.iter().all(|r| match r {
            Ok(_) => true,
            Err((_, code)) => *code == rdkafka::types::RDKafkaErrorCode::GroupIdNotFound,
        }) {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(())
}
