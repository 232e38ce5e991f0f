//! Dead letters, in one place for transform, load and the `egov dlq` commands:
//! why a message became one ([`Reason`]), the one header format a letter
//! carries ([`Letter`]), how it is delivered to the dead-letter topic
//! ([`deliver`]), and how a letter reads back ([`DeadLetter`]); the operator's
//! list and replay (`egov dlq`) are egov-tools' `dlq`.
//!
//! A letter is the original message (key, value and headers) plus these headers:
//!
//! | header | value |
//! |---|---|
//! | `egov-dlq-reason` | [`Reason::as_str`] |
//! | `egov-dlq-detail` | what went wrong, for a person (at most [`MAX_DETAIL_BYTES`]) |
//! | `egov-dlq-service` | `transform` or `load`: who wrote the letter |
//! | `egov-dlq-topic`, `egov-dlq-partition`, `egov-dlq-offset` | where the message was read (its origin; replay sends it back there) |
//! | `egov-dlq-at-ms` | when, milliseconds since the epoch |
//! | `egov-dlq-truncated` | only when Kafka refused the letter itself for good: the original value's size in bytes; the letter then has no value and no original headers, and the original is fetched from its origin while retention lasts |

use crate::backoff::{millis, Backoff};
use crate::kafka;
use crate::shutdown::Shutdown;
use egov_model::contract::ErrorCode;
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::Serialize;
use std::time::Duration;

pub const HEADER_REASON: &str = "egov-dlq-reason";
pub const HEADER_DETAIL: &str = "egov-dlq-detail";
pub const HEADER_SERVICE: &str = "egov-dlq-service";
pub const HEADER_TOPIC: &str = "egov-dlq-topic";
pub const HEADER_PARTITION: &str = "egov-dlq-partition";
pub const HEADER_OFFSET: &str = "egov-dlq-offset";
pub const HEADER_AT_MS: &str = "egov-dlq-at-ms";
pub const HEADER_TRUNCATED: &str = "egov-dlq-truncated";
/// Every header of the format starts with this; replay removes them.
pub const HEADER_PREFIX: &str = "egov-dlq-";
/// On a replayed message: the letter it came from, `topic/partition@offset`.
pub const HEADER_REPLAYED_FROM: &str = "egov-replayed-from";

/// The detail header is cut beyond this many bytes.
pub const MAX_DETAIL_BYTES: usize = 2048;
/// A truncated letter keeps the original key only up to this size.
const MAX_TRUNCATED_KEY_BYTES: usize = 256;

/// Why a message is a dead letter: the `reason` of headers, metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A raw message without a value.
    Empty,
    /// A raw message that is not JSON.
    NotJson,
    /// Contract violations (the codes of [`ErrorCode`]).
    Invalid,
    Forbidden,
    UnknownUnit,
    DuplicateInRequest,
    /// A date outside what ClickHouse can hold.
    OutOfRange,
    /// Kafka refused the curated event for good (too large, invalid record):
    /// the letter is the raw message it came from.
    ProduceRefused,
    /// A curated message load cannot decode.
    UndecodableCurated,
}

impl Reason {
    pub const ALL: [Reason; 9] = [
        Reason::Empty,
        Reason::NotJson,
        Reason::Invalid,
        Reason::Forbidden,
        Reason::UnknownUnit,
        Reason::DuplicateInRequest,
        Reason::OutOfRange,
        Reason::ProduceRefused,
        Reason::UndecodableCurated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Empty => "empty",
            Reason::NotJson => "not_json",
            Reason::Invalid => ErrorCode::Invalid.as_str(),
            Reason::Forbidden => ErrorCode::Forbidden.as_str(),
            Reason::UnknownUnit => ErrorCode::UnknownUnit.as_str(),
            Reason::DuplicateInRequest => ErrorCode::DuplicateInRequest.as_str(),
            Reason::OutOfRange => "out_of_range",
            Reason::ProduceRefused => "produce_refused",
            Reason::UndecodableCurated => "undecodable_curated",
        }
    }

    /// The reason a header names, if it is one of ours.
    pub fn parse(text: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

impl From<ErrorCode> for Reason {
    fn from(code: ErrorCode) -> Self {
        match code {
            ErrorCode::Invalid => Reason::Invalid,
            ErrorCode::Forbidden => Reason::Forbidden,
            ErrorCode::UnknownUnit => Reason::UnknownUnit,
            ErrorCode::DuplicateInRequest => Reason::DuplicateInRequest,
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who wrote a letter (a metric label and the `egov-dlq-service` header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Transform,
    Load,
}

impl Service {
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Transform => "transform",
            Service::Load => "load",
        }
    }

    /// Shows `egov_dead_letters_total{service,reason}` of this service at 0 for
    /// every reason from the start: Prometheus's `increase()` sees a series'
    /// first letter only if the series was there before it.
    pub fn register_dead_letter_metrics(self) {
        for reason in Reason::ALL {
            metrics::counter!("egov_dead_letters_total", "service" => self.as_str(), "reason" => reason.as_str())
                .increment(0);
        }
    }
}

/// Where a message was read: its topic, partition and offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}@{}", self.topic, self.partition, self.offset)
    }
}

