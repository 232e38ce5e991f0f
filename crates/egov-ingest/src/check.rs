//! Checking a request's events, one at a time: each is read once into typed
//! fields borrowed from the body ([`Contract::check`]), validated against the
//! contract, the catalogue and its sender, and kept as the place of its bytes
//! in the body: Kafka gets the event exactly as it was sent, never serialised
//! again. Per-event errors are counted in full but listed only up to
//! `max_errors_per_response`.

use crate::body::BodyEvent;
use crate::{AppState, EventError, IngestAnswer, Sender};
use chrono::{DateTime, Utc};
use egov_model::contract::{ErrorCode, Refusal, Violation};
use egov_model::raw_event::Field;
use egov_model::System;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::ops::Range;

/// An event echoed in an error is cut to this (the contract allows 64).
const MAX_ECHOED_ID_CHARS: usize = 64;

/// An event to produce.
pub(crate) struct Accepted {
    pub index: usize,
    /// The Kafka key: `system:event_id`.
    pub key: String,
    /// Where its bytes are in the decoded body.
    pub range: Range<usize>,
    /// Its seal (`egov_runtime::seal`), when ingest has a key.
    pub seal: Option<String>,
}

impl Accepted {
    pub fn event_id(&self) -> &str {
        self.key.split_once(':').map_or("", |(_, id)| id)
    }
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
fn echoed_id(id: Option<&str>) -> Option<String> {
    let id = id?;
    Some(if id.chars().count() > MAX_ECHOED_ID_CHARS {
        id.chars().take(MAX_ECHOED_ID_CHARS).collect::<String>() + "…"
    } else {
        id.to_owned()
    })
}

/// Where `text` lies in `body`, if it is a part of it.
fn range_in(body: &[u8], text: &str) -> Option<Range<usize>> {
    let start = (text.as_ptr() as usize).checked_sub(body.as_ptr() as usize)?;
    let end = start.checked_add(text.len())?;
    (end <= body.len()).then_some(start..end)
}

/// Splits a request's events, parts of `body`, into those to produce and
/// the per-event errors. `received_ms` is `now` as sealed.
pub(crate) fn check_events(
    state: &AppState,
    sender: &Sender,
    body: &[u8],
    events: &[BodyEvent],
    now: DateTime<Utc>,
    received_ms: &str,
) -> Checked {
    let mut accepted = Vec::with_capacity(events.len());
    let mut errors = Errors::new(state.max_errors_per_response);
    let mut seen_ids: HashSet<Cow<str>> = HashSet::with_capacity(events.len());
    let system = sender.system.as_str();
    for (index, event) in events.iter().enumerate() {
        let text = match event {
            Ok(text) => *text,
            Err(message) => {
                errors.push(EventError {
                    index,
                    event_id: None,
                    code: ErrorCode::Invalid,
                    path: String::new(),
                    message: message.clone(),
                });
                continue;
            }
        };
        let checked = match state.contract.check(text, now, &state.catalogue) {
            Ok(checked) => checked,
            Err(refusal) => {
                let (event_id, violation) = match refusal {
                    Refusal::NotJson(e) => (
                        None,
                        Violation::new(
                            ErrorCode::Invalid,
                            "",
                            format!("the event is not valid JSON: {e}"),
                        ),
                    ),
                    Refusal::Contract {
                        violation,
                        event_id,
                    } => (echoed_id(event_id.as_deref()), violation),
                };
                errors.push(EventError {
                    index,
                    event_id,
                    code: violation.code,
                    path: violation.path,
                    message: violation.message,
                });
                continue;
            }
        };
        let event_id = checked.event_id();
        let verdict: Result<Range<usize>, Violation> =
            if checked.event_type.system() != sender.system {
                Err(Violation::new(
                    ErrorCode::Forbidden,
                    "/event_type",
                    format!(
                        "{} events come from the {} system; this token belongs to {}",
                        checked.event_type,
                        checked.event_type.system(),
                        sender.system
                    ),
                ))
            } else if !sender.may_report_for(&checked.unit.code) {
                Err(Violation::new(
                    ErrorCode::Forbidden,
                    "/unit_code",
                    format!("this token may not report for unit `{}`", checked.unit.code),
                ))
            } else if seen_ids.contains(event_id) {
                Err(Violation::new(
                    ErrorCode::DuplicateInRequest,
                    "/event_id",
                    format!("event_id `{event_id}` appears earlier in this request"),
                ))
            } else {
                range_in(body, text).ok_or_else(|| {
                    Violation::new(
                        ErrorCode::Invalid,
                        "",
                        "the event could not be located in the body (an internal error)",
                    )
                })
            };
        match verdict {
            Ok(range) => {
                let seal = state
                    .seal
                    .as_ref()
                    .map(|key| key.seal(system, received_ms, text.as_bytes()));
                accepted.push(Accepted {
                    index,
                    key: format!("{system}:{event_id}"),
                    range,
                    seal,
                });
                // Borrowed from the body unless the id was sent with escapes.
                if let Field::Str(id) = checked.raw.event_id {
                    seen_ids.insert(id);
                }
            }
            Err(violation) => errors.push(EventError {
                index,
                event_id: echoed_id(Some(event_id)),
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
