//! Stall detection of the consumer stages. A stage (transform, load) is
//! stalled when messages wait for it (its group's committed offsets are behind
//! the high watermarks) and its committed offsets have not moved for
//! `ops.stall_after_s`: e.g. a transform retrying a produce forever, or a load
//! whose inserts keep failing, stores no offset while everything else looks
//! healthy. [`StallDetector`] decides from measurements and the time alone;
//! the lag reporter ([`crate::lag::spawn_lag_reporter`]) feeds it and reports
//! its verdict to `/readyz` and to `egov_stage_stalled_seconds`.

use egov_model::format::thousands;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// A consumer stage of the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    Transform,
    Load,
}

impl Stage {
    pub const ALL: [Stage; 2] = [Stage::Transform, Stage::Load];

    /// The `service` label of its metrics, and the name of its readiness check.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Transform => "transform",
            Stage::Load => "load",
        }
    }
}

/// A stage is written as its name ([`Stage::as_str`]).
impl serde::Serialize for Stage {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One partition assigned to a stage's consumer, as measured at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionOffsets {
    pub topic: String,
    pub partition: i32,
    /// The next offset this consumer reads (its committed offset before it
    /// has read anything since the assignment).
    pub position: i64,
    /// The group's committed offset: where a restart would resume (the low
    /// watermark when it has committed nothing, or less than that).
    pub committed: i64,
    /// The high watermark: the offset of the next message written.
    pub high: i64,
}

impl PartitionOffsets {
    /// Messages not read yet by this consumer.
    pub fn lag(&self) -> i64 {
        (self.high - self.position).max(0)
    }

    /// Messages whose processing the group has not committed yet.
    pub fn waiting(&self) -> i64 {
        (self.high - self.committed).max(0)
    }
}

/// What [`StallDetector::observe`] found: how long the committed offsets have
/// not moved while messages wait, and how many wait where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stalled {
    pub stalled_for: Duration,
    pub waiting: i64,
    pub topics: Vec<String>,
}

impl Stalled {
    /// The readiness reason: `stalled: no committed progress for 73 s while
    /// 1,204 messages wait on egov.raw.v1`.
    pub fn reason(&self) -> String {
        let messages = if self.waiting == 1 {
            "1 message waits".to_owned()
        } else {
            format!("{} messages wait", thousands(i128::from(self.waiting)))
        };
        format!(
            "stalled: no committed progress for {} s while {messages} on {}",
            self.stalled_for.as_secs(),
            self.topics.join(", ")
        )
    }
}

/// Decides whether a stage is stalled from successive measurements of its
/// partitions. A stall starts at the first measurement that finds messages
/// waiting with committed offsets equal to the previous measurement's (so it
/// is counted from the measurement, never from before it), and ends at the
/// first one where they moved (any partition, or a different assignment) or
/// nothing waits.
#[derive(Debug, Clone)]
pub struct StallDetector {
    stall_after: Duration,
    committed: BTreeMap<(String, i32), i64>,
    /// Since when the committed offsets have not moved while messages wait.
    unmoved_since: Option<Instant>,
}

impl StallDetector {
    /// `stall_after` zero: never stalled.
    pub fn new(stall_after: Duration) -> Self {
        Self {
            stall_after,
            committed: BTreeMap::new(),
            unmoved_since: None,
        }
    }

