//! One module per page: its data (also the JSON of `/api/…`) and its HTML.

pub mod late;
pub mod overview;
pub mod pipeline;
pub mod scorecard;
pub mod unit;
