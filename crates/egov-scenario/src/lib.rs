//! Event scenarios for the egov pipeline.
#![deny(clippy::unwrap_used, clippy::expect_used)]
