//! `egov status`: one screen for an operator. Each service up or down and
//! ready or not (its `/healthz` and `/readyz`), and what it is (its `/status`:
//! `egov run` holds transform and load too), what ClickHouse received in the
//! last minute and when it last took an insert, the consumer groups' lag, the
//! dead letters, and whether the topics are as configured (from Kafka, without
//! joining any group). Every part is measured on its own: one that cannot be
//! reached is reported, not fatal.

use chrono::{DateTime, Utc};
use egov_model::format::thousands;
use egov_runtime::clickhouse;
use egov_runtime::config::{ClickHouseConfig, Settings};
use egov_runtime::ops::{self, backlog, Process, ProcessStatus};
use egov_runtime::stall::Stage;
use egov_runtime::topics::{self, TopicCheck};
use serde::Serialize;
use std::fmt::Write as _;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// `json` for one JSON object; a table otherwise.
    #[arg(long, value_enum, default_value = "table")]
    format: StatusFormat,
    /// How long each probe may take, in milliseconds.
    #[arg(long, default_value_t = 2_000)]
    timeout_ms: u64,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum StatusFormat {
    Table,
    Json,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    pub at: DateTime<Utc>,
    pub services: Vec<Service>,
    pub clickhouse: ClickHouse,
    pub consumer_lag: Vec<GroupLag>,
    pub dead_letters: Measured<i64>,
    /// The pipeline's topics against `kafka.replication_factor`,
    /// `min.insync.replicas` and the retention configured (`egov_runtime::topics`).
    pub topics: Measured<Vec<TopicCheck>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Service {
    pub name: &'static str,
    pub address: String,
    /// `/healthz` answered 200.
    pub up: bool,
    /// `/readyz` answered 200; `None` when not up.
    pub ready: Option<bool>,
    /// Why not ready, or why not up.
    pub reasons: Vec<String>,
    /// Not on its own port but inside the ingest process (`egov run`).
    pub in_ingest_process: bool,
    /// What the process listening there says it is (its `/status`).
    pub process: Option<Process>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClickHouse {
    /// Rows whose `ingested_ms` is within the last minute.
    pub rows_last_minute: Measured<u64>,
    /// When the `events` table last got a new part (an insert or a merge).
    pub last_insert: Measured<Option<DateTime<Utc>>>,
    /// The latest `ingested_ms` in `events`.
    pub last_ingested: Measured<Option<DateTime<Utc>>>,
}

/// A group's lag as `egov status` tells it: `"lag"`, a count or `{"error": …}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lag {
    pub lag: Measured<i64>,
}

/// A consumer group and its lag (`service`, `group`, `topic`, `lag`).
pub type GroupLag = backlog::GroupLag<Lag>;

/// A value, or why it could not be measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Measured<T> {
    Value(T),
    Error { error: String },
}

impl<T> Measured<T> {
    fn from_result<E: std::fmt::Display>(result: Result<T, E>) -> Self {
        match result {
            Ok(value) => Measured::Value(value),
            Err(error) => Measured::Error {
                error: error.to_string(),
            },
        }
    }
}

/// `egov status`: measures everything once and prints it.
pub async fn run(settings: &Settings, args: StatusArgs) -> Result<(), serde_json::Error> {
    let timeout = Duration::from_millis(args.timeout_ms.max(1));
    let status = collect(settings, timeout).await;
    match args.format {
        StatusFormat::Json => println!("{}", serde_json::to_string_pretty(&status)?),
        StatusFormat::Table => print!("{}", render(&status)),
    }
    Ok(())
}

/// Everything `egov status` shows, each part measured on its own within `timeout`.
pub async fn collect(settings: &Settings, timeout: Duration) -> Status {
    let http = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .unwrap_or_default();
    let kafka = &settings.kafka;
    let (services, clickhouse, backlog, topics) = tokio::join!(
        services(&http, settings),
        clickhouse(&settings.clickhouse, timeout),
        backlog::measure(kafka, timeout),
        async {
            let names = [
                kafka.raw_topic.as_str(),
                kafka.curated_topic.as_str(),
                kafka.dlq_topic.as_str(),
            ];
            let checked = match tokio::time::timeout(timeout, topics::check(kafka, &names)).await {
                Ok(Ok(checks)) => Ok(checks),
                Ok(Err(error)) => Err(format!("kafka: {error}")),
                Err(_) => Err("kafka: no answer in time".to_owned()),
            };
            Measured::from_result(checked)
        },
    );
    let consumer_lag = backlog
        .groups
        .into_iter()
        .map(|group| {
            group.map_lag(|lag| Lag {
                lag: Measured::from_result(lag),
            })
        })
        .collect();
    Status {
        at: Utc::now(),
        services,
        clickhouse,
        consumer_lag,
        dead_letters: Measured::from_result(backlog.dead_letters),
        topics,
    }
}

