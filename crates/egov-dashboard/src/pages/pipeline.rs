//! The pipeline as it runs: events loaded per minute per source system over
//! the last hour and the latest insert (from ClickHouse: what analysts see is
//! what arrived there), the consumer groups' lag and the dead letters (from
//! Kafka, seen from outside as `egov status` does, joining no group). The
//! dashboard reads no service's `/metrics`: it need not know where they run.

use crate::html::{self, header_row, Frame, Nav};
use crate::i18n::Text;
use crate::svg::{self, Chart, Kind, Series, COLORS};
use crate::{ApiResult, AppState, DashboardError, PageResult, Params};
use axum::extract::{Query, State};
use axum::response::Html;
use axum::Json;
use chrono::{DateTime, Utc};
use clickhouse::Row;
use egov_model::format;
use egov_runtime::clickhouse::{self as ch, query_client};
use egov_runtime::ops::backlog;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// Minutes shown.
pub const MINUTES: i64 = 60;
/// How long a Kafka measurement may take.
const KAFKA_TIMEOUT: Duration = Duration::from_millis(1_500);

#[derive(Debug, Clone, Serialize)]
pub struct MinuteCount {
    /// The start of the minute (UTC).
    pub minute: DateTime<Utc>,
    pub documents: u64,
    pub onestop: u64,
}

/// A group's lag as this page's JSON tells it: `lag`, or `null` and why in
/// `error`.
#[derive(Debug, Clone, Serialize)]
pub struct Lag {
    /// Messages the group has not committed yet.
    pub lag: Option<i64>,
    pub error: Option<String>,
}

/// A consumer group and its lag (`service`, `group`, `topic`, `lag`, `error`).
pub type GroupLag = backlog::GroupLag<Lag>;

#[derive(Debug, Clone, Serialize)]
pub struct DeadLetters {
    pub topic: String,
    pub messages: Option<i64>,
    pub error: Option<String>,
}

/// `GET /api/pipeline`.
#[derive(Debug, Clone, Serialize)]
pub struct PipelineData {
    pub at: DateTime<Utc>,
    /// Rows loaded into `events` per minute (by `ingested_ms`), the last 60
    /// minutes, oldest first, minutes without events included.
    pub events_per_minute: Vec<MinuteCount>,
    /// When `events` last got a new part (an insert, or a merge).
    pub last_insert: Option<DateTime<Utc>>,
    /// The latest `ingested_ms` in `events`.
    pub last_ingested: Option<DateTime<Utc>>,
    pub consumer_lag: Vec<GroupLag>,
    pub dead_letters: DeadLetters,
}

#[derive(Debug, Row, Deserialize)]
struct MinuteRow {
    system: String,
    minute: u64,
    events: u64,
}

async fn clickhouse_part(
    state: &AppState,
    now_ms: i64,
) -> Result<
    (
        Vec<MinuteCount>,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
    ),
    DashboardError,
> {
    let client = query_client(&state.clickhouse).map_err(egov_analytics::ReportError::from)?;
    let first_minute = now_ms.div_euclid(60_000) - (MINUTES - 1);
    let since_ms = u64::try_from(first_minute * 60_000).unwrap_or(0);
    let (minutes, last_insert, last_ingested) = tokio::join!(
        client
            .query(
                "SELECT system, intDiv(ingested_ms, 60000) AS minute, count() AS events \
                 FROM events WHERE ingested_ms >= ? GROUP BY system, minute"
            )
            .bind(since_ms)
            .fetch_all::<MinuteRow>(),
        ch::last_insert(&client, state.clickhouse.database.as_str()),
        ch::last_ingested(&client),
    );
    let report =
        |e: clickhouse::error::Error| DashboardError::from(egov_analytics::ReportError::from(e));
    let mut by_minute: BTreeMap<i64, (u64, u64)> = (first_minute..first_minute + MINUTES)
        .map(|m| (m, (0, 0)))
        .collect();
    for row in minutes.map_err(report)? {
        let minute = i64::try_from(row.minute).unwrap_or(i64::MAX);
        if let Some(slot) = by_minute.get_mut(&minute) {
            match row.system.as_str() {
                "documents" => slot.0 += row.events,
                _ => slot.1 += row.events,
            }
        }
    }
    let minutes = by_minute
        .into_iter()
        .filter_map(|(minute, (documents, onestop))| {
            Some(MinuteCount {
                minute: ch::time_of_ms(minute * 60_000)?,
                documents,
                onestop,
            })
        })
        .collect();
    Ok((
        minutes,
        last_insert.map_err(report)?,
        last_ingested.map_err(report)?,
    ))
}

