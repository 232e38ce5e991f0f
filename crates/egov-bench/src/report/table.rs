//! The table printed at the end of a run.

use super::Results;

fn two(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.2}")
    } else {
        "-".into()
    }
}

fn one(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.0}")
    } else {
        "-".into()
    }
}

fn thousands(value: f64) -> String {
    if !value.is_finite() {
        return "-".into();
    }
    // Rates and counts of a benchmark fit an i128 by far once rounded.
    #[allow(clippy::cast_possible_truncation)]
    egov_model::format::thousands(value.round() as i128)
}

impl Results {
    pub fn table(&self) -> String {
        let met = |key: &str| {
            self.targets
                .iter()
                .find(|t| t.key == key)
                .map_or(String::new(), |t| {
                    let verdict = if t.value.is_nan() {
                        "not measured"
                    } else if t.met {
                        "met"
                    } else {
                        "MISSED"
                    };
                    format!("{} {verdict}", t.target)
                })
        };
        let f = self.freshness.as_ref();
        let mut out = String::new();
        out.push_str(&format!(
            "egov-bench {}  commit {}{}  {} cores, {:.0} GiB; CPU {:.0}% busy before the run\n",
            self.date,
            self.commit.chars().take(10).collect::<String>(),
            if self.dirty { " (dirty)" } else { "" },
            self.cores,
            self.memory_gib,
            self.cpu_busy_at_start * 100.0
        ));
        out.push_str(&format!(
            "medians of {} rounds of {} events to ingest and to Kafka, and of {} curated rows to load; {} s of freshness;\nrequests of {} events, {} clients; raw event {:.0} B, curated {:.0} B\n\n",
            self.sizes.rounds, self.sizes.events, self.sizes.load_rows, self.sizes.fresh_secs, self.batch_size, self.clients, self.event_bytes, self.curated_event_bytes
        ));
        let rows: Vec<[String; 5]> = vec![
            [
                "egov ingest alone (HTTP, acks=all), events/s".into(),
                thousands(self.ingest_only_events_per_s),
                format!("raw produce {}", thousands(self.raw_produce_events_per_s)),
                two(self.ingest_vs_raw_produce),
                met("ingest_vs_raw_produce"),
            ],
            [
                "egov run (whole pipeline), events/s".into(),
                thousands(self.ingest_events_per_s),
                format!("raw produce {}", thousands(self.raw_produce_events_per_s)),
                two(self.run_vs_raw_produce),
                met("run_vs_raw_produce"),
            ],
            [
                "province's 2021 via egov run, s".into(),
                two(self.province_year_s),
                format!(
                    "peak RSS {} MiB",
                    one(self.scorecard.as_ref().map_or(f64::NAN, |s| s.rss_mib_max))
                ),
                String::new(),
                met("province_year_s"),
            ],
            cpu_row(self.scorecard.as_ref().and_then(|s| s.load_cpu.as_ref())),
            [
                "CPU per event, µs: ingest / transform / load".into(),
                format!(
                    "{} / {} / {}",
                    two(self.cpu_us_per_event.ingest),
                    two(self.cpu_us_per_event.transform),
                    two(self.cpu_us_per_event.load)
                ),
                format!(
                    "egov run {}, machine {}",
                    two(self.cpu_us_per_event.run),
                    two(self.cpu_us_per_event.machine)
                ),
                String::new(),
                String::new(),
            ],
            [
                "load into ClickHouse, rows/s".into(),
                thousands(self.load_rows_per_s),
                format!("Kafka engine {}", thousands(self.kafka_engine_rows_per_s)),
                two(self.load_vs_kafka_engine),
                met("load_vs_kafka_engine"),
            ],
            [
                "freshness p50 / p99 / max, ms".into(),
                format!(
                    "{} / {} / {}",
                    one(self.freshness_p50_ms),
                    one(self.freshness_p99_ms),
                    one(f.map_or(f64::NAN, |f| f.max_ms))
                ),
                format!(
                    "at {} events/s",
                    thousands(f.map_or(f64::NAN, |f| f.achieved_events_per_s))
                ),
                String::new(),
                met("freshness_p99_ms"),
            ],
            [
                "peak RSS of egov run, MiB".into(),
                one(self.rss_mib_max),
                format!("idle {}", one(self.rss_mib_idle)),
                String::new(),
                met("rss_mib_max"),
            ],
            [
                "egov ingest under abuse: peak RSS, MiB".into(),
                one(self.abuse_rss_mib_max),
                format!(
                    "idle {}",
                    one(self.abuse.as_ref().map_or(f64::NAN, |a| a.rss_mib_idle))
                ),
                String::new(),
                met("abuse_rss_mib_max"),
            ],
            [
                "  normal client meanwhile: p50 / p99, ms".into(),
                format!(
                    "{} / {}",
                    one(self.abuse.as_ref().map_or(f64::NAN, |a| a.normal_p50_ms)),
                    one(self.abuse_normal_p99_ms)
                ),
                format!(
                    "{} abusive clients",
                    self.abuse.as_ref().map_or(0, |a| a.abusive_clients)
                ),
                String::new(),
                met("abuse_normal_p99_ms"),
            ],
            [
                "egov scorecard for 2021 (2.5 M events), ms".into(),
                one(self.scorecard_year_ms),
                format!(
                    "queries {}; egov report {}",
                    one(self
                        .scorecard
                        .as_ref()
                        .map_or(f64::NAN, |s| s.scorecard_year_query_ms)),
                    one(self
                        .scorecard
                        .as_ref()
                        .map_or(f64::NAN, |s| s.report_year_ms))
                ),
                String::new(),
                met("scorecard_year_ms"),
            ],
            [
                "egov dashboard for 2021, slowest page (median of 3 cold), ms".into(),
                one(self.dashboard_first_ms_max),
                format!(
                    "slowest cold view {}; cached {}",
                    one(self
                        .scorecard
                        .as_ref()
                        .and_then(|s| s.dashboard.as_ref())
                        .map_or(f64::NAN, |d| d.first_ms_slowest)),
                    one(self.dashboard_cached_ms_max)
                ),
                String::new(),
                met("dashboard_first_ms_max"),
            ],
            [
                format!(
                    "country's 2021 via egov run ({} provinces, {} events), s",
                    self.country.as_ref().map_or(0, |c| c.provinces),
                    thousands(self.country.as_ref().map_or(f64::NAN, |c| c.events as f64))
                ),
                two(self.country_year_s),
                format!(
                    "peak RSS {} MiB",
                    one(self.country.as_ref().map_or(f64::NAN, |c| c.rss_mib_max))
                ),
                String::new(),
                String::new(),
            ],
            cpu_row(self.country.as_ref().and_then(|c| c.load_cpu.as_ref())),
            [
                "  egov report for 2021 on it, ms".into(),
                one(self.country_report_year_ms),
                String::new(),
                String::new(),
                met("country_report_year_ms"),
            ],
            [
                "  egov scorecard for 2021 on it, ms".into(),
                one(self.country_scorecard_year_ms),
                format!(
                    "queries {}",
                    one(self
                        .country
                        .as_ref()
                        .map_or(f64::NAN, |c| c.scorecard_year_query_ms))
                ),
                String::new(),
                met("country_scorecard_year_ms"),
            ],
            [
                "HTTP to ClickHouse (burst), rows/s".into(),
                thousands(self.pipeline_rows_per_s),
                String::new(),
                String::new(),
                String::new(),
            ],
        ];
        let header = ["measure", "egov", "baseline", "ratio", "target"];
        let mut widths = header.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let mut s = String::new();
            for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
                let pad = w.saturating_sub(cell.chars().count());
                if i == 0 || i == 2 || i == 4 {
                    s.push_str(cell);
                    s.push_str(&" ".repeat(pad));
                } else {
                    s.push_str(&" ".repeat(pad));
                    s.push_str(cell);
                }
                s.push_str("  ");
            }
            s.trim_end().to_owned() + "\n"
        };
        out.push_str(&line(&header.map(String::from)));
        out.push_str(&line(&widths.map(|w| "-".repeat(w))));
        for row in &rows {
            out.push_str(&line(row));
        }
        for warning in &self.warnings {
            out.push_str(&format!("\nwarning: {warning}"));
        }
        out
    }
}

/// The CPU seconds each process used while a scenario went through.
fn cpu_row(cpu: Option<&crate::cpu::ProcessCpu>) -> [String; 5] {
    let cpu = cpu.cloned().unwrap_or(crate::cpu::ProcessCpu {
        wall_s: f64::NAN,
        egov_run_s: f64::NAN,
        sender_s: f64::NAN,
        kafka_s: f64::NAN,
        clickhouse_s: f64::NAN,
        machine_s: f64::NAN,
    });
    [
        "  CPU meanwhile, s: egov run / sender / Kafka / ClickHouse".into(),
        format!(
            "{} / {} / {} / {}",
            one(cpu.egov_run_s),
            one(cpu.sender_s),
            one(cpu.kafka_s),
            one(cpu.clickhouse_s)
        ),
        format!(
            "all CPUs busy {} in {} s",
            one(cpu.machine_s),
            one(cpu.wall_s)
        ),
        String::new(),
        String::new(),
    ]
}
