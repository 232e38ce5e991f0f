//! `egov dashboard`: the analysts' pages and their JSON API, server-rendered
//! HTML and SVG (no script), read-only from ClickHouse.
//!
//! Pages (`/`, `/scorecard`, `/unit/{code}`, `/pipeline`) take `from`, `to`
//! (local dates) and `lang` (`vi`, the default, or `en`); each one's data is
//! also served as JSON under `/api/`, described in
//! `schemas/dashboard-openapi.json` (served at `/openapi.json`).
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod cache;
mod error;
pub mod html;
pub mod i18n;
pub mod pages;
pub mod svg;
mod warm;

pub use error::{DashboardError, PageError};

use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{Datelike, NaiveDate, Utc};
use egov_model::Catalogue;
use egov_runtime::config::{
    CatalogueConfig, ClickHouseConfig, DashboardSection, KafkaConfig, ScorecardSection, Settings,
};
use egov_runtime::shutdown::Shutdown;
use html::{Frame, Nav};
use i18n::Lang;
use serde::Deserialize;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tracing::{info, warn};

/// The OpenAPI description of `/api/`.
pub const OPENAPI_JSON: &str = include_str!("../../../schemas/dashboard-openapi.json");

/// The longest period a page takes (its monthly trend is drawn month by month).
const MAX_PERIOD_DAYS: i64 = 3_700;

/// What the dashboard needs.
#[derive(Debug, Clone)]
pub struct DashboardConfig {
    pub service: DashboardSection,
    /// ClickHouse as configured (`clickhouse.*`); the dashboard reads it as
    /// its own read-only user where there is one (see [`DashboardSection::clickhouse`]).
    pub clickhouse: ClickHouseConfig,
    /// For the pipeline page: consumer lag and dead letters.
    pub kafka: KafkaConfig,
    pub catalogue: CatalogueConfig,
    /// When the scorecard flags a unit or calls it silent.
    pub scorecard: ScorecardSection,
}

impl From<&Settings> for DashboardConfig {
    fn from(settings: &Settings) -> Self {
        Self {
            service: settings.dashboard.clone(),
            clickhouse: settings.clickhouse.clone(),
            kafka: settings.kafka.clone(),
            catalogue: settings.catalogue.clone(),
            scorecard: settings.scorecard.clone(),
        }
    }
}

/// Shared by every handler.
#[derive(Clone)]
pub(crate) struct AppState(Arc<Inner>);

pub(crate) struct Inner {
    pub clickhouse: ClickHouseConfig,
    pub kafka: KafkaConfig,
    pub catalogue: Catalogue,
    pub timeout_ms: u64,
    pub cache: cache::Cache,
    pub scorecard: ScorecardSection,
    /// The pipeline page's Kafka clients, kept from one view to the next;
    /// `None` when they could not be made (each view then says why).
    pub backlog: Option<egov_runtime::ops::backlog::Probe>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// `work` within the configured time.
    pub(crate) async fn timed<T>(
        &self,
        work: impl Future<Output = Result<T, DashboardError>>,
    ) -> Result<T, DashboardError> {
        tokio::time::timeout(Duration::from_millis(self.timeout_ms), work)
            .await
            .unwrap_or(Err(DashboardError::Timeout(self.timeout_ms)))
    }

    /// `work`'s figures for `key` (a page and its parameters, of a period
    /// ending on `to`), from the cache while the data up to `to` has not
    /// changed, within the configured time.
    ///
    /// The work runs on a task of its own: when the answer times out, it goes
    /// on and fills the cache for the next request.
    pub(crate) async fn figures<T: Clone + Send + Sync + 'static>(
        &self,
        key: String,
        to: chrono::NaiveDate,
        work: impl Future<Output = Result<T, DashboardError>> + Send + 'static,
    ) -> Result<T, DashboardError> {
        let state = self.clone();
        let task = tokio::spawn(async move {
            let version = cache::Cache::version(&state.clickhouse, to).await;
            state.cache.get_or(key, version, work).await
        });
        self.timed(async {
            task.await
                .map_err(|e| DashboardError::Internal(format!("figures task: {e}")))?
        })
        .await
    }
}

