//! `[scorecard]`: when `egov scorecard` (and the dashboard's scorecard) flags a
//! unit.

use super::ConfigError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScorecardSection {
    /// A source system of a unit is silent when it sent events for that unit
    /// before but none dated within this many days up to the period's end.
    pub silent_after_days: u32,
    /// A unit whose `signed_rate` is below this (0..=1) is flagged.
    pub min_signing_rate: f64,
    /// A unit whose `on_time_rate` is below this (0..=1) is flagged.
    pub min_on_time_rate: f64,
}

impl Default for ScorecardSection {
    fn default() -> Self {
        Self {
            silent_after_days: 7,
            min_signing_rate: 0.90,
            min_on_time_rate: 0.95,
        }
    }
}

impl ScorecardSection {
    /// Thresholds are fractions between 0 and 1, and a unit is silent after at
    /// least one day.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.silent_after_days == 0 {
            return Err(ConfigError::Invalid(
                "scorecard.silent_after_days must be at least 1".into(),
            ));
        }
        for (name, value) in [
            ("min_signing_rate", self.min_signing_rate),
            ("min_on_time_rate", self.min_on_time_rate),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(ConfigError::Invalid(format!(
                    "scorecard.{name} must be a fraction between 0 and 1 (0.9 for 90%), not {value}"
                )));
            }
        }
        Ok(())
    }
}
