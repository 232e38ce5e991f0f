//! Reading a request body into events: content type, gzip, size and count
//! limits. A body that cannot be read at all is a whole-request error; one bad
//! NDJSON line is only that event's error.

use crate::error::ApiError;
use axum::http::{header, HeaderMap};
use serde_json::Value;
use std::io::Read;

/// One event of a request: parsed, or the reason its line could not be parsed.
pub type BodyEvent = Result<Value, String>;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_events: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Ndjson,
}

fn format_of(headers: &HeaderMap) -> Result<Format, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => Ok(Format::Json),
        "application/x-ndjson" | "application/ndjson" | "application/jsonl" => Ok(Format::Ndjson),
        _ => Err(ApiError::UnsupportedMediaType(content_type.to_owned())),
    }
}

fn too_large(limits: &Limits) -> ApiError {
    ApiError::TooLarge(format!(
        "the decoded body is larger than {} bytes; split it into smaller requests",
        limits.max_body_bytes
    ))
}

/// Undoes `Content-Encoding: gzip`, stopping as soon as the output passes the
/// limit so that a small bomb cannot take much memory.
fn decode(headers: &HeaderMap, body: &[u8], limits: &Limits) -> Result<Vec<u8>, ApiError> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    match encoding.as_str() {
        "" | "identity" => {
            if body.len() > limits.max_body_bytes {
                return Err(too_large(limits));
            }
            Ok(body.to_vec())
        }
        "gzip" | "x-gzip" => {
            let mut decoded =
                Vec::with_capacity(body.len().saturating_mul(4).min(limits.max_body_bytes));
            let cap = u64::try_from(limits.max_body_bytes)
                .unwrap_or(u64::MAX)
                .saturating_add(1);
            flate2::read::MultiGzDecoder::new(body)
                .take(cap)
                .read_to_end(&mut decoded)
                .map_err(|e| {
                    ApiError::BadRequest(format!("the gzip body cannot be decoded: {e}"))
                })?;
            if decoded.len() > limits.max_body_bytes {
                return Err(too_large(limits));
            }
            Ok(decoded)
        }
        other => Err(ApiError::UnsupportedEncoding(other.to_owned())),
    }
}

/// The events of a request body, in request order.
pub fn read_events(
    headers: &HeaderMap,
    body: &[u8],
    limits: &Limits,
) -> Result<Vec<BodyEvent>, ApiError> {
    let format = format_of(headers)?;
    let decoded = decode(headers, body, limits)?;
    let events = match format {
        Format::Json => {
            let value: Value = serde_json::from_slice(&decoded)
                .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))?;
            match value {
                Value::Array(items) => items.into_iter().map(Ok).collect(),
                object @ Value::Object(_) => vec![Ok(object)],
                _ => {
                    return Err(ApiError::BadRequest(
                        "the body must be one event object or an array of events".into(),
                    ))
                }
            }
        }
        Format::Ndjson => {
            let text = std::str::from_utf8(&decoded)
                .map_err(|e| ApiError::BadRequest(format!("the body is not UTF-8: {e}")))?;
            text.lines()
                .filter(|line| !line.trim().is_empty())
                .map(|line| {
                    serde_json::from_str::<Value>(line)
                        .map_err(|e| format!("this line is not valid JSON: {e}"))
                })
                .collect()
        }
    };
    if events.len() > limits.max_events {
        return Err(ApiError::TooLarge(format!(
            "the request has {} events; at most {} are accepted per request",
            events.len(),
            limits.max_events
        )));
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use flate2::write::GzEncoder;
    use std::io::Write;

    const LIMITS: Limits = Limits {
        max_body_bytes: 1024,
        max_events: 3,
    };

    fn headers(content_type: &str, encoding: Option<&str>) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("")),
        );
        if let Some(encoding) = encoding {
            map.insert(
                header::CONTENT_ENCODING,
                HeaderValue::from_str(encoding).unwrap_or(HeaderValue::from_static("")),
            );
        }
        map
    }

    fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
        let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(data)?;
        encoder.finish()
    }

    #[test]
    fn object_array_and_ndjson() -> Result<(), ApiError> {
        let one = read_events(
            &headers("application/json; charset=utf-8", None),
            br#"{"a":1}"#,
            &LIMITS,
        )?;
        assert_eq!(one.len(), 1);
        let many = read_events(
            &headers("application/json", None),
            br#"[{"a":1},{"a":2}]"#,
            &LIMITS,
        )?;
        assert_eq!(many.len(), 2);
        let lines = read_events(
            &headers("application/x-ndjson", None),
            b"{\"a\":1}\n\nnot json\n{\"a\":3}\n",
            &LIMITS,
        )?;
        assert_eq!(lines.len(), 3);
        assert!(lines[1].is_err());
        Ok(())
    }

    #[test]
    fn refusals() {
        let json = headers("application/json", None);
        assert!(matches!(
            read_events(&headers("text/plain", None), b"{}", &LIMITS),
            Err(ApiError::UnsupportedMediaType(_))
        ));
        assert!(matches!(
            read_events(&json, b"{", &LIMITS),
            Err(ApiError::BadRequest(_))
        ));
        assert!(matches!(
            read_events(&json, b"42", &LIMITS),
            Err(ApiError::BadRequest(_))
        ));
        assert!(matches!(
            read_events(&json, b"[{},{},{},{}]", &LIMITS),
            Err(ApiError::TooLarge(_))
        ));
        assert!(matches!(
            read_events(&json, &vec![b' '; 2000], &LIMITS),
            Err(ApiError::TooLarge(_))
        ));
        assert!(matches!(
            read_events(&headers("application/json", Some("br")), b"{}", &LIMITS),
            Err(ApiError::UnsupportedEncoding(_))
        ));
    }

    #[test]
    fn gzip_is_decoded_and_bombs_are_stopped() -> std::io::Result<()> {
        let gz = headers("application/json", Some("gzip"));
        let small = gzip(br#"[{"a":1}]"#)?;
        assert!(matches!(read_events(&gz, &small, &LIMITS), Ok(events) if events.len() == 1));
        // 1 MiB of spaces compresses to about a kilobyte but decodes past the limit.
        let bomb = gzip(&vec![b' '; 1 << 20])?;
        assert!(bomb.len() < 4096);
        assert!(matches!(
            read_events(&gz, &bomb, &LIMITS),
            Err(ApiError::TooLarge(_))
        ));
        assert!(matches!(
            read_events(&gz, b"not gzip", &LIMITS),
            Err(ApiError::BadRequest(_))
        ));
        Ok(())
    }
}