/// A dead letter about to be produced: the original message and why, where, when.
#[derive(Debug, Clone)]
pub struct Letter {
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    original_headers: Vec<(String, Option<Vec<u8>>)>,
    reason: Reason,
    detail: String,
    service: Service,
    origin: Origin,
    at_ms: i64,
    /// The original value's size, once the letter no longer carries it.
    truncated_from: Option<usize>,
}

impl Letter {
    /// The letter of `message` (its key, value and headers, kept as they are),
    /// counted in `egov_dead_letters_total{service, reason}`.
    pub fn of<M: Message>(
        message: &M,
        reason: Reason,
        detail: impl Into<String>,
        service: Service,
    ) -> Self {
        let original_headers = message
            .headers()
            .map(|headers| {
                headers
                    .iter()
                    // A message that was a letter before (replayed) gets fresh ones.
                    .filter(|h| !h.key.starts_with(HEADER_PREFIX))
                    .map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec)))
                    .collect()
            })
            .unwrap_or_default();
        metrics::counter!("egov_dead_letters_total", "service" => service.as_str(), "reason" => reason.as_str())
            .increment(1);
        Self {
            key: message.key().map(<[u8]>::to_vec),
            value: message.payload().map(<[u8]>::to_vec),
            original_headers,
            reason,
            detail: cut(&detail.into(), MAX_DETAIL_BYTES).into_owned(),
            service,
            origin: Origin {
                topic: message.topic().to_owned(),
                partition: message.partition(),
                offset: message.offset(),
            },
            at_ms: chrono::Utc::now().timestamp_millis(),
            truncated_from: None,
        }
    }

    pub fn reason(&self) -> Reason {
        self.reason
    }

    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    pub fn is_truncated(&self) -> bool {
        self.truncated_from.is_some()
    }

    /// The same letter without the original value and headers (and with the
    /// key only if it is short), for when Kafka refused the whole letter for
    /// good: it still says why, where the original is and how large it was.
    pub fn truncated(&self, refused: &KafkaError) -> Self {
        let key = self
            .key
            .as_ref()
            .filter(|k| k.len() <= MAX_TRUNCATED_KEY_BYTES)
            .cloned();
        let detail = format!(
            "{}; the letter itself was refused by Kafka ({refused}), so it carries no value: read it from {}",
            self.detail, self.origin
        );
        Self {
            key,
            value: None,
            original_headers: Vec::new(),
            detail: cut(&detail, MAX_DETAIL_BYTES).into_owned(),
            truncated_from: Some(self.value.as_ref().map_or(0, Vec::len)),
            origin: self.origin.clone(),
            ..*self
        }
    }

    /// The letter's headers: the original ones, then the format's.
    pub fn headers(&self) -> OwnedHeaders {
        let mut headers = OwnedHeaders::new_with_capacity(self.original_headers.len() + 8);
        for (key, value) in &self.original_headers {
            headers = headers.insert(Header {
                key: key.as_str(),
                value: value.as_deref(),
            });
        }
        let text = |s: &str| Some(s.as_bytes().to_vec());
        let mut ours = vec![
            (HEADER_REASON, text(self.reason.as_str())),
            (HEADER_DETAIL, text(&self.detail)),
            (HEADER_SERVICE, text(self.service.as_str())),
            (HEADER_TOPIC, text(&self.origin.topic)),
            (HEADER_PARTITION, text(&self.origin.partition.to_string())),
            (HEADER_OFFSET, text(&self.origin.offset.to_string())),
            (HEADER_AT_MS, text(&self.at_ms.to_string())),
        ];
        if let Some(bytes) = self.truncated_from {
            ours.push((HEADER_TRUNCATED, text(&bytes.to_string())));
        }
        for (key, value) in &ours {
            headers = headers.insert(Header {
                key,
                value: value.as_deref(),
            });
        }
        headers
    }

    /// The record producing this letter to `topic`.
    pub fn record<'a>(&'a self, topic: &'a str) -> FutureRecord<'a, [u8], [u8]> {
        let mut record = FutureRecord::to(topic).headers(self.headers());
        if let Some(key) = &self.key {
            record = record.key(key.as_slice());
        }
        if let Some(value) = &self.value {
            record = record.payload(value.as_slice());
        }
        record
    }
}

