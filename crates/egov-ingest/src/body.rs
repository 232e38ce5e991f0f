//! Reading a request body into events: content type, gzip, size and count
//! limits. A body that cannot be read at all is a whole-request error; one bad
//! NDJSON line, or one event over the per-event limit, is only that event's
//! error. Every bound is applied while reading, before any event is parsed
//! into a `Value`: a body of ten million one-character lines stops at the
//! `max_events + 1`-th line, and an over-large event is never parsed.

use crate::error::ApiError;
use axum::body::Body;
use axum::http::{header, HeaderMap};
use http_body_util::BodyExt;
use serde::de::{Error as _, SeqAccess, Visitor};
use serde::Deserializer as _;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::io::Read;

/// One event of a request: its JSON text, or why it was refused before parsing.
pub type BodyEvent<'a> = Result<&'a str, String>;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Of the decoded body, and of the body as sent.
    pub max_body_bytes: usize,
    pub max_events: usize,
    /// Of one event's JSON text.
    pub max_event_bytes: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Ndjson,
}

/// How a body is to be read, from the request's headers: checked before the
/// body is read, so that a body that could not be read costs nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoding {
    pub format: Format,
    pub gzip: bool,
}

impl Encoding {
    pub fn of(headers: &HeaderMap) -> Result<Self, ApiError> {
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
        let format = match essence.as_str() {
            "application/json" => Format::Json,
            "application/x-ndjson" | "application/ndjson" | "application/jsonl" => Format::Ndjson,
            _ => return Err(ApiError::UnsupportedMediaType(content_type.to_owned())),
        };
        let encoding = headers
            .get(header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("identity")
            .trim()
            .to_ascii_lowercase();
        let gzip = match encoding.as_str() {
            "" | "identity" => false,
            "gzip" | "x-gzip" => true,
            other => return Err(ApiError::UnsupportedEncoding(other.to_owned())),
        };
        Ok(Self { format, gzip })
    }
}

fn too_large(limits: &Limits) -> ApiError {
    ApiError::TooLarge(format!(
        "the decoded body is larger than {} bytes; split it into smaller requests",
        limits.max_body_bytes
    ))
}

/// The bytes the body as sent will take: its `Content-Length`, or the limit
/// when it has none; refused when that is over the limit.
pub fn announced(headers: &HeaderMap, limits: &Limits) -> Result<usize, ApiError> {
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match announced {
        Some(length) if length > limits.max_body_bytes as u64 => Err(too_large(limits)),
        Some(length) => Ok(length as usize),
        None => Ok(limits.max_body_bytes),
    }
}

/// The body as sent, at most `max_body_bytes`, read into one buffer of the
/// announced size (no copy of the chunks).
pub async fn read(body: Body, headers: &HeaderMap, limits: &Limits) -> Result<Vec<u8>, ApiError> {
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|length| length > limits.max_body_bytes as u64) {
        return Err(too_large(limits));
    }
    let capacity = announced.map_or(0, |length| length as usize);
    let mut buffer = Vec::with_capacity(capacity);
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| ApiError::BadRequest(format!("the body could not be read: {e}")))?;
        if let Ok(data) = frame.into_data() {
            if buffer.len() + data.len() > limits.max_body_bytes {
                return Err(too_large(limits));
            }
            buffer.extend_from_slice(&data);
        }
    }
    Ok(buffer)
}

/// Undoes `Content-Encoding: gzip`, stopping as soon as the output passes the
/// limit so that a small bomb cannot take much memory. `reserve` is asked
/// for every byte of capacity before it is taken, and may refuse.
pub fn decode<'a>(
    encoding: Encoding,
    body: &'a [u8],
    limits: &Limits,
    reserve: &mut dyn FnMut(usize) -> Result<(), ApiError>,
) -> Result<Cow<'a, [u8]>, ApiError> {
    if !encoding.gzip {
        if body.len() > limits.max_body_bytes {
            return Err(too_large(limits));
        }
        return Ok(Cow::Borrowed(body));
    }
    let cap = limits.max_body_bytes.saturating_add(1);
    // Grown by hand: growing by doubling could reserve twice the limit.
    let initial = body.len().saturating_mul(4).min(cap);
    reserve(initial)?;
    let mut decoded = Vec::with_capacity(initial);
    let mut decoder = flate2::read::MultiGzDecoder::new(body);
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = decoder
            .read(&mut chunk)
            .map_err(|e| ApiError::BadRequest(format!("the gzip body cannot be decoded: {e}")))?;
        if n == 0 {
            return Ok(Cow::Owned(decoded));
        }
        if decoded.len() + n > limits.max_body_bytes {
            return Err(too_large(limits));
        }
        if decoded.capacity() - decoded.len() < n {
            let wanted = decoded
                .capacity()
                .saturating_mul(2)
                .min(cap)
                .max(decoded.len() + n);
            reserve(wanted.saturating_sub(decoded.capacity()))?;
            decoded.reserve_exact(wanted.saturating_sub(decoded.len()));
        }
        decoded.extend_from_slice(&chunk[..n]);
    }
}

