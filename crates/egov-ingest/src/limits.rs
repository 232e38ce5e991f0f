//! Limits that protect senders from each other: a token bucket per bearer
//! token, counted in events.
//!
//! A request is admitted while its token's bucket is not empty and is then
//! charged for every event it carried, which may leave the bucket in debt: a
//! sender above its rate gets 429 until the debt is paid back, whatever the
//! size of its requests (even one larger than the bucket). Refused requests
//! are paid for too (see [`TokenBucket::admit`] and [`refusal_cost`]), so a
//! sender cannot make the service work for free by sending what it refuses.

use crate::error::ApiError;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Events per second, on average.
    pub per_second: f64,
    /// Events at once above the rate: the bucket's size.
    pub burst: f64,
}

impl RateLimit {
    /// `None` when the configured rate turns the limit off (0 or less).
    pub fn from_config(per_second: f64, burst: f64) -> Option<Self> {
        (per_second > 0.0 && per_second.is_finite()).then(|| Self {
            per_second,
            burst: if burst.is_finite() {
                burst.max(1.0)
            } else {
                f64::MAX
            },
        })
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// The bucket of one token. Thread-safe; a lock is held for a few arithmetic
/// operations only.
#[derive(Debug)]
pub struct TokenBucket {
    limit: RateLimit,
    bucket: Mutex<Bucket>,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(limit: RateLimit, now: Instant) -> Self {
        Self {
            limit,
            bucket: Mutex::new(Bucket {
                tokens: limit.burst,
                updated: now,
            }),
        }
    }

    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    fn refilled(&self, now: Instant) -> std::sync::MutexGuard<'_, Bucket> {
        let mut bucket = self.bucket.lock().unwrap_or_else(PoisonError::into_inner);
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.limit.per_second).min(self.limit.burst);
        bucket.updated = bucket.updated.max(now);
        bucket
    }

    /// `Ok` while the bucket is not empty; otherwise the refusal costs one
    /// event and the answer is how long until the bucket is not empty.
    pub fn admit(&self, now: Instant) -> Result<(), Duration> {
        let mut bucket = self.refilled(now);
        if bucket.tokens > 0.0 {
            Ok(())
        } else {
            bucket.tokens -= 1.0;
            let wait = (-bucket.tokens + 1.0) / self.limit.per_second;
            Err(Duration::from_secs_f64(wait.min(86_400.0)))
        }
    }

    /// Takes `events` tokens, going into debt if there are fewer.
    pub fn charge(&self, events: usize, now: Instant) {
        let mut bucket = self.refilled(now);
        bucket.tokens -= events as f64;
    }
}

/// Memory set aside for request bodies (as sent, and decoded), shared by all
/// requests, counted in KiB: a request reserves its body before reading it
/// and its decoded body as it grows, and holds both until it is answered.
#[derive(Debug)]
pub struct BodyBudget {
    semaphore: Arc<Semaphore>,
    kib: usize,
}

impl BodyBudget {
    pub fn new(bytes: usize) -> Self {
        let kib = (bytes / 1024).clamp(1, u32::MAX as usize);
        Self {
            semaphore: Arc::new(Semaphore::new(kib)),
            kib,
        }
    }

    /// `bytes` more (rounded up to whole KiB, at most the whole budget), or
    /// 503 when the bodies in hand leave too little.
    pub fn reserve(&self, bytes: usize) -> Result<OwnedSemaphorePermit, ApiError> {
        let kib = bytes.div_ceil(1024).min(self.kib) as u32;
        self.semaphore
            .clone()
            .try_acquire_many_owned(kib)
            .map_err(|_| ApiError::BodiesInHand {
                mib: self.kib / 1024,
                retry_after_s: 1,
            })
    }
}

/// What a request refused after it was admitted costs its sender, in events:
/// one too large as much as the largest request allowed (it may have been
/// decoded and counted up to the limit), any other one event.
pub fn refusal_cost(error: &ApiError, max_events: usize) -> usize {
    match error {
        ApiError::TooLarge(_) => max_events.saturating_add(1),
        _ => 1,
    }
}