/// Produces `letter` to `topic` until Kafka acknowledges it; `false` only if
/// shutdown came first. Transient errors are retried with backoff. If Kafka
/// refuses the letter for good (e.g. the original is larger than the topic
/// allows), the [truncated](Letter::truncated) letter goes instead, logged as
/// an error; should even that be refused, it keeps retrying (never dropped)
/// with an error logged per attempt, until the topic is fixed.
pub async fn deliver(
    producer: &FutureProducer,
    topic: &str,
    letter: &Letter,
    shutdown: &mut Shutdown,
) -> bool {
    let origin = letter.origin.to_string();
    let reason = letter.reason.as_str();
    let refused =
        match kafka::produce_until_settled(producer, || letter.record(topic), shutdown).await {
            None => return false,
            Some(Ok(())) => return true,
            Some(Err(error)) => error,
        };
    tracing::error!(topic, reason, %origin, original_bytes = letter.value.as_ref().map_or(0, Vec::len), error = %refused,
        "dead letter refused for good; sending it truncated (no value): the original stays readable at its origin until retention");
    let truncated = letter.truncated(&refused);
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
    loop {
        let pause = backoff.pause();
        match kafka::produce_until_settled(producer, || truncated.record(topic), shutdown).await {
            None => return false,
            Some(Ok(())) => return true,
            Some(Err(error)) => {
                tracing::error!(topic, reason, %origin, %error, retry_in_ms = millis(pause),
                    "the truncated dead letter is refused too; check the topic's max.message.bytes; retrying");
            }
        }
        if !Backoff::sleep(pause, shutdown).await {
            return false;
        }
    }
}

/// A dead letter as `egov dlq list` shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DeadLetter {
    /// Where the letter is in the dead-letter topic.
    pub partition: i32,
    pub offset: i64,
    /// As written: one of [`Reason`], or another writer's text.
    pub reason: String,
    pub detail: String,
    /// `transform` or `load` (empty for letters from before the header existed).
    pub service: String,
    /// Where the message was read when it failed.
    pub origin: Option<Origin>,
    pub dead_at_ms: i64,
    pub event_id: Option<String>,
    /// The letter's value size.
    pub bytes: usize,
    /// The original value's size when the letter was truncated.
    pub truncated_from: Option<u64>,
    /// The letter this message was replayed from, when it failed again after a replay.
    pub replayed_from: Option<String>,
}

