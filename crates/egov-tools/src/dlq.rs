//! The operator's side of the dead-letter topic (`egov dlq list` and
//! `egov dlq replay`). The letters' format, reasons and delivery are
//! [`egov_runtime::dead_letter`]'s.

mod render;
pub mod replay;

pub use render::{render_table, shown, MAX_SHOWN_BYTES};
