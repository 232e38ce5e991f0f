//! What can go wrong answering a page or an API call, and the one place that
//! chooses the HTTP status for it.

use crate::html::{self, Frame, Nav};
use crate::i18n::Text;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use egov_analytics::ReportError;

#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    #[error("{0}")]
    BadRequest(String),
    #[error("unit `{0}` is not in the unit catalogue")]
    UnknownUnit(String),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error("the figures were not computed within {0} ms")]
    Timeout(u64),
    #[error("kafka: {0}")]
    Kafka(String),
    #[error("{0}")]
    Internal(String),
    #[error("serving: {0}")]
    Io(#[from] std::io::Error),
}

impl DashboardError {
    /// The HTTP status of every answer that is not a success.
    pub fn status(&self) -> StatusCode {
        match self {
            DashboardError::BadRequest(_) => StatusCode::BAD_REQUEST,
            DashboardError::UnknownUnit(_) => StatusCode::NOT_FOUND,
            DashboardError::Report(ReportError::EmptyPeriod { .. }) => StatusCode::BAD_REQUEST,
            DashboardError::Report(ReportError::UnknownUnit(_)) => StatusCode::NOT_FOUND,
            DashboardError::Report(ReportError::ClickHouse(_))
            | DashboardError::Timeout(_)
            | DashboardError::Kafka(_) => StatusCode::SERVICE_UNAVAILABLE,
            DashboardError::Report(_) | DashboardError::Internal(_) | DashboardError::Io(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// The `error` field of the JSON answer.
    pub fn code(&self) -> &'static str {
        match self.status() {
            StatusCode::BAD_REQUEST => "bad_request",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::SERVICE_UNAVAILABLE => "unavailable",
            _ => "internal",
        }
    }
}

/// The API's answer: `{"error", "message"}` with the status.
impl IntoResponse for DashboardError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), error = %self, "dashboard request failed");
        }
        let body = serde_json::json!({"error": self.code(), "message": self.to_string()});
        (status, Json(body)).into_response()
    }
}

/// A page's failure: the same status, as a page in the reader's language.
#[derive(Debug)]
pub struct PageError {
    pub error: DashboardError,
    pub frame: Frame,
    pub nav: Nav,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.error.status();
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), error = %self.error, "dashboard page failed");
        }
        let body = format!(
            "<div class=\"error\" id=\"error\" data-status=\"{}\">{}</div>",
            status.as_u16(),
            html::escape(&self.error.to_string())
        );
        let page = html::page(
            &self.frame,
            self.nav,
            self.frame.t(Text::Error),
            true,
            &body,
        );
        (status, Html(page)).into_response()
    }
}
