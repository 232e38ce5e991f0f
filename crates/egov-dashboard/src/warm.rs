//! Warming: the overview's and the scorecard's figures of a few periods
//! computed ahead, whenever the data has changed, so that the first view of
//! those pages answers from the cache in milliseconds instead of waiting for
//! ClickHouse to fold a year of rollups (about a second on 2 cores for a
//! province's year). A unit's page reads only that unit's rows and needs none.
//!
//! It asks the dashboard's own router for `/api/overview` and `/api/scorecard`,
//! so the figures are computed, keyed and cached exactly as a visitor's
//! request would have them.

use crate::cache::Cache;
use crate::{parse_date, AppState, DashboardError, Period};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use chrono::{Datelike, NaiveDate};
use egov_runtime::config::DashboardSection;
use egov_runtime::shutdown::Shutdown;
use std::time::{Duration, Instant};
use tower::ServiceExt;
use tracing::{debug, info, warn};

/// The periods to warm: `dashboard.warm_periods`, or by default this year up
/// to `today` and the whole of last year.
pub(crate) fn periods(
    section: &DashboardSection,
    today: NaiveDate,
) -> Result<Vec<Period>, DashboardError> {
    if section.warm_periods.is_empty() {
        let this_year = NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today);
        let last_year = NaiveDate::from_ymd_opt(today.year() - 1, 1, 1).unwrap_or(today);
        let last_day = this_year.pred_opt().unwrap_or(this_year);
        return Ok(vec![
            Period {
                from: this_year,
                to: today,
            },
            Period {
                from: last_year,
                to: last_day,
            },
        ]);
    }
    section
        .warm_periods
        .iter()
        .enumerate()
        .map(|(index, text)| {
            let wrong = |why: String| {
                DashboardError::BadRequest(format!(
                    "dashboard.warm_periods[{index}] `{text}`: {why}"
                ))
            };
            let (from, to) = text
                .split_once("..")
                .ok_or_else(|| wrong("expected YYYY-MM-DD..YYYY-MM-DD".into()))?;
            let from = parse_date("from", from.trim()).map_err(|e| wrong(e.to_string()))?;
            let to = parse_date("to", to.trim()).map_err(|e| wrong(e.to_string()))?;
            if to < from {
                return Err(wrong("the period ends before it starts".into()));
            }
            Ok(Period { from, to })
        })
        .collect()
}

/// Warms the periods of `section` now and then every `every` while the data
/// or the day changes, until `shutdown`. The default periods end today, so
/// they are worked out again each round: after midnight a visitor's default
/// period is a new one. `section` was checked by [`periods`] at start.
pub(crate) async fn run(
    state: AppState,
    router: Router,
    section: DashboardSection,
    every: Duration,
    mut shutdown: Shutdown,
) {
    let mut warmed = None;
    loop {
        let today = egov_model::time::local_date(chrono::Utc::now());
        let periods = periods(&section, today).unwrap_or_default();
        // Every warmed period ends today at the latest.
        let version = Cache::version(&state.clickhouse, today)
            .await
            .map(|v| (v, today));
        if version.is_some() && version != warmed {
            let started = Instant::now();
            if warm(&router, &periods).await {
                warmed = version;
                info!(
                    periods = periods.len(),
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "dashboard figures warmed"
                );
            }
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = shutdown.wait() => return,
        }
    }
}

/// Asks for every warmed page's data; true when all answered.
async fn warm(router: &Router, periods: &[Period]) -> bool {
    let mut all = true;
    for period in periods {
        for page in ["/api/overview", "/api/scorecard"] {
            let uri = format!("{page}?from={}&to={}", period.from, period.to);
            let Ok(request) = Request::get(&uri).body(Body::empty()) else {
                continue;
            };
            let started = Instant::now();
            match router.clone().oneshot(request).await {
                Ok(response) if response.status() == StatusCode::OK => {
                    debug!(
                        uri,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "warmed"
                    );
                }
                Ok(response) => {
                    all = false;
                    warn!(
                        uri,
                        status = response.status().as_u16(),
                        "warming a page failed"
                    );
                }
                Err(never) => match never {},
            }
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap_or_default()
    }

    #[test]
    fn by_default_this_year_to_today_and_last_year() -> Result<(), DashboardError> {
        let got = periods(&DashboardSection::default(), day("2026-12-02"))?;
        assert_eq!(
            got,
            [
                Period {
                    from: day("2026-01-01"),
                    to: day("2026-12-02")
                },
                Period {
                    from: day("2025-01-01"),
                    to: day("2025-12-31")
                }
            ]
        );
        Ok(())
    }

    #[test]
    fn configured_periods_are_parsed_and_checked() {
        let section = |periods: &[&str]| DashboardSection {
            warm_periods: periods.iter().map(|p| (*p).to_owned()).collect(),
            ..DashboardSection::default()
        };
        let today = day("2026-12-02");
        assert_eq!(
            periods(&section(&["2021-01-01..2021-12-31"]), today).ok(),
            Some(vec![Period {
                from: day("2021-01-01"),
                to: day("2021-12-31")
            }])
        );
        for bad in [
            "2021-01-01",
            "2021-12-31..2021-01-01",
            "2021-13-01..2021-12-31",
        ] {
            let error = periods(&section(&["2021-01-01..2021-01-02", bad]), today)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                error.contains("dashboard.warm_periods[1]"),
                "{bad}: {error}"
            );
        }
    }
}
