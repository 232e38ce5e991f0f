//! Checking a request's events, one at a time: each is parsed, validated
//! against the contract, the catalogue and its sender, and serialised for
//! Kafka before the next is parsed, so that a request never holds more than
//! one parsed event. Per-event errors are counted in full but listed only up
//! to `max_errors_per_response`.

use crate::body::BodyEvent;
use crate::{AppState, EventError, IngestAnswer, Sender};
use chrono::{DateTime, Utc};
use egov_common::contract::{ErrorCode, Violation};
use egov_common::System;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// An event echoed in an error is cut to this (the contract allows 64).
const MAX_ECHOED_ID_CHARS: usize = 64;

/// An event to produce.
pub(crate) struct Accepted {
    pub index: usize,
    pub event_id: String,
    pub payload: Vec<u8>,
}

/// The per-event errors of a request: all counted, the first few listed.
pub(crate) struct Errors {
    listed: Vec<EventError>,
    rejected: usize,
    by_code: HashMap<ErrorCode, u64>,
    max_listed: usize,
}

impl Errors {
    fn new(max_listed: usize) -> Self {
        Self {
            listed: Vec::new(),
            rejected: 0,
            by_code: HashMap::new(),
            max_listed,
        }
    }

    pub fn push(&mut self, error: EventError) {
        self.rejected += 1;
        *self.by_code.entry(error.code).or_default() += 1;
        if self.listed.len() < self.max_listed {
            self.listed.push(error);
        }
    }

    /// `egov_ingest_events_total` of the refused events, one increment per code.
    pub fn count(&self, system: System) {
        for (code, count) in &self.by_code {
            metrics::counter!("egov_ingest_events_total", "system" => system.as_str(), "outcome" => code.as_str())
                .increment(*count);
        }
    }

    pub fn into_answer(mut self, accepted: usize) -> IngestAnswer {
        // Errors Kafka gave come after the checks'; the answer lists by event.
        self.listed.sort_by_key(|error| error.index);
        IngestAnswer {
            accepted,
            rejected: self.rejected,
            errors_omitted: self.rejected - self.listed.len(),
            errors: self.listed,
        }
    }
}

/// A request's events, checked.
pub(crate) struct Checked {
    /// How many the request carried.
    pub events: usize,
    pub accepted: Vec<Accepted>,
    pub errors: Errors,
}

/// The event id as given, for an error, cut to a bounded length.
fn echoed_id(event: &Value) -> Option<String> {
    let id = event.get("event_id").and_then(Value::as_str)?;
    Some(if id.chars().count() > MAX_ECHOED_ID_CHARS {
        id.chars().take(MAX_ECHOED_ID_CHARS).collect::<String>() + "…"
    } else {
        id.to_owned()
    })
}

/// Splits a request's events into those to produce and the per-event errors.
pub(crate) fn check_events(
    state: &AppState,
    sender: &Sender,
    events: &[BodyEvent],
    now: DateTime<Utc>,
) -> Checked {
    let mut accepted = Vec::new();
    let mut errors = Errors::new(state.max_errors_per_response);
    let mut seen_ids: HashSet<String> = HashSet::new();
    for (index, event) in events.iter().enumerate() {
        let parsed = event.as_ref().map_err(String::clone).and_then(|text| {
            serde_json::from_str::<Value>(text)
                .map_err(|e| format!("the event is not valid JSON: {e}"))
        });
        let event = match parsed {
            Ok(event) => event,
            Err(message) => {
                errors.push(EventError {
                    index,
                    event_id: None,
                    code: ErrorCode::Invalid,
                    path: String::new(),
                    message,
                });
                continue;
            }
        };
        let verdict = state
            .contract
            .validate(&event, now, &state.catalogue)
            .and_then(|valid| {
                if valid.event_type.system() != sender.system {
                    return Err(Violation::new(
                        ErrorCode::Forbidden,
                        "/event_type",
                        format!(
                            "{} events come from the {} system; this token belongs to {}",
                            valid.event_type,
                            valid.event_type.system(),
                            sender.system
                        ),
                    ));
                }
                if !sender.may_report_for(&valid.unit.code) {
                    return Err(Violation::new(
                        ErrorCode::Forbidden,
                        "/unit_code",
                        format!("this token may not report for unit `{}`", valid.unit.code),
                    ));
                }
                if seen_ids.contains(valid.event_id) {
                    return Err(Violation::new(
                        ErrorCode::DuplicateInRequest,
                        "/event_id",
                        format!(
                            "event_id `{}` appears earlier in this request",
                            valid.event_id
                        ),
                    ));
                }
                seen_ids.insert(valid.event_id.to_owned());
                Ok(valid.event_id.to_owned())
            })
            .and_then(|event_id| {
                let payload = serde_json::to_vec(&event)
                    .map_err(|e| Violation::new(ErrorCode::Invalid, "", e.to_string()))?;
                Ok((event_id, payload))
            });
        match verdict {
            Ok((event_id, payload)) => accepted.push(Accepted {
                index,
                event_id,
                payload,
            }),
            Err(violation) => errors.push(EventError {
                index,
                event_id: echoed_id(&event),
                code: violation.code,
                path: violation.path,
                message: violation.message,
            }),
        }
    }
    Checked {
        events: events.len(),
        accepted,
        errors,
    }
}
