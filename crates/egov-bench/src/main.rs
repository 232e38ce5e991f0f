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
//! 6. the province's year: the 2021 scenario (about 2.5 M events) through
//!    `egov run`, from the first request until every event is visible, then
//!    `egov scorecard` and every page of `egov dashboard` for the year on it;
//! 7. the country's year: the same sent by N provinces (10: about 25 M
//!    events), then `egov report` and `egov scorecard` for the year;
//!
//! and the CPU time per event of each stage;
//!
//! then prints a table and writes `target/bench/results.json`. Every topic,
//! consumer group and database it makes has a name unique to the run and is
//! removed at the end.
//!
//! One module per measured thing, each with a `phase` that fills in its
//! figures of the results: `throughput` (1), `load` (2), `freshness` (3 and
//! 4), `abuse` (5), `scorecard` (6 and 7); `main` only wires them. The tools they share: `bench`
//! (what every phase gets), `events` (the events sent), `ingest` (HTTP
//! clients), `produce` (raw Kafka produce), `egov` (the process under test),
//! `ch` (ClickHouse), `names` (the run's resources) and `report` (the
//! results).

mod abuse;
mod args;
mod bench;
mod ch;
mod cpu;
mod dashboard;
mod egov;
mod events;
mod freshness;
mod ingest;
mod load;
mod names;
mod produce;
mod report;
mod scorecard;
mod throughput;

use anyhow::Context;
use args::Args;
use bench::Bench;
use clap::Parser;
use egov_runtime::config::Settings;
use names::Names;
use report::Results;

fn say(message: impl AsRef<str>) {
    eprintln!(
        "[{}] {}",
        chrono::Utc::now().format("%H:%M:%S"),
        message.as_ref()
    );
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
    } else if let Err(error) = names::cleanup(&settings, &names).await {
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

/// The phases asked for, in this order.
async fn run(args: &Args, settings: &Settings, names: &Names) -> anyhow::Result<Results> {
    let mut bench = Bench::new(args, settings, names).await?;
    // 1. Rounds of raw produce, `egov ingest` alone, `egov run` (and its drain).
    let pipeline = throughput::phase(&mut bench).await?;
    // 3-4. Freshness at a share of the measured rate, then memory of `egov run`.
    if let Some(pipeline) = pipeline {
        freshness::phase(&mut bench, pipeline).await?;
    }
    // 5. `egov ingest` with its defaults under abuse.
    if args.wants("abuse") {
        abuse::phase(&mut bench).await?;
    }
    // 2. Load against the Kafka engine, on the same curated messages.
    if args.wants("load") {
        load::phase(&mut bench).await?;
    }
    // 6. `egov scorecard` for a year of the province (its own `egov run` and database).
    if args.wants("scorecard") {
        scorecard::phase(&mut bench).await?;
    }
    // 7. The same for N provinces at once (their own `egov run` and database).
    if args.wants("country") {
        scorecard::country_phase(&mut bench).await?;
    }
    let mut results = bench.results;
    results.finish();
    Ok(results)
}