async fn kafka_part(state: &AppState) -> (Vec<GroupLag>, DeadLetters) {
    let backlog = match &state.backlog {
        Some(probe) => probe.measure(KAFKA_TIMEOUT).await,
        None => backlog::measure(&state.kafka, KAFKA_TIMEOUT).await,
    };
    let lags = backlog
        .groups
        .into_iter()
        .map(|group| {
            group.map_lag(|lag| Lag {
                lag: lag.as_ref().ok().copied(),
                error: lag.err(),
            })
        })
        .collect();
    let dead_letters = DeadLetters {
        topic: state.kafka.dlq_topic.clone(),
        messages: backlog.dead_letters.as_ref().ok().copied(),
        error: backlog.dead_letters.err(),
    };
    (lags, dead_letters)
}

async fn data(state: &AppState) -> Result<PipelineData, DashboardError> {
    let at = Utc::now();
    state
        .timed(async {
            let (clickhouse, (consumer_lag, dead_letters)) = tokio::join!(
                clickhouse_part(state, at.timestamp_millis()),
                kafka_part(state)
            );
            let (events_per_minute, last_insert, last_ingested) = clickhouse?;
            Ok(PipelineData {
                at,
                events_per_minute,
                last_insert,
                last_ingested,
                consumer_lag,
                dead_letters,
            })
        })
        .await
}

/// `GET /api/pipeline`.
pub(crate) async fn api(State(state): State<AppState>) -> ApiResult<PipelineData> {
    Ok(Json(data(&state).await?))
}

/// `GET /pipeline`.
pub(crate) async fn page(
    State(state): State<AppState>,
    Query(params): Query<Params>,
) -> PageResult {
    let frame = params.frame("/pipeline", Nav::Pipeline, Vec::new())?;
    let data = data(&state)
        .await
        .map_err(|e| frame.fail(Nav::Pipeline, e))?;
    Ok(Html(html::page(
        &frame,
        Nav::Pipeline,
        frame.t(Text::Pipeline),
        false,
        &render(&frame, &data),
    )))
}

fn when(frame: &Frame, at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    let Some(at) = at else {
        return frame.t(Text::Never).to_owned();
    };
    let local = at.with_timezone(&egov_model::time::vietnam());
    let seconds = (now - at).num_seconds().max(0);
    let ago = match (frame.lang, seconds) {
        (crate::i18n::Lang::Vi, 0..=119) => format!("{seconds} giây trước"),
        (crate::i18n::Lang::Vi, 120..=7_199) => format!("{} phút trước", seconds / 60),
        (crate::i18n::Lang::Vi, _) => format!("{} giờ trước", seconds / 3_600),
        (crate::i18n::Lang::En, 0..=119) => format!("{seconds} s ago"),
        (crate::i18n::Lang::En, 120..=7_199) => format!("{} min ago", seconds / 60),
        (crate::i18n::Lang::En, _) => format!("{} h ago", seconds / 3_600),
    };
    format!(
        "{} {} ({ago})",
        format::date(local.date_naive(), frame.lang),
        local.format("%H:%M:%S")
    )
}

