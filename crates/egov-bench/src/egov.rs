//! `egov run` / `egov ingest` as a separate process, its environment, and
//! its memory sampled from /proc.

use crate::args::Args;
use crate::names::Names;
use anyhow::{bail, Context};
use egov_runtime::config::Settings;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often VmRSS is read.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

pub struct EgovProcess {
    child: Child,
    pub pid: u32,
    pub ingest_addr: String,
    started: Instant,
    samples: Arc<Mutex<Vec<(Duration, u64)>>>,
    stop_sampling: Arc<AtomicBool>,
    sampler: Option<JoinHandle<()>>,
}

/// Memory of the process: the kernel's high-water mark and the sampled RSS.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Memory {
    /// VmHWM just before the stop: the peak resident set since the start.
    pub hwm_kib: u64,
    /// Every VmRSS sample: milliseconds since the start, KiB.
    #[serde(skip)]
    pub samples: Vec<(Duration, u64)>,
}

impl Memory {
    /// The largest sampled VmRSS between two times since the start.
    pub fn max_rss_kib(&self, from: Duration, to: Duration) -> u64 {
        self.samples
            .iter()
            .filter(|(at, _)| *at >= from && *at <= to)
            .map(|(_, kib)| *kib)
            .max()
            .unwrap_or(0)
    }
}

/// CPU time (user + system) a process has used since it started, from
/// /proc/PID/stat (`self` for this one), in seconds.
pub fn cpu_secs(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name (which may hold spaces), from the 3rd on.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on Linux.
    Some(ticks as f64 / 100.0)
}

/// A field of /proc/PID/status in KiB (`VmRSS`, `VmHWM`).
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

impl EgovProcess {
    /// Starts `egov <command>` (`run`, `ingest`) with `env` added to this process's environment (minus
    /// `EGOV_CONFIG` and `RUST_LOG`, so the defaults and the development tokens
    /// apply), its output to `log`.
    pub fn spawn(
        egov: &Path,
        command: &str,
        env: &[(String, String)],
        ingest_addr: String,
        log: &Path,
    ) -> anyhow::Result<Self> {
        let out = std::fs::File::create(log).with_context(|| log.display().to_string())?;
        let err = out.try_clone()?;
        let child = Command::new(egov)
            .arg(command)
            .env_remove("EGOV_CONFIG")
            .env_remove("RUST_LOG")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("starting {} {command}", egov.display()))?;
        let pid = child.id();
        let started = Instant::now();
        let samples = Arc::new(Mutex::new(Vec::new()));
        let stop_sampling = Arc::new(AtomicBool::new(false));
        let sampler = std::thread::spawn({
            let (samples, stop) = (samples.clone(), stop_sampling.clone());
            move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(kib) = status_kib(pid, "VmRSS") {
                        if let Ok(mut samples) = samples.lock() {
                            samples.push((started.elapsed(), kib));
                        }
                    }
                    std::thread::sleep(SAMPLE_EVERY);
                }
            }
        });
        Ok(Self {
            child,
            pid,
            ingest_addr,
            started,
            samples,
            stop_sampling,
            sampler: Some(sampler),
        })
    }

    /// CPU seconds the process has used so far.
    pub fn cpu_secs(&self) -> f64 {
        cpu_secs(&self.pid.to_string()).unwrap_or(f64::NAN)
    }

    /// Time since the process was started.
    pub fn since_start(&self) -> Duration {
        self.started.elapsed()
    }

    /// Waits until `/readyz` answers 200 (Kafka, ClickHouse and the catalogue checked).
    pub async fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let url = format!("http://{}/readyz", self.ingest_addr);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("egov exited with {status} before it was ready (see its log)");
            }
            if let Ok(response) = http.get(&url).send().await {
                if response.status().is_success() {
                    return Ok(());
                }
            }
            if started.elapsed() > timeout {
                bail!("egov not ready at {url} after {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Reads the peak memory, then stops the process with SIGTERM (SIGKILL
    /// after 30 s) and returns its memory.
    pub async fn stop(mut self) -> anyhow::Result<Memory> {
        let hwm_kib = status_kib(self.pid, "VmHWM").unwrap_or(0);
        self.stop_sampling.store(true, Ordering::Relaxed);
        if let Some(sampler) = self.sampler.take() {
            let _ = sampler.join();
        }
        let samples = self.samples.lock().map(|s| s.clone()).unwrap_or_default();
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait()? {
                if !status.success() {
                    eprintln!("egov-bench: egov ended with {status}");
                }
                break;
            }
            if Instant::now() > deadline {
                eprintln!("egov-bench: egov did not stop within 30 s; killing it");
                let _ = self.child.kill();
                let _ = self.child.wait();
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Memory { hwm_kib, samples })
    }
}

impl Drop for EgovProcess {
    fn drop(&mut self) {
        self.stop_sampling.store(true, Ordering::Relaxed);
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A free TCP port on the loopback interface.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The environment of an `egov` process under test.
pub fn egov_env(
    args: &Args,
    settings: &Settings,
    names: &Names,
    raw_topic: &str,
    ingest_addr: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut child = settings.clone();
    child.kafka.raw_topic = raw_topic.to_owned();
    child.kafka.curated_topic.clone_from(&names.curated);
    child.kafka.dlq_topic.clone_from(&names.dlq);
    child
        .kafka
        .transform_group
        .clone_from(&names.transform_group);
    child.kafka.load_group.clone_from(&names.load_group);
    child.clickhouse.database.clone_from(&names.pipeline_db);
    child.ingest.listen = ingest_addr.to_owned();
    child.transform.listen = format!("127.0.0.1:{}", free_port()?);
    child.load.listen = format!("127.0.0.1:{}", free_port()?);
    let mut env = child.to_env();
    // The development tokens (crate::ingest uses them).
    env.push(("EGOV__INGEST__DEV_TOKENS".to_owned(), "true".to_owned()));
    for extra in args.egov_env.iter().filter(|e| !e.trim().is_empty()) {
        let (key, value) = extra
            .split_once('=')
            .with_context(|| format!("BENCH_EGOV_ENV: `{extra}` is not KEY=VALUE"))?;
        env.push((key.trim().to_owned(), value.to_owned()));
    }
    Ok(env)
}
