//! The results: what `results.json` holds and the table printed at the end.

mod table;

use crate::freshness::Freshness;
use serde::Serialize;
use std::process::Command;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Sizes {
    pub events: u64,
    pub load_rows: u64,
    pub fresh_secs: u64,
    pub rounds: u64,
}

/// One round of the ingest measurements, events (rows) per second.
#[derive(Debug, Clone, Serialize)]
pub struct Round {
    pub raw_produce_events_per_s: f64,
    pub ingest_only_events_per_s: f64,
    pub ingest_events_per_s: f64,
    pub pipeline_rows_per_s: f64,
    /// CPU of the `egov ingest` process per event it took.
    pub ingest_cpu_us_per_event: f64,
    /// CPU of the `egov run` process per event, from the round's first
    /// request until its last row was in ClickHouse (all three stages).
    pub run_cpu_us_per_event: f64,
    /// CPU of the whole machine per event meanwhile (Kafka, ClickHouse, the
    /// bench's clients, and any other work on the machine included).
    pub machine_cpu_us_per_event: f64,
}

impl Default for Round {
    fn default() -> Self {
        Self {
            raw_produce_events_per_s: f64::NAN,
            ingest_only_events_per_s: f64::NAN,
            ingest_events_per_s: f64::NAN,
            pipeline_rows_per_s: f64::NAN,
            ingest_cpu_us_per_event: f64::NAN,
            run_cpu_us_per_event: f64::NAN,
            machine_cpu_us_per_event: f64::NAN,
        }
    }
}

/// CPU time per event of each stage, in microseconds (medians of the rounds).
#[derive(Debug, Clone, Serialize)]
pub struct CpuPerEvent {
    /// `egov ingest` alone: HTTP, reading and checking, producing.
    pub ingest: f64,
    /// `egov_load::run` alone: consuming, decoding, inserting.
    pub load: f64,
    /// What `egov run` uses beyond those two: transform (consume, curate, produce).
    pub transform: f64,
    /// `egov run`, all three stages in one process.
    pub run: f64,
    /// The whole machine per event while `egov run` ingested and drained.
    pub machine: f64,
}

impl Default for CpuPerEvent {
    fn default() -> Self {
        Self {
            ingest: f64::NAN,
            load: f64::NAN,
            transform: f64::NAN,
            run: f64::NAN,
            machine: f64::NAN,
        }
    }
}

/// One round of the load measurements: rows per second, and seconds from
/// the start until the first rows were visible.
#[derive(Debug, Clone, Serialize)]
pub struct LoadRound {
    pub load_rows_per_s: f64,
    pub kafka_engine_rows_per_s: f64,
    pub load_first_row_s: f64,
    /// CPU of egov load per row.
    pub load_cpu_us_per_row: f64,
    pub kafka_engine_first_row_s: f64,
    pub load_all_rows_s: f64,
    pub kafka_engine_all_rows_s: f64,
}

impl Default for LoadRound {
    fn default() -> Self {
        Self {
            load_rows_per_s: f64::NAN,
            kafka_engine_rows_per_s: f64::NAN,
            load_first_row_s: f64::NAN,
            load_cpu_us_per_row: f64::NAN,
            kafka_engine_first_row_s: f64::NAN,
            load_all_rows_s: f64::NAN,
            kafka_engine_all_rows_s: f64::NAN,
        }
    }
}