/// A count measured in Kafka, or "unknown" and why.
fn measured(frame: &Frame, value: Option<i64>, error: Option<&str>) -> String {
    value.map_or_else(
        || format!("{}: {}", frame.t(Text::Unknown), error.unwrap_or_default()),
        |n| format::signed(n, frame.lang),
    )
}

fn render(frame: &Frame, data: &PipelineData) -> String {
    let lang = frame.lang;
    let mut out = String::new();
    let total: u64 = data
        .events_per_minute
        .iter()
        .map(|m| m.documents + m.onestop)
        .sum();
    out.push_str("<div class=\"cards\">");
    let mut card = |id: &str, label: &str, value: String, raw: String| {
        let _ = write!(
            out,
            "<div class=\"card\" id=\"card-{id}\" data-value=\"{}\"><div class=\"label\">{}</div><div class=\"value\">{}</div></div>",
            html::escape(&raw),
            html::escape(label),
            html::escape(&value)
        );
    };
    card(
        "last-hour",
        &format!(
            "{} ({})",
            frame.t(Text::EventsPerMinute),
            frame.t(Text::LastHour)
        ),
        format::count(total / MINUTES as u64, lang),
        total.to_string(),
    );
    card(
        "last-insert",
        frame.t(Text::LastInsert),
        when(frame, data.last_insert, data.at),
        data.last_insert.map(|t| t.to_rfc3339()).unwrap_or_default(),
    );
    card(
        "last-ingested",
        frame.t(Text::LatestEventIngested),
        when(frame, data.last_ingested, data.at),
        data.last_ingested
            .map(|t| t.to_rfc3339())
            .unwrap_or_default(),
    );
    let dead = &data.dead_letters;
    card(
        "dead-letters",
        frame.t(Text::DeadLetters),
        measured(frame, dead.messages, dead.error.as_deref()),
        dead.messages.map(|n| n.to_string()).unwrap_or_default(),
    );
    out.push_str("</div>");

    let local = |m: &MinuteCount| {
        m.minute
            .with_timezone(&egov_model::time::vietnam())
            .format("%H:%M")
            .to_string()
    };
    let series = |name: Text, color: usize, count: fn(&MinuteCount) -> u64| Series {
        name: frame.t(name).into(),
        color: COLORS[color],
        values: data
            .events_per_minute
            .iter()
            .map(|m| Some(count(m) as f64))
            .collect(),
    };
    let chart = Chart {
        id: "events-per-minute".into(),
        kind: Kind::Lines,
        labels: data.events_per_minute.iter().map(local).collect(),
        series: vec![
            series(Text::DocumentsSystem, 0, |m| m.documents),
            series(Text::OnestopSystem, 1, |m| m.onestop),
        ],
        percent: false,
        label_every: 10,
    };
    let _ = write!(
        out,
        "<div class=\"charts\"><div class=\"chart\"><h4>{} ({})</h4>{}</div></div>",
        html::escape(frame.t(Text::EventsPerMinute)),
        html::escape(frame.t(Text::LastHour)),
        svg::render(&chart, lang)
    );

    let _ = write!(
        out,
        "<h3>{}</h3><table id=\"lag\">",
        html::escape(frame.t(Text::ConsumerLag))
    );
    out.push_str(&header_row(&[
        (frame.t(Text::Service), false),
        (frame.t(Text::Topic), false),
        (frame.t(Text::Messages), true),
    ]));
    for group in &data.consumer_lag {
        let service = group.stage.as_str();
        let Lag { lag, error } = &group.lag;
        let _ = write!(
            out,
            "<tr data-service=\"{}\"><td>{}</td><td>{}</td><td class=\"num\" data-figure=\"lag.{}\" data-value=\"{}\">{}</td></tr>",
            service,
            service,
            html::escape(&group.topic),
            service,
            lag.map(|n| n.to_string()).unwrap_or_else(|| "null".into()),
            html::escape(&measured(frame, *lag, error.as_deref()))
        );
    }
    out.push_str("</table>");
    out
}
