//! `/status`: what a process is, asked rather than guessed (by `egov
//! status`): which command runs it (`ingest`, `transform`, `load`, or `run`:
//! all three in one process), its version, and the pipeline components it
//! holds.

use serde::{Deserialize, Serialize};

pub const STATUS_PATH: &str = "/status";

/// The command a process was started as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Process {
    Ingest,
    Transform,
    Load,
    /// `egov run`: ingest, transform and load in one process.
    Run,
}

/// One component of the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Component {
    Ingest,
    Transform,
    Load,
}

impl Component {
    pub fn as_str(self) -> &'static str {
        match self {
            Component::Ingest => "ingest",
            Component::Transform => "transform",
            Component::Load => "load",
        }
    }
}

impl Process {
    /// The components the process runs.
    pub fn components(self) -> &'static [Component] {
        match self {
            Process::Ingest => &[Component::Ingest],
            Process::Transform => &[Component::Transform],
            Process::Load => &[Component::Load],
            Process::Run => &[Component::Ingest, Component::Transform, Component::Load],
        }
    }
}

/// The answer of `/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessStatus {
    /// `None` for a process that did not say (a test's own readiness).
    pub process: Option<Process>,
    /// The `egov` version (the workspace's).
    pub version: String,
    pub components: Vec<Component>,
}

impl ProcessStatus {
    pub fn of(process: Option<Process>) -> Self {
        Self {
            process,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            components: process.map_or(Vec::new(), |p| p.components().to_vec()),
        }
    }
}
