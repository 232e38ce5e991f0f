//! Waiting for what a pipeline loads into ClickHouse: a count reaching a
//! value, every distinct event of a stream, the figures equal to the
//! independent computation. Over [`Settings`], so that a pipeline of this
//! process ([`crate::Pipeline`]) and one of another process (`egov run` in
//! the fault tests) wait the same way.

use crate::clickhouse_query;
use anyhow::bail;
use egov_runtime::config::Settings;
use serde_json::Value;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// How long figures may trail the events they count (see [`eventually`]).
const FIGURES_TIMEOUT: Duration = Duration::from_secs(30);

/// Waits until `sql` (a single number) reaches `expected`; fails after `timeout`.
pub async fn count_reaches(
    settings: &Settings,
    sql: &str,
    expected: u64,
    timeout: Duration,
) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let got: u64 = clickhouse_query(settings, sql)
            .await?
            .trim()
            .parse()
            .unwrap_or(0);
        if got == expected {
            return Ok(());
        }
        if started.elapsed() > timeout {
            bail!("`{sql}` is {got} after {timeout:?}, expected {expected}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The rows `events` leave in the `events` table once deduplicated: one per
/// distinct key of the table, `(system, unit_code, event_id)`, however often
/// and in whatever order an event was sent.
pub fn distinct_rows(events: &[Value]) -> u64 {
    let field = |event: &Value, key: &str| event[key].as_str().unwrap_or_default().to_owned();
    let keys: HashSet<_> = events
        .iter()
        .map(|e| {
            (
                egov_scenario::batch::system_of(&field(e, "event_type")),
                field(e, "unit_code"),
                field(e, "event_id"),
            )
        })
        .collect();
    keys.len() as u64
}

/// Waits until the `events` table holds every event of `events` exactly once
/// ([`distinct_rows`] rows, FINAL); fails after `timeout`.
pub async fn events_loaded(
    settings: &Settings,
    events: &[Value],
    timeout: Duration,
) -> anyhow::Result<()> {
    let sql = "SELECT count() FROM events FINAL";
    count_reaches(settings, sql, distinct_rows(events), timeout).await
}

/// The figures (`egov report`, `egov scorecard`, the dashboard) read the
/// rollups, which ClickHouse fills by materialized views after it has
/// written an insert's events: they trail the events by the time an
/// insert's views take (up to about a second on a busy machine). So a test
/// that has waited for events reads figures through this: `read` again
/// until it gives `expected` or `timeout` passes; the test then asserts on
/// what it returns, so a figure that never becomes right still fails.
pub async fn eventually<T, F, Fut>(
    expected: &T,
    timeout: Duration,
    mut read: F,
) -> anyhow::Result<T>
where
    T: PartialEq,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let started = Instant::now();
    loop {
        let got = read().await?;
        if &got == expected || started.elapsed() > timeout {
            return Ok(got);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `egov report`'s figures (as JSON) for `from..to` and every unit once
/// they equal the independent computation over `events`
/// (`egov_scenario::reference`), waiting for them as [`eventually`] does;
/// fails with both when they never do.
pub async fn figures_equal_reference(
    settings: &Settings,
    events: &[Value],
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> anyhow::Result<Value> {
    let expected =
        serde_json::to_value(egov_scenario::reference::figures(events, from, to, None)?)?;
    let request = egov_analytics::ReportRequest {
        from,
        to,
        unit: None,
    };
    let (clickhouse, request) = (&settings.clickhouse, &request);
    let got = eventually(&expected, FIGURES_TIMEOUT, || async move {
        Ok(serde_json::to_value(
            egov_analytics::report(clickhouse, request).await?,
        )?)
    })
    .await?;
    if got != expected {
        bail!("the report for {from}..{to} differs from the reference:\n got {got}\n expected {expected}");
    }
    Ok(got)
}
