//! The operator endpoints every service serves: `/healthz` (alive) and
//! `/metrics` (Prometheus text format).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;

/// Routes for `/healthz` and `/metrics`; `/metrics` answers 404 when this
/// process has no Prometheus recorder (e.g. in tests).
pub fn router(metrics: Option<PrometheusHandle>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(render_metrics))
        .with_state(metrics)
}

async fn render_metrics(State(metrics): State<Option<PrometheusHandle>>) -> impl IntoResponse {
    match metrics {
        Some(handle) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            handle.render(),
        ),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain")],
            "no metrics recorder in this process\n".to_owned(),
        ),
    }
}