impl DeadLetter {
    pub fn from_message<M: Message>(message: &M) -> Self {
        let text = |name: &str| kafka::header(message, name).unwrap_or_default().to_owned();
        let origin = match (
            kafka::header(message, HEADER_TOPIC),
            kafka::header(message, HEADER_PARTITION).and_then(|p| p.parse().ok()),
            kafka::header(message, HEADER_OFFSET).and_then(|o| o.parse().ok()),
        ) {
            (Some(topic), Some(partition), Some(offset)) => Some(Origin {
                topic: topic.to_owned(),
                partition,
                offset,
            }),
            _ => None,
        };
        let event_id = message
            .payload()
            .and_then(|p| serde_json::from_slice::<serde_json::Value>(p).ok())
            .and_then(|v| v.get("event_id")?.as_str().map(str::to_owned));
        Self {
            partition: message.partition(),
            offset: message.offset(),
            reason: text(HEADER_REASON),
            detail: text(HEADER_DETAIL),
            service: text(HEADER_SERVICE),
            origin,
            dead_at_ms: text(HEADER_AT_MS).parse().unwrap_or(0),
            event_id,
            bytes: message.payload().map_or(0, <[u8]>::len),
            truncated_from: kafka::header(message, HEADER_TRUNCATED).and_then(|b| b.parse().ok()),
            replayed_from: kafka::header(message, HEADER_REPLAYED_FROM).map(str::to_owned),
        }
    }
}

/// At most `max` bytes of `value` (on a character boundary), saying how many were cut.
pub fn cut(value: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if value.len() <= max {
        return value.into();
    }
    let mut end = max;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} more bytes)", &value[..end], value.len() - end).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::message::OwnedMessage;
    use rdkafka::Timestamp;

    fn raw_message() -> OwnedMessage {
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: kafka::HEADER_SYSTEM,
                value: Some("onestop"),
            })
            .insert(Header {
                key: HEADER_REASON,
                value: Some("not_json"),
            });
        OwnedMessage::new(
            Some(b"{\"event_id\":\"e-1\"}".to_vec()),
            Some(b"onestop:e-1".to_vec()),
            "egov.raw.v1".into(),
            Timestamp::NotAvailable,
            2,
            41,
            Some(headers),
        )
    }

    #[test]
    fn every_reason_reads_back_from_its_name() {
        for reason in Reason::ALL {
            assert_eq!(Reason::parse(reason.as_str()), Some(reason));
        }
        assert_eq!(Reason::parse("whatever"), None);
        assert_eq!(
            Reason::from(ErrorCode::UnknownUnit).as_str(),
            "unknown_unit"
        );
    }

    #[test]
    fn a_letter_keeps_the_original_and_reads_back() {
        let message = raw_message();
        let letter = Letter::of(
            &message,
            Reason::ProduceRefused,
            "too large",
            Service::Transform,
        );
        let written = OwnedMessage::new(
            message.payload().map(<[u8]>::to_vec),
            message.key().map(<[u8]>::to_vec),
            "egov.dlq.v1".into(),
            Timestamp::NotAvailable,
            0,
            7,
            Some(letter.headers()),
        );
        assert_eq!(
            kafka::header(&written, kafka::HEADER_SYSTEM),
            Some("onestop")
        );
        let read = DeadLetter::from_message(&written);
        assert_eq!(
            read.reason, "produce_refused",
            "an old reason header is replaced"
        );
        assert_eq!(read.service, "transform");
        assert_eq!(
            read.origin.as_ref().map(Origin::to_string).as_deref(),
            Some("egov.raw.v1/2@41")
        );
        assert_eq!(read.event_id.as_deref(), Some("e-1"));
        assert_eq!(read.truncated_from, None);
        let reasons = written
            .headers()
            .map(|h| h.iter().filter(|h| h.key == HEADER_REASON).count());
        assert_eq!(reasons, Some(1));
    }

    #[test]
    fn a_truncated_letter_says_how_large_the_original_was_and_where_it_is() {
        let letter = Letter::of(
            &raw_message(),
            Reason::ProduceRefused,
            "too large",
            Service::Transform,
        )
        .truncated(&KafkaError::MessageProduction(
            rdkafka::types::RDKafkaErrorCode::MessageSizeTooLarge,
        ));
        let record = letter.record("dlq");
        assert!(record.payload.is_none());
        assert_eq!(record.key, Some(&b"onestop:e-1"[..]));
        let written = OwnedMessage::new(
            None,
            None,
            "dlq".into(),
            Timestamp::NotAvailable,
            0,
            0,
            Some(letter.headers()),
        );
        let read = DeadLetter::from_message(&written);
        assert_eq!(read.truncated_from, Some(18));
        assert!(read.detail.contains("egov.raw.v1/2@41"), "{}", read.detail);
        assert_eq!(kafka::header(&written, kafka::HEADER_SYSTEM), None);
    }
}
