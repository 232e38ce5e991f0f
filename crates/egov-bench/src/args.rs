//! The command line (and `BENCH_*` variables) of the benchmark.

use clap::Parser;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "egov-bench",
    about = "Throughput, freshness and memory of egov against raw Kafka produce and ClickHouse's Kafka engine"
)]
pub struct Args {
    /// Events sent to ingest at full speed, and produced straight to Kafka.
    #[arg(long, env = "BENCH_EVENTS", default_value_t = 300_000)]
    pub events: usize,
    /// Curated rows loaded by egov load and by the Kafka engine.
    #[arg(long, env = "BENCH_LOAD_ROWS", default_value_t = 1_000_000)]
    pub load_rows: usize,
    /// Seconds of offered load at half the ingest rate, for freshness.
    #[arg(long, env = "BENCH_FRESH_SECS", default_value_t = 30)]
    pub fresh_secs: u64,
    /// At most this many events in the freshness phase (it ends sooner then).
    #[arg(long, env = "BENCH_FRESH_MAX_EVENTS", default_value_t = 1_500_000)]
    pub fresh_max_events: usize,
    /// Fraction of the measured ingest rate offered in the freshness phase.
    #[arg(long, env = "BENCH_FRESH_LOAD", default_value_t = 0.5)]
    pub fresh_load: f64,
    /// Events per request (and per raw-produce batch).
    #[arg(long, env = "BENCH_BATCH", default_value_t = 500)]
    pub batch: usize,
    /// Concurrent HTTP clients (and raw-produce batches in flight).
    #[arg(long, env = "BENCH_CLIENTS", default_value_t = 8)]
    pub clients: usize,
    /// How often ClickHouse is asked which events are visible (freshness).
    #[arg(long, env = "BENCH_POLL_MS", default_value_t = 50)]
    pub poll_ms: u64,
    /// The egov binary under test.
    #[arg(long, env = "BENCH_EGOV", default_value = "target/release/egov")]
    pub egov: PathBuf,
    /// Where the results go (and the log of `egov run`, beside it).
    #[arg(long, env = "BENCH_OUT", default_value = "target/bench/results.json")]
    pub out: PathBuf,
    /// Rounds of each throughput measurement; the figures are their medians.
    #[arg(long, env = "BENCH_ROUNDS", default_value_t = 3)]
    pub rounds: usize,
    /// Seconds of abuse: `egov ingest` with its defaults, worst-case bodies.
    #[arg(long, env = "BENCH_ABUSE_SECS", default_value_t = 20)]
    pub abuse_secs: u64,
    /// Clients sending worst-case bodies during the abuse phase.
    #[arg(long, env = "BENCH_ABUSE_CLIENTS", default_value_t = 64)]
    pub abuse_clients: usize,
    /// Phases to run, comma-separated: raw (raw produce), alone (`egov
    /// ingest` alone), run (`egov run`: ingest, freshness, memory), abuse
    /// (`egov ingest` under worst-case bodies), load (egov load and the
    /// Kafka engine), scorecard (the 2021 scenario through `egov run`, then
    /// `egov scorecard` for the year), country (the same sent by
    /// `--provinces` provinces: about 25 million events for 10, 15 minutes
    /// or more on 2 cores, then `egov report` and `egov scorecard`).
    #[arg(
        long,
        env = "BENCH_PHASES",
        default_value = "raw,alone,run,abuse,load,scorecard,country",
        value_delimiter = ','
    )]
    pub phases: Vec<String>,
    /// Provinces of the `country` phase, each sending the 2021 scenario
    /// with unit codes of its own.
    #[arg(long, env = "BENCH_PROVINCES", default_value_t = 10,
          value_parser = clap::value_parser!(u16).range(2..=i64::from(egov_scenario::provinces::MAX_PROVINCES)))]
    pub provinces: u16,
    /// A database that already holds the `country` phase's scenario (one
    /// kept with `--keep`): measured without loading it again.
    #[arg(long, env = "BENCH_COUNTRY_DB")]
    pub country_db: Option<String>,
    /// Extra environment of the `egov` processes under test, KEY=VALUE
    /// (comma-separated in the variable), for experiments such as another
    /// allocator (`LD_PRELOAD=...`) or other settings (`EGOV__...`).
    #[arg(long, env = "BENCH_EGOV_ENV", value_delimiter = ',')]
    pub egov_env: Vec<String>,
    /// Keep the topics and databases of the run (for inspection).
    #[arg(long)]
    pub keep: bool,
}

impl Args {
    pub fn wants(&self, phase: &str) -> bool {
        self.phases.iter().any(|p| p.trim() == phase)
    }
}