fn too_many(limits: &Limits) -> ApiError {
    ApiError::TooLarge(format!(
        "the request has more than {max} events; at most {max} are accepted per request",
        max = limits.max_events
    ))
}

/// The event's text, or its per-event error when it is over the limit.
fn sized<'a>(text: &'a str, limits: &Limits) -> BodyEvent<'a> {
    if text.len() > limits.max_event_bytes {
        Err(format!(
            "the event is {} bytes; at most {} bytes are accepted per event",
            text.len(),
            limits.max_event_bytes
        ))
    } else {
        Ok(text)
    }
}

/// The events of a decoded body, in request order, each one's JSON text.
pub fn events<'a>(
    format: Format,
    decoded: &'a [u8],
    limits: &Limits,
) -> Result<Vec<BodyEvent<'a>>, ApiError> {
    match format {
        Format::Json => json_events(decoded, limits),
        Format::Ndjson => {
            let text = std::str::from_utf8(decoded)
                .map_err(|e| ApiError::BadRequest(format!("the body is not UTF-8: {e}")))?;
            let mut events = Vec::new();
            for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                if events.len() == limits.max_events {
                    return Err(too_many(limits));
                }
                events.push(sized(line, limits));
            }
            Ok(events)
        }
    }
}

fn not_json(e: serde_json::Error) -> ApiError {
    ApiError::BadRequest(format!("the body is not valid JSON: {e}"))
}

/// One object, or an array read element by element, its text kept as sent.
fn json_events<'a>(decoded: &'a [u8], limits: &Limits) -> Result<Vec<BodyEvent<'a>>, ApiError> {
    let first = decoded.iter().find(|b| !b" \t\r\n".contains(b));
    match first {
        Some(b'{') => {
            let event: &RawValue = serde_json::from_slice(decoded).map_err(not_json)?;
            Ok(vec![sized(event.get(), limits)])
        }
        Some(b'[') => {
            let mut events = Vec::new();
            let mut over = false;
            let mut deserializer = serde_json::Deserializer::from_slice(decoded);
            let read = deserializer.deserialize_seq(Elements {
                events: &mut events,
                limits,
                over: &mut over,
            });
            if over {
                return Err(too_many(limits));
            }
            read.and_then(|()| deserializer.end()).map_err(not_json)?;
            Ok(events)
        }
        _ => Err(ApiError::BadRequest(
            "the body must be one event object or an array of events".into(),
        )),
    }
}

/// Reads an array's elements as raw text, refusing the `max_events + 1`-th.
struct Elements<'v, 'a> {
    events: &'v mut Vec<BodyEvent<'a>>,
    limits: &'v Limits,
    over: &'v mut bool,
}