/// The largest sampled VmRSS of `egov run` in each phase, MiB.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PhaseRss {
    pub start: f64,
    pub ingest_and_drain: f64,
    pub freshness: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub key: &'static str,
    pub target: String,
    pub value: f64,
    pub met: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Results {
    pub date: String,
    pub commit: String,
    /// Tracked files differed from the commit.
    pub dirty: bool,
    pub run_id: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub cpu: String,
    pub loadavg_at_start: f64,
    /// Share of all cores busy during one second before the run (other work).
    pub cpu_busy_at_start: f64,
    pub sizes: Sizes,
    pub batch_size: usize,
    pub clients: usize,
    /// Mean size of a raw event's JSON (as ingest writes it to Kafka).
    pub event_bytes: f64,
    /// Mean size of a curated event's JSON (as transform writes it).
    pub curated_event_bytes: f64,

    pub ingest_events_per_s: f64,
    pub raw_produce_events_per_s: f64,
    /// `egov ingest` alone over raw produce.
    pub ingest_vs_raw_produce: f64,
    /// `egov run` (the whole pipeline in one process) over raw produce.
    pub run_vs_raw_produce: f64,
    pub ingest_retries: u64,
    /// `egov ingest` alone (no transform and load in the process).
    pub ingest_only_events_per_s: f64,
    pub ingest_only_rss_mib_max: f64,
    /// From the first request of the ingest phase until all its rows were in ClickHouse.
    pub pipeline_rows_per_s: f64,

    pub load_rows_per_s: f64,
    pub kafka_engine_rows_per_s: f64,
    pub load_vs_kafka_engine: f64,

    pub freshness_p50_ms: f64,
    pub freshness_p99_ms: f64,
    pub freshness: Option<Freshness>,

    /// The 2021 scenario through `egov run`: first request to every event
    /// visible (phase `scorecard`, which then queries it).
    pub province_year_s: f64,
    pub cpu_us_per_event: CpuPerEvent,

    /// The peak of the `egov run` processes (throughput and freshness; the 2021 scenario).
    pub rss_mib_max: f64,
    pub rss_mib_idle: f64,
    pub rss_mib_by_phase: PhaseRss,

    /// `egov ingest` (defaults) under worst-case bodies: its peak RSS, and
    /// the p99 latency of a normal client of another token meanwhile.
    pub abuse_rss_mib_max: f64,
    pub abuse_normal_p99_ms: f64,
    pub abuse: Option<crate::abuse::Abuse>,

    /// `egov scorecard` for 2021 on the 2021 scenario (about 2.5 M events),
    /// the process from start to exit, median (phase `scorecard`).
    pub scorecard_year_ms: f64,
    pub scorecard: Option<crate::scorecard::Figures>,
    /// `egov dashboard` for 2021, every page and API call: the slowest first
    /// view (a fresh process: nothing cached) and the slowest cached view, ms
    /// (each page's in `scorecard.dashboard`).
    pub dashboard_first_ms_max: f64,
    pub dashboard_cached_ms_max: f64,

    /// The 2021 scenario sent by N provinces (phase `country`, N =
    /// `BENCH_PROVINCES`, 10: about 25 M events) through `egov run`: first
    /// request to every event visible.
    pub country_year_s: f64,
    /// `egov report` for 2021 on it (the library call), median.
    pub country_report_year_ms: f64,
    /// `egov scorecard` for 2021 on it, the process, median.
    pub country_scorecard_year_ms: f64,
    pub country: Option<crate::scorecard::Figures>,

    pub targets: Vec<Target>,
    /// Per round; the figures above are their medians.
    pub rounds: Vec<Round>,
    pub load_rounds: Vec<LoadRound>,
    /// What may make the figures less trustworthy.
    pub warnings: Vec<String>,
}

fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(f64::NAN)
}

/// (busy, total) jiffies of all CPUs since boot.
pub fn cpu_jiffies() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let values: Vec<u64> = line
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = values.iter().sum();
    // idle and iowait are the 4th and 5th fields.
    let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// The share of the machine's CPU time that was busy during one second.
pub fn cpu_busy_now() -> f64 {
    let Some((busy0, total0)) = cpu_jiffies() else {
        return f64::NAN;
    };
    std::thread::sleep(std::time::Duration::from_secs(1));
    match cpu_jiffies() {
        Some((busy1, total1)) if total1 > total0 => {
            (busy1 - busy0) as f64 / (total1 - total0) as f64
        }
        _ => f64::NAN,
    }
}

fn meminfo_gib() -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0 / 1024.0)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_default()
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        f64::NAN
    }
}

