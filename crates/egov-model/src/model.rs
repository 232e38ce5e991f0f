//! The event model shared by every service: source systems, levels, event types
//! and the curated event that transform produces and load writes to ClickHouse.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A source system; each ingest token belongs to exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum System {
    /// The document management system (quản lý văn bản).
    Documents,
    /// The one-stop system (một cửa).
    Onestop,
}

impl System {
    pub const ALL: [System; 2] = [System::Documents, System::Onestop];

    pub fn as_str(self) -> &'static str {
        match self {
            System::Documents => "documents",
            System::Onestop => "onestop",
        }
    }
}

impl fmt::Display for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for System {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "documents" => Ok(System::Documents),
            "onestop" => Ok(System::Onestop),
            other => Err(UnknownName(other.to_owned())),
        }
    }
}

/// The administrative level of a unit, and so of every event it reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Province,
    District,
    Commune,
}

impl Level {
    pub const ALL: [Level; 3] = [Level::Province, Level::District, Level::Commune];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Province => "province",
            Level::District => "district",
            Level::Commune => "commune",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "province" => Ok(Level::Province),
            "district" => Ok(Level::District),
            "commune" => Ok(Level::Commune),
            other => Err(UnknownName(other.to_owned())),
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown name `{0}`")]
pub struct UnknownName(pub String);

/// Every event type of contract v1 (sections 3 and 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum EventType {
    #[serde(rename = "document.received")]
    DocumentReceived,
    #[serde(rename = "document.issued")]
    DocumentIssued,
    #[serde(rename = "document.completed")]
    DocumentCompleted,
    #[serde(rename = "dossier.received")]
    DossierReceived,
    #[serde(rename = "dossier.supplement_requested")]
    DossierSupplementRequested,
    #[serde(rename = "dossier.supplement_received")]
    DossierSupplementReceived,
    #[serde(rename = "dossier.resolved")]
    DossierResolved,
    #[serde(rename = "dossier.returned")]
    DossierReturned,
    #[serde(rename = "dossier.refused")]
    DossierRefused,
    #[serde(rename = "dossier.withdrawn")]
    DossierWithdrawn,
}

impl EventType {
    pub const ALL: [EventType; 10] = [
        EventType::DocumentReceived,
        EventType::DocumentIssued,
        EventType::DocumentCompleted,
        EventType::DossierReceived,
        EventType::DossierSupplementRequested,
        EventType::DossierSupplementReceived,
        EventType::DossierResolved,
        EventType::DossierReturned,
        EventType::DossierRefused,
        EventType::DossierWithdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::DocumentReceived => "document.received",
            EventType::DocumentIssued => "document.issued",
            EventType::DocumentCompleted => "document.completed",
            EventType::DossierReceived => "dossier.received",
            EventType::DossierSupplementRequested => "dossier.supplement_requested",
            EventType::DossierSupplementReceived => "dossier.supplement_received",
            EventType::DossierResolved => "dossier.resolved",
            EventType::DossierReturned => "dossier.returned",
            EventType::DossierRefused => "dossier.refused",
            EventType::DossierWithdrawn => "dossier.withdrawn",
        }
    }

    /// The source system that may send this type.
    pub fn system(self) -> System {
        match self {
            EventType::DocumentReceived
            | EventType::DocumentIssued
            | EventType::DocumentCompleted => System::Documents,
            _ => System::Onestop,
        }
    }

    /// The payload field naming the document or dossier the event is about.
    pub fn entity_field(self) -> &'static str {
        match self.system() {
            System::Documents => "document_id",
            System::Onestop => "dossier_id",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventType {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownName(s.to_owned()))
    }
}

/// A normalised event: what transform writes to the curated topic and load
/// inserts into `events`. Times are milliseconds since the Unix epoch (UTC);
/// dates are local dates in Asia/Ho_Chi_Minh as days since 1970-01-01, the
/// representation ClickHouse's `Date` uses on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CuratedEvent {
    pub system: System,
    pub event_id: String,
    pub event_type: EventType,
    pub occurred_ms: i64,
    pub local_date: u16,
    pub unit_code: String,
    pub level: Level,
    /// The district the unit belongs to (the district itself for a district); empty at province level.
    pub district_code: String,
    /// `document_id` or `dossier_id`.
    pub entity_id: String,
    pub channel: String,
    pub procedure_code: String,
    /// `document.issued`: digitally signed.
    pub signed: bool,
    /// `due_at` of `document.received`, `dossier.received` or `dossier.supplement_received`.
    pub due_ms: Option<i64>,
    pub due_date: Option<u16>,
    /// The payload as the source system sent it, unknown fields included.
    pub payload: String,
    pub ingested_ms: i64,
}
