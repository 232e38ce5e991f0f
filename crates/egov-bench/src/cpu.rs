//! Where the CPU goes while a scenario goes through the pipeline: the CPU
//! seconds of each process that takes part, read from /proc at the start and
//! the end of the same window. On this 2-core machine a time target can only
//! be met if their sum, over two, fits in it; the split says which process
//! would have to give.

use crate::egov::cpu_secs;
use crate::report::cpu_jiffies;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

/// CPU seconds of each process over one window.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProcessCpu {
    pub wall_s: f64,
    /// `egov run`: ingest, transform and load in one process.
    pub egov_run_s: f64,
    /// This process: the HTTP client sending the scenario.
    pub sender_s: f64,
    /// The local Kafka broker (and whatever else uses it meanwhile).
    pub kafka_s: f64,
    /// The local ClickHouse server: inserts, the rollups' views, merges (and
    /// whatever else uses it meanwhile).
    pub clickhouse_s: f64,
    /// Every CPU of the machine busy with anything, this run or not.
    pub machine_s: f64,
}

/// The readings at the start of a window.
pub struct Window {
    at: Instant,
    egov_pid: String,
    start: ProcessCpu,
}

impl Window {
    pub fn start(egov_pid: u32) -> Self {
        let egov_pid = egov_pid.to_string();
        let start = reading(&egov_pid);
        Self {
            at: Instant::now(),
            egov_pid,
            start,
        }
    }

    /// What each process used since [`Window::start`].
    pub fn end(&self) -> ProcessCpu {
        let now = reading(&self.egov_pid);
        ProcessCpu {
            wall_s: self.at.elapsed().as_secs_f64(),
            egov_run_s: now.egov_run_s - self.start.egov_run_s,
            sender_s: now.sender_s - self.start.sender_s,
            kafka_s: now.kafka_s - self.start.kafka_s,
            clickhouse_s: now.clickhouse_s - self.start.clickhouse_s,
            machine_s: now.machine_s - self.start.machine_s,
        }
    }
}

fn reading(egov_pid: &str) -> ProcessCpu {
    let server = |name: &str| server_pid(name).and_then(|pid| cpu_secs(&pid));
    ProcessCpu {
        wall_s: 0.0,
        egov_run_s: cpu_secs(egov_pid).unwrap_or(f64::NAN),
        sender_s: cpu_secs("self").unwrap_or(f64::NAN),
        kafka_s: server("kafka").unwrap_or(f64::NAN),
        clickhouse_s: server("clickhouse").unwrap_or(f64::NAN),
        // /proc/stat counts in USER_HZ (100 a second).
        machine_s: cpu_jiffies().map_or(f64::NAN, |(busy, _)| busy as f64 / 100.0),
    }
}

/// The pid of a server deploy/local started (`.local/run/NAME.pid`, or under
/// `EGOV_LOCAL_DIR`, as deploy/local/lib.sh writes it).
fn server_pid(name: &str) -> Option<String> {
    let dir =
        std::env::var_os("EGOV_LOCAL_DIR").map_or_else(|| PathBuf::from(".local"), PathBuf::from);
    let text = std::fs::read_to_string(dir.join("run").join(format!("{name}.pid"))).ok()?;
    Some(text.trim().to_owned())
}