    /// Takes one measurement made at `now`; `Some` while the stage is stalled.
    pub fn observe(&mut self, partitions: &[PartitionOffsets], now: Instant) -> Option<Stalled> {
        let committed: BTreeMap<(String, i32), i64> = partitions
            .iter()
            .map(|p| ((p.topic.clone(), p.partition), p.committed))
            .collect();
        let moved = committed != self.committed;
        self.committed = committed;
        let waiting: i64 = partitions.iter().map(PartitionOffsets::waiting).sum();
        if waiting == 0 {
            self.unmoved_since = None;
            return None;
        }
        if moved || self.unmoved_since.is_none() {
            self.unmoved_since = Some(now);
        }
        let since = self.unmoved_since.unwrap_or(now);
        let stalled_for = now.saturating_duration_since(since);
        if self.stall_after.is_zero() || stalled_for < self.stall_after {
            return None;
        }
        let topics: BTreeSet<&str> = partitions
            .iter()
            .filter(|p| p.waiting() > 0)
            .map(|p| p.topic.as_str())
            .collect();
        Some(Stalled {
            stalled_for,
            waiting,
            topics: topics.into_iter().map(str::to_owned).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partition(partition: i32, committed: i64, high: i64) -> PartitionOffsets {
        PartitionOffsets {
            topic: "egov.raw.v1".into(),
            partition,
            position: high,
            committed,
            high,
        }
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn unmoved_offsets_with_waiting_messages_stall_after_the_limit() {
        let start = Instant::now();
        let mut detector = StallDetector::new(secs(60));
        let stuck = [partition(0, 100, 1_000), partition(1, 50, 354)];
        assert_eq!(detector.observe(&stuck, start), None);
        assert_eq!(detector.observe(&stuck, start + secs(59)), None);
        let stalled = detector.observe(&stuck, start + secs(73));
        assert_eq!(
            stalled,
            Some(Stalled {
                stalled_for: secs(73),
                waiting: 1_204,
                topics: vec!["egov.raw.v1".into()],
            })
        );
        assert_eq!(
            stalled.map(|s| s.reason()).unwrap_or_default(),
            "stalled: no committed progress for 73 s while 1,204 messages wait on egov.raw.v1"
        );
    }

    #[test]
    fn progress_on_any_partition_ends_the_stall_and_restarts_the_count() {
        let start = Instant::now();
        let mut detector = StallDetector::new(secs(60));
        let stuck = [partition(0, 100, 1_000), partition(1, 50, 354)];
        detector.observe(&stuck, start);
        assert!(detector.observe(&stuck, start + secs(61)).is_some());
        let moved = [partition(0, 100, 1_000), partition(1, 51, 354)];
        assert_eq!(detector.observe(&moved, start + secs(62)), None);
        // Counted again from the measurement after the move, not from the start.
        assert_eq!(detector.observe(&moved, start + secs(121)), None);
        assert_eq!(
            detector
                .observe(&moved, start + secs(122))
                .map(|s| s.stalled_for),
            Some(secs(60))
        );
    }

    #[test]
    fn nothing_waiting_is_never_a_stall() {
        let start = Instant::now();
        let mut detector = StallDetector::new(secs(1));
        let idle = [partition(0, 1_000, 1_000)];
        for n in 0..5 {
            assert_eq!(detector.observe(&idle, start + secs(n * 100)), None);
        }
        // Messages arriving after a long idle time are counted from when they are seen.
        let busy = [partition(0, 1_000, 1_001)];
        assert_eq!(detector.observe(&busy, start + secs(500)), None);
        assert!(detector.observe(&busy, start + secs(501)).is_some());
        // No partition assigned (another instance has them all): nothing waits here.
        assert_eq!(detector.observe(&[], start + secs(600)), None);
    }

    #[test]
    fn a_new_assignment_counts_as_progress() {
        let start = Instant::now();
        let mut detector = StallDetector::new(secs(10));
        detector.observe(&[partition(0, 5, 9)], start);
        assert!(detector
            .observe(&[partition(0, 5, 9)], start + secs(10))
            .is_some());
        let rebalanced = [partition(0, 5, 9), partition(1, 0, 1)];
        assert_eq!(detector.observe(&rebalanced, start + secs(11)), None);
    }

    #[test]
    fn zero_turns_detection_off() {
        let start = Instant::now();
        let mut detector = StallDetector::new(Duration::ZERO);
        let stuck = [partition(0, 0, 1)];
        detector.observe(&stuck, start);
        assert_eq!(detector.observe(&stuck, start + secs(86_400)), None);
    }

    #[test]
    fn the_reason_names_every_topic_and_counts_well() {
        let stalled = Stalled {
            stalled_for: Duration::from_millis(2_900),
            waiting: 1,
            topics: vec!["a".into(), "b".into()],
        };
        assert_eq!(
            stalled.reason(),
            "stalled: no committed progress for 2 s while 1 message waits on a, b"
        );
    }

    #[test]
    fn lag_and_waiting_are_never_negative() {
        let p = PartitionOffsets {
            topic: "t".into(),
            partition: 0,
            position: 12,
            committed: 7,
            high: 10,
        };
        assert_eq!((p.lag(), p.waiting()), (0, 3));
    }
}
