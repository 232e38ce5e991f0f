//! Random draws: weighted items, weighted days, the season over the year,
//! office hours, geometric counts, and the seed mixer.

use crate::clock::{self, Day};
use egov_model::Level;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

pub(super) fn level_slot(level: Level) -> usize {
    match level {
        Level::Province => 0,
        Level::District => 1,
        Level::Commune => 2,
    }
}

pub(super) fn mix(mut x: u64) -> u64 {
    // splitmix64
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Cumulative weights for sampling.
#[derive(Debug, Clone)]
pub(super) struct Picker<T> {
    pub(super) items: Vec<T>,
    cumulative: Vec<f64>,
}

impl<T: Copy> Picker<T> {
    pub(super) fn new(weighted: impl IntoIterator<Item = (T, f64)>) -> Self {
        let mut items = Vec::new();
        let mut cumulative = Vec::new();
        let mut sum = 0.0;
        for (item, weight) in weighted {
            if weight > 0.0 {
                sum += weight;
                items.push(item);
                cumulative.push(sum);
            }
        }
        Self { items, cumulative }
    }

    pub(super) fn pick(&self, rng: &mut ChaCha8Rng) -> Option<T> {
        let total = *self.cumulative.last()?;
        let u = rng.random::<f64>() * total;
        let i = self.cumulative.partition_point(|c| *c <= u);
        self.items.get(i.min(self.items.len() - 1)).copied()
    }
}

/// Day weights with prefix sums, for drawing days of a range.
#[derive(Debug)]
pub(super) struct DayWeights {
    first: Day,
    prefix: Vec<f64>,
}

impl DayWeights {
    pub(super) fn new(first: Day, last: Day, weight: impl Fn(Day) -> f64) -> Self {
        let mut prefix = Vec::with_capacity((last - first + 2).max(1) as usize);
        prefix.push(0.0);
        let mut sum = 0.0;
        for day in first..=last {
            sum += weight(day).max(0.0);
            prefix.push(sum);
        }
        Self { first, prefix }
    }

    fn offset(&self, day: Day) -> usize {
        usize::try_from(day - self.first)
            .unwrap_or(0)
            .min(self.prefix.len() - 1)
    }

    pub(super) fn mass(&self, lo: Day, hi: Day) -> f64 {
        if hi < lo {
            return 0.0;
        }
        self.prefix[self.offset(hi + 1)] - self.prefix[self.offset(lo)]
    }

    pub(super) fn sample(&self, rng: &mut ChaCha8Rng, lo: Day, hi: Day) -> Option<Day> {
        let last = self.first + self.prefix.len() as Day - 2;
        let (lo, hi) = (lo.max(self.first), hi.min(last));
        if hi < lo {
            return None;
        }
        let (a, b) = (
            self.prefix[self.offset(lo)],
            self.prefix[self.offset(hi + 1)],
        );
        if b <= a {
            return None;
        }
        let u = a + rng.random::<f64>() * (b - a);
        let i = self.prefix.partition_point(|p| *p <= u);
        Some((self.first + i as Day - 1).clamp(lo, hi))
    }
}

/// Activity over the year: the rush before Tết, the quiet week after it,
/// the May 2021 outbreak, the year-end rush.
pub(super) fn season(day: Day) -> f64 {
    let date = clock::date_of(day);
    use chrono::Datelike;
    let (m, d) = (date.month(), date.day());
    if date.year() == 2021 && m == 2 && d <= 9 {
        return 1.25;
    }
    if date.year() == 2021 && m == 2 && (17..=19).contains(&d) {
        return 0.7;
    }
    match m {
        1 => 1.05,
        2 => 0.95,
        5 => 0.9,
        6 | 8 => 0.95,
        10 => 1.05,
        11 => 1.1,
        12 => 1.15,
        _ => 1.0,
    }
}

/// A time of day in office hours (7:30–17:00, quieter at lunch), in seconds.
pub(super) fn office_second(rng: &mut ChaCha8Rng) -> i64 {
    let u = rng.random::<f64>() * 8.1;
    let hours = if u < 4.0 {
        7.5 + u
    } else if u < 4.6 {
        11.5 + (u - 4.0) / 0.3
    } else {
        13.5 + (u - 4.6)
    };
    (hours * 3600.0) as i64
}

/// 1 + a geometric number of mean `mean - 1`, at most `cap`.
pub(super) fn geometric(rng: &mut ChaCha8Rng, mean: f64, cap: u32) -> u32 {
    let u: f64 = rng.random::<f64>().max(1e-12);
    let n = 1.0 + (-u.ln() * (mean - 1.0).max(0.0)).floor();
    (n as u32).clamp(1, cap.max(1))
}