async fn services(http: &reqwest::Client, settings: &Settings) -> Vec<Service> {
    let (ingest, transform, load) = tokio::join!(
        probe(http, "ingest", &settings.ingest.listen),
        probe(http, "transform", &settings.transform.listen),
        probe(http, "load", &settings.load.listen),
    );
    let mut services = vec![ingest, transform, load];
    // Under `egov run` the consumers have no port of their own: the process on
    // the ingest port says that it runs them too (its `/status`).
    if let Some(process) = services[0].process {
        let (ready, reasons) = (services[0].ready, services[0].reasons.clone());
        for service in services.iter_mut().skip(1).filter(|s| !s.up) {
            let inside = process
                .components()
                .iter()
                .any(|component| component.as_str() == service.name);
            if inside {
                service.process = Some(process);
                // Same process, same readiness; but a stall is the stage's own.
                service.in_ingest_process = true;
                service.address = settings.ingest.listen.clone();
                service.up = true;
                service.reasons = reasons_of(service.name, &reasons);
                service.ready = ready.map(|ready| ready || service.reasons.is_empty());
            }
        }
    }
    services
}

/// The reasons of a shared readiness (`egov run`) that concern stage `name`:
/// all but those of the other stages (`load: stalled: …` is not transform's).
fn reasons_of(name: &str, reasons: &[String]) -> Vec<String> {
    reasons
        .iter()
        .filter(|reason| {
            Stage::ALL
                .iter()
                .filter(|stage| stage.as_str() != name)
                .all(|other| !reason.starts_with(&format!("{}: ", other.as_str())))
        })
        .cloned()
        .collect()
}

async fn get_text(
    http: &reqwest::Client,
    address: &str,
    path: &str,
) -> Result<(u16, String), String> {
    let response = http
        .get(format!("http://{address}{path}"))
        .send()
        .await
        .map_err(|e| short_http_error(&e))?;
    let status = response.status().as_u16();
    let text = response.text().await.map_err(|e| short_http_error(&e))?;
    Ok((status, text))
}

fn short_http_error(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "no answer in time".to_owned();
    }
    if error.is_connect() {
        return "not listening (connection refused)".to_owned();
    }
    let mut root: &dyn std::error::Error = error;
    while let Some(source) = root.source() {
        root = source;
    }
    root.to_string()
}

async fn probe(http: &reqwest::Client, name: &'static str, address: &str) -> Service {
    let mut service = Service {
        name,
        address: address.to_owned(),
        up: false,
        ready: None,
        reasons: Vec::new(),
        in_ingest_process: false,
        process: None,
    };
    match get_text(http, address, ops::HEALTHZ_PATH).await {
        Ok((200, _)) => service.up = true,
        Ok((status, _)) => service.reasons.push(format!("/healthz answered {status}")),
        Err(reason) => service.reasons.push(reason),
    }
    if !service.up {
        return service;
    }
    // What it is; a process that does not answer `/status` is still probed.
    if let Ok((200, body)) = get_text(http, address, ops::STATUS_PATH).await {
        service.process = serde_json::from_str::<ProcessStatus>(&body)
            .ok()
            .and_then(|status| status.process);
    }
    match get_text(http, address, ops::READYZ_PATH).await {
        Ok((200, _)) => service.ready = Some(true),
        Ok((503, body)) => {
            service.ready = Some(false);
            service.reasons = serde_json::from_str::<ops::ReadyStatus>(&body)
                .map(|status| status.reasons)
                .unwrap_or_else(|_| vec![body.trim().to_owned()]);
        }
        Ok((status, _)) => service.reasons.push(format!("/readyz answered {status}")),
        Err(reason) => service.reasons.push(format!("/readyz: {reason}")),
    }
    service
}