/// The ClickHouse configuration the dashboard reads with: its read-only user
/// where the server manages users and one is configured, otherwise the
/// configured user; `readonly=1` on every query either way.
pub async fn read_only_clickhouse(config: &DashboardConfig) -> ClickHouseConfig {
    let has_users = match egov_runtime::clickhouse::has_sql_users(&config.clickhouse).await {
        Ok(has) => has,
        Err(error) => {
            warn!(%error, "cannot ask ClickHouse whether it manages users; reading as clickhouse.user");
            false
        }
    };
    let clickhouse = config.service.clickhouse(&config.clickhouse, has_users);
    if !has_users {
        info!(
            user = clickhouse.user,
            "this ClickHouse has no SQL user management (18.16): reading as clickhouse.user, with readonly=1 on every query"
        );
    } else if !config.service.has_read_only_user() {
        info!(
            user = clickhouse.user,
            "dashboard.clickhouse_password is not set, so there is no read-only user: reading as clickhouse.user, with readonly=1 on every query"
        );
    } else {
        info!(
            user = clickhouse.user,
            "reading ClickHouse as the read-only user"
        );
    }
    clickhouse
}

/// Serves the dashboard on `listener` until `shutdown`.
pub async fn run(
    config: DashboardConfig,
    listener: TcpListener,
    mut shutdown: Shutdown,
) -> Result<(), DashboardError> {
    let catalogue = config
        .catalogue
        .load()
        .map_err(|e| DashboardError::Internal(e.to_string()))?;
    // A wrong `dashboard.warm_periods` stops the dashboard here, with what and where.
    warm::periods(&config.service, egov_model::time::local_date(Utc::now()))?;
    let clickhouse = read_only_clickhouse(&config).await;
    let backlog = egov_runtime::ops::backlog::Probe::new(&config.kafka)
        .inspect_err(|error| warn!(%error, "kafka clients for the pipeline page"))
        .ok();
    let state = AppState(Arc::new(Inner {
        clickhouse,
        kafka: config.kafka.clone(),
        catalogue,
        timeout_ms: config.service.query_timeout_ms.max(1),
        cache: cache::Cache::default(),
        scorecard: config.scorecard.clone(),
        backlog,
    }));
    let address = listener.local_addr()?;
    info!(%address, "dashboard listening");
    let router = router(state.clone());
    let warming = (config.service.warm_every_s > 0).then(|| {
        let every = Duration::from_secs(config.service.warm_every_s);
        tokio::spawn(warm::run(
            state,
            router.clone(),
            config.service.clone(),
            every,
            shutdown.clone(),
        ))
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { shutdown.wait().await })
        .await?;
    if let Some(warming) = warming {
        warming.abort();
    }
    info!("dashboard stopped");
    Ok(())
}

/// The pages (HTML, for people).
pub const PAGES: [&str; 5] = ["/", "/scorecard", "/unit", "/unit/{code}", "/pipeline"];
/// Everything else, each path described in [`OPENAPI_JSON`].
pub const API: [&str; 8] = [
    "/api/overview",
    "/api/scorecard",
    "/api/scorecard.csv",
    "/api/scorecard.xlsx",
    "/api/unit/{code}",
    "/api/pipeline",
    "/healthz",
    "/openapi.json",
];

fn router(state: AppState) -> Router {
    let [overview, scorecard, unit_picker, unit, pipeline] = PAGES;
    let [overview_api, scorecard_api, scorecard_csv, scorecard_xlsx, unit_api, pipeline_api, healthz, openapi_path] =
        API;
    Router::new()
        .route(overview, get(pages::overview::page))
        .route(scorecard, get(pages::scorecard::page))
        .route(scorecard_api, get(pages::scorecard::api))
        .route(scorecard_csv, pages::scorecard::CSV.route())
        .route(scorecard_xlsx, pages::scorecard::XLSX.route())
        .route(unit_picker, get(pages::unit::picker))
        .route(unit, get(pages::unit::page))
        .route(pipeline, get(pages::pipeline::page))
        .route(overview_api, get(pages::overview::api))
        .route(unit_api, get(pages::unit::api))
        .route(pipeline_api, get(pages::pipeline::api))
        .route(healthz, get(|| async { "ok" }))
        .route(openapi_path, get(openapi))
        .with_state(state)
}

async fn openapi() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI_JSON,
    )
        .into_response()
}

