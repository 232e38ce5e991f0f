//! The compact plan the stream is written from: documents, dossiers and
//! events, each a few bytes, with what only one kind of event carries kept in
//! that kind.

use crate::clock::Day;
use egov_model::EventType;
use serde::Serialize;

/// What an event says, with the data only that kind of event has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    DocumentReceived,
    DocumentIssued {
        /// Digitally signed.
        signed: bool,
    },
    DocumentCompleted,
    Received {
        /// The day the dossier is due (`due_at`).
        due: Day,
    },
    SupplementRequested,
    SupplementReceived {
        /// The new due day, counted again from the supplement (`due_at`).
        due: Day,
    },
    Resolved,
    Returned,
    Refused,
    Withdrawn,
}

impl Kind {
    pub(super) fn event_type(self) -> EventType {
        match self {
            Kind::DocumentReceived => EventType::DocumentReceived,
            Kind::DocumentIssued { .. } => EventType::DocumentIssued,
            Kind::DocumentCompleted => EventType::DocumentCompleted,
            Kind::Received { .. } => EventType::DossierReceived,
            Kind::SupplementRequested => EventType::DossierSupplementRequested,
            Kind::SupplementReceived { .. } => EventType::DossierSupplementReceived,
            Kind::Resolved => EventType::DossierResolved,
            Kind::Returned => EventType::DossierReturned,
            Kind::Refused => EventType::DossierRefused,
            Kind::Withdrawn => EventType::DossierWithdrawn,
        }
    }

    /// The suffix of the event id.
    pub(super) fn tag(self) -> &'static str {
        match self {
            Kind::DocumentReceived => "in",
            Kind::DocumentIssued { .. } => "out",
            Kind::DocumentCompleted => "done",
            Kind::Received { .. } => "rcv",
            Kind::SupplementRequested => "sreq",
            Kind::SupplementReceived { .. } => "srec",
            Kind::Resolved => "res",
            Kind::Returned => "ret",
            Kind::Refused => "ref",
            Kind::Withdrawn => "wdr",
        }
    }

    /// A document's event (its entity is a [`DocPlan`]), else a dossier's
    /// (a [`DossierPlan`]).
    pub(super) fn is_document(self) -> bool {
        matches!(
            self,
            Kind::DocumentReceived | Kind::DocumentIssued { .. } | Kind::DocumentCompleted
        )
    }
}

/// One event of the plan.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ev {
    /// Sort key of the natural order (seconds).
    pub(super) deliver: i64,
    /// occurred_at (seconds).
    pub(super) at: i64,
    /// Index of the document or the dossier (see [`Kind::is_document`]).
    pub(super) entity: u32,
    /// Identity of the event: copies (resends) share it.
    pub(super) uid: u32,
    pub(super) kind: Kind,
    /// n-th event of this kind of the entity (part of the event id).
    pub(super) ordinal: u8,
    /// 0 for the original, 1.. for resends.
    pub(super) copy: u8,
}

/// How a document travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum DocChannel {
    NationalAxis,
    ProvincialAxis,
    Email,
    Paper,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct DocPlan {
    pub(super) first_at: i64,
    pub(super) unit: u16,
    pub(super) incoming: bool,
    pub(super) channel: DocChannel,
    /// Number within its unit, direction and year.
    pub(super) seq: u32,
}

/// How a dossier was received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum DossierChannel {
    Direct,
    Online,
    Postal,
}

impl DossierChannel {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            DossierChannel::Direct => "direct",
            DossierChannel::Online => "online",
            DossierChannel::Postal => "postal",
        }
    }
}

/// Who applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Applicant {
    Citizen,
    Business,
    Organization,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct DossierPlan {
    pub(super) received_at: i64,
    pub(super) unit: u16,
    /// Index into [`crate::procedures::PROCEDURES`].
    pub(super) procedure: u16,
    /// Number within its unit and day of receipt.
    pub(super) seq: u16,
    pub(super) channel: DossierChannel,
    pub(super) applicant: Applicant,
}