async fn clickhouse(config: &ClickHouseConfig, timeout: Duration) -> ClickHouse {
    let client = match clickhouse::query_client(config) {
        Ok(client) => client,
        Err(error) => {
            let error = format!("clickhouse: {error}");
            return ClickHouse {
                rows_last_minute: Measured::Error {
                    error: error.clone(),
                },
                last_insert: Measured::Error {
                    error: error.clone(),
                },
                last_ingested: Measured::Error { error },
            };
        }
    };
    let since_ms = Utc::now().timestamp_millis().saturating_sub(60_000).max(0);
    let rows = client
        .query("SELECT count() FROM events WHERE ingested_ms >= ?")
        .bind(since_ms);
    let (rows, last_insert, last_ingested) = tokio::join!(
        within(timeout, rows.fetch_one::<u64>()),
        within(
            timeout,
            clickhouse::last_insert(&client, config.database.as_str())
        ),
        within(timeout, clickhouse::last_ingested(&client)),
    );
    ClickHouse {
        rows_last_minute: Measured::from_result(rows),
        last_insert: Measured::from_result(last_insert),
        last_ingested: Measured::from_result(last_ingested),
    }
}

/// The answer of a ClickHouse query, or why there is none (`clickhouse: …`).
async fn within<T>(
    timeout: Duration,
    query: impl std::future::Future<Output = ::clickhouse::error::Result<T>>,
) -> Result<T, String> {
    match tokio::time::timeout(timeout, query).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(format!(
            "clickhouse: {}",
            clickhouse::describe_error(&error)
        )),
        Err(_) => Err("clickhouse: no answer in time".to_owned()),
    }
}

fn ago(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (now - at).num_seconds().max(0);
    let age = match seconds {
        0..=119 => format!("{seconds} s"),
        120..=7_199 => format!("{} min", seconds / 60),
        7_200..=172_799 => format!("{} h", seconds / 3_600),
        _ => format!("{} days", seconds / 86_400),
    };
    format!("{} ({age} ago)", at.format("%Y-%m-%d %H:%M:%S UTC"))
}

fn show<T>(value: &Measured<T>, format: impl Fn(&T) -> String) -> String {
    match value {
        Measured::Value(v) => format(v),
        Measured::Error { error } => format!("unknown: {error}"),
    }
}

/// The table of `egov status`.
pub fn render(status: &Status) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "egov status at {}\n",
        status.at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    let _ = writeln!(
        out,
        "{:<10} {:<22} {:<5} {:<6} notes",
        "service", "address", "up", "ready"
    );
    for service in &status.services {
        let up = if service.up { "up" } else { "DOWN" };
        let ready = match service.ready {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "-",
        };
        let mut notes = service.reasons.join("; ");
        if service.in_ingest_process {
            notes = if notes.is_empty() {
                "inside the ingest process (egov run)".to_owned()
            } else {
                format!("inside the ingest process (egov run): {notes}")
            };
        }
        let _ = writeln!(
            out,
            "{:<10} {:<22} {:<5} {:<6} {notes}",
            service.name, service.address, up, ready
        );
    }
    let ch = &status.clickhouse;
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<40} {}",
        "rows into ClickHouse, last minute",
        show(&ch.rows_last_minute, |n| format!(
            "{} ({:.1}/s)",
            thousands(i128::from(*n)),
            *n as f64 / 60.0
        ))
    );
    let when = |at: &Option<DateTime<Utc>>| match at {
        Some(at) => ago(*at, status.at),
        None => "never".to_owned(),
    };
    let _ = writeln!(
        out,
        "{:<40} {}",
        "last ClickHouse insert",
        show(&ch.last_insert, when)
    );
    let _ = writeln!(
        out,
        "{:<40} {}",
        "latest event ingested",
        show(&ch.last_ingested, when)
    );
    for group in &status.consumer_lag {
        let label = format!("consumer lag, {} ({})", group.stage.as_str(), group.topic);
        let _ = writeln!(
            out,
            "{label:<40} {}",
            show(&group.lag.lag, |n| thousands(i128::from(*n)))
        );
    }
    let _ = writeln!(
        out,
        "{:<40} {}",
        "dead letters",
        show(&status.dead_letters, |n| thousands(i128::from(*n)))
    );
    match &status.topics {
        Measured::Value(checks) => {
            for check in checks {
                let state = if !check.exists {
                    "missing (the services create it at start)".to_owned()
                } else if check.weaker.is_empty() {
                    "as configured".to_owned()
                } else {
                    format!("WEAKER than configured: {}", check.describe())
                };
                let label = format!("topic {}", check.topic);
                let _ = writeln!(out, "{label:<40} {state}");
            }
        }
        Measured::Error { error } => {
            let _ = writeln!(out, "{:<40} unknown: {error}", "topics");
        }
    }
    out
}

#[cfg(test)]
mod tests;
