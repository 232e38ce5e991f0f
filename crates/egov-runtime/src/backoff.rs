//! The one backoff of every retry loop (producing to Kafka, creating topics,
//! delivering dead letters, transform's rounds, load's inserts): a pause that
//! starts at `initial` and doubles after each failure up to `max`, with
//! optional jitter, slept unless shutdown comes first. Each loop keeps its own
//! bounds, named where it retries.

use crate::shutdown::Shutdown;
use rand::Rng;
use std::time::Duration;

/// Exponential backoff with an optional jitter.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    max: Duration,
    jitter: bool,
}

impl Backoff {
    /// First pause `initial`, doubling up to `max`.
    pub const fn new(initial: Duration, max: Duration) -> Self {
        Self {
            next: initial,
            max,
            jitter: false,
        }
    }

    /// Each pause also adds a random part of up to half of itself, so that
    /// many clients failing together do not retry together.
    #[must_use]
    pub const fn with_jitter(mut self) -> Self {
        self.jitter = true;
        self
    }

    /// The pause before the next attempt; the one after is twice as long (up
    /// to the maximum).
    pub fn pause(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(self.max);
        if self.jitter {
            let half = u64::try_from(base.as_millis() / 2).unwrap_or(u64::MAX);
            base + Duration::from_millis(rand::rng().random_range(0..=half))
        } else {
            base
        }
    }

    /// Sleeps `pause` unless `shutdown` comes first: `false` then.
    pub async fn sleep(pause: Duration, shutdown: &mut Shutdown) -> bool {
        tokio::select! {
            () = shutdown.wait() => false,
            () = tokio::time::sleep(pause) => true,
        }
    }
}

/// Milliseconds of a pause, for the `retry_in_ms` field of a log line.
pub fn millis(pause: Duration) -> u64 {
    u64::try_from(pause.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_the_maximum() {
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(1));
        let pauses: Vec<u64> = (0..5).map(|_| millis(backoff.pause())).collect();
        assert_eq!(pauses, vec![200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn jitter_adds_at_most_half() {
        let mut backoff =
            Backoff::new(Duration::from_millis(200), Duration::from_secs(10)).with_jitter();
        for base in [200, 400, 800, 1600] {
            let pause = millis(backoff.pause());
            assert!(
                (base..=base + base / 2).contains(&pause),
                "{pause} for {base}"
            );
        }
    }

    #[tokio::test]
    async fn a_shutdown_cuts_the_sleep_short() {
        let (trigger, mut shutdown) = crate::shutdown::channel();
        let started = std::time::Instant::now();
        trigger.trigger();
        assert!(!Backoff::sleep(Duration::from_secs(30), &mut shutdown).await);
        assert!(started.elapsed() < Duration::from_secs(5));
        let (_trigger, mut running) = crate::shutdown::channel();
        assert!(Backoff::sleep(Duration::from_millis(1), &mut running).await);
    }
}