/// Whole seconds for `Retry-After`, at least 1.
pub fn retry_after_secs(wait: Duration) -> u32 {
    u32::try_from(
        wait.as_secs()
            .saturating_add(u64::from(wait.subsec_nanos() > 0)),
    )
    .unwrap_or(u32::MAX)
    .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: RateLimit = RateLimit {
        per_second: 100.0,
        burst: 200.0,
    };

    #[test]
    fn zero_or_negative_rate_is_off() {
        assert_eq!(RateLimit::from_config(0.0, 10.0), None);
        assert_eq!(RateLimit::from_config(-1.0, 10.0), None);
        assert_eq!(RateLimit::from_config(f64::NAN, 10.0), None);
        assert_eq!(
            RateLimit::from_config(5.0, 0.0),
            Some(RateLimit {
                per_second: 5.0,
                burst: 1.0
            })
        );
    }

    #[test]
    fn burst_then_debt_then_refill() {
        let start = Instant::now();
        let bucket = TokenBucket::new(LIMIT, start);
        assert_eq!(bucket.admit(start), Ok(()));
        bucket.charge(150, start);
        assert_eq!(bucket.admit(start), Ok(()), "50 tokens left");
        // A request larger than what is left is still taken, leaving a debt of 250.
        bucket.charge(300, start);
        // Each refusal costs one event more.
        let wait = bucket.admit(start).err();
        assert_eq!(wait, Some(Duration::from_secs_f64(2.52)));
        assert_eq!(
            bucket.admit(start + Duration::from_millis(2_000)).err(),
            Some(Duration::from_secs_f64(0.53))
        );
        assert_eq!(bucket.admit(start + Duration::from_millis(2_600)), Ok(()));
    }

    #[test]
    fn refused_requests_are_paid_for() {
        let start = Instant::now();
        let bucket = TokenBucket::new(LIMIT, start);
        // A sender hammering while in debt only digs deeper.
        bucket.charge(200, start);
        for _ in 0..99 {
            assert!(bucket.admit(start).is_err());
        }
        assert_eq!(
            bucket.admit(start).err(),
            Some(Duration::from_secs_f64(1.01)),
            "100 refusals cost 100 events"
        );
        // Waiting as told is enough.
        assert_eq!(bucket.admit(start + Duration::from_millis(1_010)), Ok(()));
        // A refused body costs per refusal_cost.
        let fresh = TokenBucket::new(LIMIT, start);
        fresh.charge(refusal_cost(&ApiError::TooLarge("big".into()), 300), start);
        assert!(fresh.admit(start).is_err(), "301 events of 200");
        let fresh = TokenBucket::new(LIMIT, start);
        fresh.charge(refusal_cost(&ApiError::BadRequest("x".into()), 300), start);
        assert_eq!(fresh.admit(start), Ok(()));
    }

    #[test]
    fn refill_stops_at_the_burst() {
        let start = Instant::now();
        let bucket = TokenBucket::new(LIMIT, start);
        let later = start + Duration::from_secs(3600);
        bucket.charge(200, later);
        assert!(
            bucket.admit(later).is_err(),
            "an hour of rest is worth 200 events, not 360,000"
        );
    }

    #[test]
    fn a_clock_going_backwards_does_not_refill() {
        let start = Instant::now() + Duration::from_secs(10);
        let bucket = TokenBucket::new(LIMIT, start);
        bucket.charge(201, start);
        assert!(bucket.admit(start - Duration::from_secs(5)).is_err());
    }

    #[test]
    fn bodies_reserve_the_budget_until_they_are_dropped() {
        let budget = BodyBudget::new(10 * 1024);
        let first = budget.reserve(6 * 1024).ok();
        assert!(first.is_some());
        assert!(matches!(
            budget.reserve(5 * 1024),
            Err(ApiError::BodiesInHand { .. })
        ));
        let mut second = budget.reserve(3 * 1024 + 1);
        assert!(second.is_ok(), "4 KiB of the 4 left");
        assert!(budget.reserve(1).is_err());
        drop(first);
        if let (Ok(second), Ok(more)) = (&mut second, budget.reserve(6 * 1024)) {
            second.merge(more);
        }
        assert!(budget.reserve(1).is_err(), "merged, still held");
        drop(second);
        // A body larger than the whole budget may have all of it.
        assert!(budget.reserve(100 * 1024).is_ok());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(10)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(2_010)), 3);
        assert_eq!(retry_after_secs(Duration::from_secs(4)), 4);
    }
}
