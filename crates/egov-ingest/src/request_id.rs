//! The request id: taken from an incoming `x-request-id` when it is sane,
//! generated otherwise; it is on every log line of the request (a span
//! field), in the Kafka headers of its events and in the answer's headers.

use axum::http::HeaderMap;

pub const HEADER: &str = "x-request-id";
/// The longest incoming id that is kept.
pub const MAX_LEN: usize = 64;

/// `value` if it is 1 to 64 characters of `A-Z a-z 0-9 . _ -`: safe in logs,
/// headers and Kafka headers. Anything else is replaced, not cleaned up.
pub fn sanitise(value: &str) -> Option<&str> {
    let sane = !value.is_empty()
        && value.len() <= MAX_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    sane.then_some(value)
}

/// The id of a request: the sender's if sane, a new UUID otherwise.
pub fn from_headers(headers: &HeaderMap) -> String {
    headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(sanitise)
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn sane_ids_are_kept() {
        for id in ["a", "req-1.2_3", "550e8400-e29b-41d4-a716-446655440000"] {
            assert_eq!(sanitise(id), Some(id));
        }
        let longest = "x".repeat(MAX_LEN);
        assert_eq!(sanitise(&longest), Some(longest.as_str()));
    }

    #[test]
    fn anything_else_is_refused() {
        let too_long = "x".repeat(MAX_LEN + 1);
        for id in [
            "",
            too_long.as_str(),
            "with space",
            "new\nline",
            "semi;colon",
            "ünicode",
            "a/b",
            "{\"json\":1}",
        ] {
            assert_eq!(sanitise(id), None, "{id:?}");
        }
    }

    #[test]
    fn headers_give_the_senders_id_or_a_new_one() {
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, HeaderValue::from_static("abc-123"));
        assert_eq!(from_headers(&headers), "abc-123");
        headers.insert(HEADER, HeaderValue::from_static("bad id!"));
        let generated = from_headers(&headers);
        assert!(uuid::Uuid::parse_str(&generated).is_ok(), "{generated}");
        assert_ne!(from_headers(&HeaderMap::new()), generated);
    }
}
