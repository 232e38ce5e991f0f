//! Whole-request errors of the ingest API. Every HTTP status the service
//! answers `POST /v1/events` with, other than 200, is chosen here.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or unknown bearer token")]
    Unauthorized,
    #[error("unsupported content type `{0}`: send application/json or application/x-ndjson")]
    UnsupportedMediaType(String),
    #[error("unsupported content encoding `{0}`: send gzip or nothing")]
    UnsupportedEncoding(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("this token sends more than {per_second} events per second; send again in {retry_after_s} s")]
    RateLimited { per_second: f64, retry_after_s: u32 },
    #[error("this token has {limit} requests in flight already; send the request again when one is answered")]
    TooManyInFlight { limit: usize, retry_after_s: u32 },
    #[error("events could not be made durable in time ({reason}); send the request again")]
    Unavailable { reason: String, retry_after_s: u32 },
    #[error("{limit} requests are being handled already; send the request again shortly")]
    Overloaded { limit: usize, retry_after_s: u32 },
    #[error("the request bodies being handled take the {mib} MiB set aside for them; send the request again shortly")]
    BodiesInHand { mib: usize, retry_after_s: u32 },
    #[error("the request was not answered within {after_ms} ms; send it again")]
    Timeout { after_ms: u64, retry_after_s: u32 },
}

impl ApiError {
    /// The `error` field of the answer.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized => "unauthorized",
            ApiError::UnsupportedMediaType(_) | ApiError::UnsupportedEncoding(_) => {
                "unsupported_media_type"
            }
            ApiError::TooLarge(_) => "too_large",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::TooManyInFlight { .. } => "too_many_in_flight",
            ApiError::Unavailable { .. } => "unavailable",
            ApiError::Overloaded { .. } | ApiError::BodiesInHand { .. } => "overloaded",
            ApiError::Timeout { .. } => "timeout",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::UnsupportedMediaType(_) | ApiError::UnsupportedEncoding(_) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::RateLimited { .. } | ApiError::TooManyInFlight { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::Unavailable { .. }
            | ApiError::Overloaded { .. }
            | ApiError::BodiesInHand { .. }
            | ApiError::Timeout { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Seconds for `Retry-After`, for the errors that are worth retrying as they are.
    pub fn retry_after_s(&self) -> Option<u32> {
        match self {
            ApiError::RateLimited { retry_after_s, .. }
            | ApiError::TooManyInFlight { retry_after_s, .. }
            | ApiError::Unavailable { retry_after_s, .. }
            | ApiError::Overloaded { retry_after_s, .. }
            | ApiError::BodiesInHand { retry_after_s, .. }
            | ApiError::Timeout { retry_after_s, .. } => Some(*retry_after_s),
            ApiError::Unauthorized
            | ApiError::UnsupportedMediaType(_)
            | ApiError::UnsupportedEncoding(_)
            | ApiError::TooLarge(_)
            | ApiError::BadRequest(_) => None,
        }
    }

    /// One error of every kind, for the checks that the OpenAPI description
    /// documents each status and code. A new variant must be added here: the
    /// match below has no wildcard so that the compiler points at this list.
    pub fn examples() -> Vec<ApiError> {
        let all = vec![
            ApiError::Unauthorized,
            ApiError::UnsupportedMediaType("text/plain".into()),
            ApiError::UnsupportedEncoding("br".into()),
            ApiError::TooLarge("too large".into()),
            ApiError::BadRequest("not JSON".into()),
            ApiError::RateLimited {
                per_second: 10.0,
                retry_after_s: 1,
            },
            ApiError::TooManyInFlight {
                limit: 16,
                retry_after_s: 1,
            },
            ApiError::Unavailable {
                reason: "Kafka did not acknowledge in time".into(),
                retry_after_s: 2,
            },
            ApiError::Overloaded {
                limit: 64,
                retry_after_s: 1,
            },
            ApiError::BodiesInHand {
                mib: 128,
                retry_after_s: 1,
            },
            ApiError::Timeout {
                after_ms: 30_000,
                retry_after_s: 1,
            },
        ];
        for error in &all {
            match error {
                ApiError::Unauthorized
                | ApiError::UnsupportedMediaType(_)
                | ApiError::UnsupportedEncoding(_)
                | ApiError::TooLarge(_)
                | ApiError::BadRequest(_)
                | ApiError::RateLimited { .. }
                | ApiError::TooManyInFlight { .. }
                | ApiError::Unavailable { .. }
                | ApiError::Overloaded { .. }
                | ApiError::BodiesInHand { .. }
                | ApiError::Timeout { .. } => {}
            }
        }
        all
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = Json(json!({"error": self.code(), "message": self.to_string()}));
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        if let ApiError::Unauthorized = self {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = self.retry_after_s() {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_errors_carry_retry_after_and_the_others_do_not() {
        for error in ApiError::examples() {
            let status = error.status();
            let retry = error.retry_after_s();
            let response = error.into_response();
            assert_eq!(response.status(), status);
            assert_eq!(
                response.headers().contains_key(header::RETRY_AFTER),
                retry.is_some(),
                "{status}"
            );
            assert_eq!(
                retry.is_some(),
                status == StatusCode::TOO_MANY_REQUESTS
                    || status == StatusCode::SERVICE_UNAVAILABLE
            );
        }
    }
}