impl<'a> Visitor<'a> for Elements<'_, 'a> {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("an array of events")
    }

    fn visit_seq<A: SeqAccess<'a>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(event) = seq.next_element::<&'a RawValue>()? {
            if self.events.len() == self.limits.max_events {
                *self.over = true;
                return Err(A::Error::custom("too many events"));
            }
            self.events.push(sized(event.get(), self.limits));
        }
        Ok(())
    }
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
        max_event_bytes: 100,
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

    /// What the handler does with a body that has been read.
    fn read_events(
        headers: &HeaderMap,
        body: &[u8],
        limits: &Limits,
    ) -> Result<Vec<Result<String, String>>, ApiError> {
        let encoding = Encoding::of(headers)?;
        let decoded = decode(encoding, body, limits, &mut |_| Ok(()))?;
        let events = events(encoding.format, &decoded, limits)?;
        Ok(events
            .into_iter()
            .map(|event| event.map(str::to_owned))
            .collect())
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
            br#" {"a":1}"#,
            &LIMITS,
        )?;
        assert_eq!(one, vec![Ok(r#"{"a":1}"#.to_owned())]);
        let many = read_events(
            &headers("application/json", None),
            br#"[{"a":1}, {"a": 2}]"#,
            &LIMITS,
        )?;
        assert_eq!(
            many,
            vec![Ok(r#"{"a":1}"#.to_owned()), Ok(r#"{"a": 2}"#.to_owned())]
        );
        let lines = read_events(
            &headers("application/x-ndjson", None),
            b"{\"a\":1}\n\nnot json\r\n{\"a\":3}\n",
            &LIMITS,
        )?;
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[1],
            Ok("not json".to_owned()),
            "parsed later, per event"
        );
        Ok(())
    }

    #[test]
    fn an_event_over_the_per_event_limit_is_only_that_events_error() -> Result<(), ApiError> {
        let big = format!(r#"{{"a":"{}"}}"#, "x".repeat(100));
        let body = format!(r#"[{{"a":1}},{big}]"#);
        let events = read_events(&headers("application/json", None), body.as_bytes(), &LIMITS)?;
        assert_eq!(events[0], Ok(r#"{"a":1}"#.to_owned()));
        assert!(
            matches!(&events[1], Err(message) if message.contains("at most 100 bytes")),
            "{events:?}"
        );
        let lines = format!("{big}\n{{}}\n");
        let events = read_events(
            &headers("application/x-ndjson", None),
            lines.as_bytes(),
            &LIMITS,
        )?;
        assert!(events[0].is_err() && events[1].is_ok(), "{events:?}");
        let alone = read_events(&headers("application/json", None), big.as_bytes(), &LIMITS)?;
        assert!(alone[0].is_err());
        Ok(())
    }

    #[test]
    fn counting_stops_at_one_past_the_limit() {
        let limits = Limits {
            max_body_bytes: 1 << 20,
            ..LIMITS
        };
        // Half a million one-character lines: refused at the fourth.
        let lines = "x\n".repeat(500_000);
        let refused = read_events(
            &headers("application/x-ndjson", None),
            lines.as_bytes(),
            &limits,
        );
        assert!(
            matches!(&refused, Err(ApiError::TooLarge(m)) if m.contains("at most 3")),
            "{refused:?}"
        );
        // An array whose tail is not even JSON: the count limit comes first.
        let array = format!("[{}", "1,".repeat(100_000));
        assert!(matches!(
            read_events(
                &headers("application/json", None),
                array.as_bytes(),
                &limits
            ),
            Err(ApiError::TooLarge(_))
        ));
        // Three are fine.
        assert!(matches!(
            read_events(&headers("application/json", None), b"[1,2,3]", &limits),
            Ok(events) if events.len() == 3
        ));
    }

    #[test]
    fn refusals() {
        let json = headers("application/json", None);
        assert!(matches!(
            read_events(&headers("text/plain", None), b"{}", &LIMITS),
            Err(ApiError::UnsupportedMediaType(_))
        ));
        for body in [&b"{"[..], b"[{", b"[{}] x", b"", b"42", b"nope"] {
            assert!(
                matches!(
                    read_events(&json, body, &LIMITS),
                    Err(ApiError::BadRequest(_))
                ),
                "{body:?}"
            );
        }
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

    #[test]
    fn decoding_reserves_at_most_the_limit() -> Result<(), ApiError> {
        let limits = Limits {
            max_body_bytes: 100_000,
            ..LIMITS
        };
        let body = gzip(&vec![b' '; 99_000]).map_err(|e| ApiError::BadRequest(e.to_string()))?;
        let gzip_json = Encoding {
            format: Format::Json,
            gzip: true,
        };
        let mut reserved = 0;
        let decoded = decode(gzip_json, &body, &limits, &mut |bytes| {
            reserved += bytes;
            Ok(())
        })?;
        assert_eq!(decoded.len(), 99_000);
        assert!(reserved <= 100_001, "{reserved}");
        // A refusal stops the decoding.
        reserved = 0;
        let refused = decode(gzip_json, &body, &limits, &mut |bytes| {
            reserved += bytes;
            if reserved > 50_000 {
                Err(ApiError::TooLarge("no room".into()))
            } else {
                Ok(())
            }
        });
        assert!(refused.is_err());
        if let Cow::Owned(vec) = decoded {
            assert!(vec.capacity() <= 100_001, "{}", vec.capacity());
        }
        Ok(())
    }
}