impl Results {
    pub fn new(batch_size: usize, clients: usize) -> anyhow::Result<Self> {
        Ok(Self {
            date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            commit: command_output("git", &["rev-parse", "HEAD"]).unwrap_or_default(),
            dirty: command_output("git", &["diff", "--quiet", "HEAD"]).is_none(),
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            memory_gib: meminfo_gib(),
            cpu: cpu_model(),
            loadavg_at_start: loadavg(),
            cpu_busy_at_start: cpu_busy_now(),
            batch_size,
            clients,
            ingest_events_per_s: f64::NAN,
            raw_produce_events_per_s: f64::NAN,
            ingest_only_events_per_s: f64::NAN,
            ingest_only_rss_mib_max: f64::NAN,
            pipeline_rows_per_s: f64::NAN,
            load_rows_per_s: f64::NAN,
            kafka_engine_rows_per_s: f64::NAN,
            freshness_p50_ms: f64::NAN,
            freshness_p99_ms: f64::NAN,
            province_year_s: f64::NAN,
            rss_mib_max: f64::NAN,
            rss_mib_idle: f64::NAN,
            abuse_rss_mib_max: f64::NAN,
            scorecard_year_ms: f64::NAN,
            dashboard_first_ms_max: f64::NAN,
            dashboard_cached_ms_max: f64::NAN,
            country_year_s: f64::NAN,
            country_report_year_ms: f64::NAN,
            country_scorecard_year_ms: f64::NAN,
            abuse_normal_p99_ms: f64::NAN,
            ..Self::default()
        })
    }

    /// Ratios, the freshness keys, the targets and the warnings.
    pub fn finish(&mut self) {
        if self.ingest_retries > 0 {
            self.warnings.push(format!(
                "{} requests were answered 429/503 or failed and were sent again: Kafka or ClickHouse may have been unavailable during the run",
                self.ingest_retries
            ));
        }
        if self.cpu_busy_at_start > 0.2 {
            self.warnings.push(format!(
                "{:.0}% of the CPU was busy with other work just before the run; the figures shared the machine with it",
                self.cpu_busy_at_start * 100.0
            ));
        }
        self.ingest_vs_raw_produce =
            ratio(self.ingest_only_events_per_s, self.raw_produce_events_per_s);
        self.run_vs_raw_produce = ratio(self.ingest_events_per_s, self.raw_produce_events_per_s);
        let cpu = &mut self.cpu_us_per_event;
        cpu.transform = cpu.run - cpu.ingest - cpu.load;
        self.load_vs_kafka_engine = ratio(self.load_rows_per_s, self.kafka_engine_rows_per_s);
        if let Some(f) = &self.freshness {
            self.freshness_p50_ms = f.p50_ms;
            self.freshness_p99_ms = f.p99_ms;
        }
        // A figure not measured (NaN) meets no target.
        let at_least = |key, target: f64, value: f64| Target {
            key,
            target: format!(">= {target}"),
            value,
            met: value >= target,
        };
        let at_most = |key, target: f64, value: f64| Target {
            key,
            target: format!("<= {target}"),
            value,
            met: value <= target,
        };
        self.targets = vec![
            at_least("ingest_vs_raw_produce", 0.9, self.ingest_vs_raw_produce),
            at_least("run_vs_raw_produce", 0.5, self.run_vs_raw_produce),
            at_most("province_year_s", 30.0, self.province_year_s),
            at_least("load_vs_kafka_engine", 1.5, self.load_vs_kafka_engine),
            at_most("freshness_p99_ms", 2000.0, self.freshness_p99_ms),
            at_most("rss_mib_max", 200.0, self.rss_mib_max),
            at_most("abuse_rss_mib_max", 300.0, self.abuse_rss_mib_max),
            at_most("abuse_normal_p99_ms", 500.0, self.abuse_normal_p99_ms),
            at_most("scorecard_year_ms", 300.0, self.scorecard_year_ms),
            at_most("dashboard_first_ms_max", 300.0, self.dashboard_first_ms_max),
            at_most(
                "country_report_year_ms",
                1000.0,
                self.country_report_year_ms,
            ),
            at_most(
                "country_scorecard_year_ms",
                2000.0,
                self.country_scorecard_year_ms,
            ),
        ];
        if let Some(abuse) = &self.abuse {
            if abuse.normal_failures > 0 {
                self.warnings.push(format!(
                    "{} of {} normal requests during the abuse were not answered 200 with every event accepted",
                    abuse.normal_failures, abuse.normal_requests
                ));
            }
        }
    }
}

/// The median of the finite values (NaN when there is none).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}