/// The query parameters of every page and API call (each takes those it needs).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Params {
    pub from: Option<String>,
    pub to: Option<String>,
    pub lang: Option<String>,
    /// The scorecard's filters and order.
    pub level: Option<String>,
    pub district: Option<String>,
    pub sort: Option<String>,
    pub order: Option<String>,
}

/// A period of local dates, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

pub(crate) fn parse_date(name: &str, text: &str) -> Result<NaiveDate, DashboardError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
        DashboardError::BadRequest(format!("`{name}` must be a date YYYY-MM-DD, not `{text}`"))
    })
}

impl Params {
    /// The period asked for; by default this year up to today (local dates).
    pub fn period(&self) -> Result<Period, DashboardError> {
        let today = egov_model::time::local_date(Utc::now());
        let to = match self.to.as_deref().filter(|t| !t.is_empty()) {
            Some(text) => parse_date("to", text)?,
            None => today,
        };
        let from = match self.from.as_deref().filter(|t| !t.is_empty()) {
            Some(text) => parse_date("from", text)?,
            None => NaiveDate::from_ymd_opt(to.year(), 1, 1).unwrap_or(to),
        };
        if to < from {
            return Err(DashboardError::BadRequest(format!(
                "the period ends ({to}) before it starts ({from})"
            )));
        }
        if (to - from).num_days() > MAX_PERIOD_DAYS {
            return Err(DashboardError::BadRequest(format!(
                "the period is longer than {MAX_PERIOD_DAYS} days"
            )));
        }
        Ok(Period { from, to })
    }

    pub fn lang(&self) -> Lang {
        Lang::parse(self.lang.as_deref())
    }

    /// The frame of a page at `path`, and the period; a bad period is a page
    /// error shown in a frame of the default period.
    pub fn frame(
        &self,
        path: &str,
        nav: Nav,
        extra: Vec<(&'static str, String)>,
    ) -> Result<Frame, PageError> {
        let lang = self.lang();
        match self.period() {
            Ok(period) => Ok(Frame {
                lang,
                from: period.from,
                to: period.to,
                path: path.to_owned(),
                extra,
            }),
            Err(error) => {
                let fallback = Params::default().period().unwrap_or(Period {
                    from: NaiveDate::MIN,
                    to: NaiveDate::MIN,
                });
                Err(PageError {
                    error,
                    frame: Frame {
                        lang,
                        from: fallback.from,
                        to: fallback.to,
                        path: path.to_owned(),
                        extra,
                    },
                    nav,
                })
            }
        }
    }
}

/// Handlers' shorthands.
pub(crate) type PageResult = Result<Html<String>, PageError>;
pub(crate) type ApiResult<T> = Result<Json<T>, DashboardError>;

impl Frame {
    /// `error` as this page's failure.
    pub fn fail(&self, nav: Nav, error: DashboardError) -> PageError {
        PageError {
            error,
            frame: self.clone(),
            nav,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_checked() {
        let params = |from: &str, to: &str| Params {
            from: Some(from.into()),
            to: Some(to.into()),
            ..Params::default()
        };
        assert!(params("2021-01-01", "2021-12-31").period().is_ok());
        assert!(matches!(
            params("2021-12-31", "2021-01-01").period(),
            Err(DashboardError::BadRequest(_))
        ));
        assert!(matches!(
            params("2021-02-30", "2021-03-01").period(),
            Err(DashboardError::BadRequest(_))
        ));
        assert!(matches!(
            params("1990-01-01", "2021-03-01").period(),
            Err(DashboardError::BadRequest(_))
        ));
        let default = Params::default().period();
        assert!(default.is_ok_and(|p| p.from.month() == 1 && p.from.day() == 1));
    }
}
