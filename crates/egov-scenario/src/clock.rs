//! Instants, local dates and the working-day calendar.
//!
//! Instants are seconds since the Unix epoch (UTC). Local dates are dates in
//! Asia/Ho_Chi_Minh, a fixed UTC+7, counted as days since 1970-01-01 (`Day`).
//! Working days are Monday–Friday minus `seeds/holidays.csv`, plus the dates
//! of `seeds/working-saturdays.csv`.

use chrono::{Datelike, NaiveDate};
use egov_model::calendar;
use std::collections::HashSet;

/// Days since 1970-01-01 of a local date.
pub type Day = i32;

/// Seconds of the UTC+7 offset.
pub const LOCAL_OFFSET_SECS: i64 = egov_model::time::OFFSET_SECS as i64;
const DAY_SECS: i64 = 86_400;

/// The local day of an instant.
pub fn local_day(secs: i64) -> Day {
    // Day numbers of the years this crate deals with fit an i32 by far.
    (secs + LOCAL_OFFSET_SECS).div_euclid(DAY_SECS) as Day
}

/// Seconds since local midnight of an instant.
pub fn local_second_of_day(secs: i64) -> i64 {
    (secs + LOCAL_OFFSET_SECS).rem_euclid(DAY_SECS)
}

/// The instant of a local day and a number of seconds after its midnight.
pub fn instant(day: Day, second_of_day: i64) -> i64 {
    i64::from(day) * DAY_SECS + second_of_day - LOCAL_OFFSET_SECS
}

/// The `Day` of a date.
pub fn day_of(date: NaiveDate) -> Day {
    let (y, m, d) = (date.year(), date.month(), date.day());
    days_from_civil(y, m, d)
}

/// The date of a `Day`.
pub fn date_of(day: Day) -> NaiveDate {
    let (y, m, d) = civil_from_days(day);
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

/// A date known to be valid at compile time.
pub const fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(year, month, day) {
        Some(date) => date,
        None => NaiveDate::MIN,
    }
}

/// The year of a local day.
pub fn year_of(day: Day) -> i32 {
    civil_from_days(day).0
}

/// 0 = Monday … 6 = Sunday.
pub fn weekday(day: Day) -> i32 {
    // 1970-01-01 was a Thursday.
    (day + 3).rem_euclid(7)
}

// Howard Hinnant's algorithms (public domain), for speed: the generator
// formats millions of timestamps.
fn days_from_civil(y: i32, m: u32, d: u32) -> Day {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i32;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: Day) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn push_digits(out: &mut Vec<u8>, value: i64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut v = value.unsigned_abs();
    let mut i = buf.len();
    while v > 0 && i > 0 {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    let start = buf.len().saturating_sub(width).min(i);
    out.extend_from_slice(&buf[start..]);
}

/// Appends `YYYY-MM-DD` of a local day.
pub fn write_date(out: &mut Vec<u8>, day: Day) {
    let (y, m, d) = civil_from_days(day);
    push_digits(out, i64::from(y), 4);
    out.push(b'-');
    push_digits(out, i64::from(m), 2);
    out.push(b'-');
    push_digits(out, i64::from(d), 2);
}

/// Appends an instant as RFC 3339 in local time: `2021-03-04T09:15:00+07:00`.
pub fn write_local_rfc3339(out: &mut Vec<u8>, secs: i64) {
    write_date(out, local_day(secs));
    let sod = local_second_of_day(secs);
    out.push(b'T');
    push_digits(out, sod / 3600, 2);
    out.push(b':');
    push_digits(out, sod / 60 % 60, 2);
    out.push(b':');
    push_digits(out, sod % 60, 2);
    out.extend_from_slice(b"+07:00");
}

/// An instant as RFC 3339 in local time.
pub fn local_rfc3339(secs: i64) -> String {
    let mut out = Vec::with_capacity(25);
    write_local_rfc3339(&mut out, secs);
    String::from_utf8(out).unwrap_or_default()
}

/// Appends `YYMMDD` of a local day (as in one-stop dossier codes).
pub fn write_yymmdd(out: &mut Vec<u8>, day: Day) {
    let (y, m, d) = civil_from_days(day);
    push_digits(out, i64::from(y.rem_euclid(100)), 2);
    push_digits(out, i64::from(m), 2);
    push_digits(out, i64::from(d), 2);
}

pub use egov_model::calendar::CalendarError;

/// Working days, from the seeds built into the crate.
#[derive(Debug, Clone)]
pub struct Calendar {
    first: Day,
    working: Vec<bool>,
    holidays: HashSet<Day>,
    extra_working: HashSet<Day>,
}

fn days_of(rows: Vec<calendar::DatedRow>) -> HashSet<Day> {
    rows.into_iter().map(|row| day_of(row.date)).collect()
}

impl Calendar {
    /// `seeds/holidays.csv` and `seeds/working-saturdays.csv`.
    pub fn embedded() -> Result<Self, CalendarError> {
        let holidays = days_of(calendar::holidays()?);
        let extra_working = days_of(calendar::working_saturdays()?);
        let first = day_of(ymd(2019, 1, 1));
        let last = day_of(ymd(2024, 12, 31));
        let working = (first..=last)
            .map(|day| Self::compute(day, &holidays, &extra_working))
            .collect();
        Ok(Self {
            first,
            working,
            holidays,
            extra_working,
        })
    }

    fn compute(day: Day, holidays: &HashSet<Day>, extra: &HashSet<Day>) -> bool {
        extra.contains(&day) || (weekday(day) < 5 && !holidays.contains(&day))
    }

    pub fn is_working(&self, day: Day) -> bool {
        usize::try_from(day - self.first)
            .ok()
            .and_then(|i| self.working.get(i).copied())
            .unwrap_or_else(|| Self::compute(day, &self.holidays, &self.extra_working))
    }

    /// The first working day after `day`.
    pub fn next_working(&self, day: Day) -> Day {
        let mut d = day + 1;
        while !self.is_working(d) {
            d += 1;
        }
        d
    }

    /// The last working day before `day`.
    pub fn previous_working(&self, day: Day) -> Day {
        let mut d = day - 1;
        while !self.is_working(d) {
            d -= 1;
        }
        d
    }

    /// `day` itself for n = 0, otherwise the n-th working day after it.
    pub fn add_working(&self, day: Day, n: u32) -> Day {
        let mut d = day;
        for _ in 0..n {
            d = self.next_working(d);
        }
        d
    }

    /// The working days in `from..=to`.
    pub fn working_days(&self, from: Day, to: Day) -> impl Iterator<Item = Day> + '_ {
        (from..=to).filter(move |d| self.is_working(*d))
    }

    /// The day counting starts for a dossier received at `at`: the same day if
    /// it is a working day and the dossier came before 15:00, otherwise the
    /// next working day.
    pub fn counting_start(&self, at: i64) -> Day {
        let day = local_day(at);
        if self.is_working(day) && local_second_of_day(at) < 15 * 3600 {
            day
        } else {
            self.next_working(day)
        }
    }

    /// The appointment date of a procedure of `working_days` days received at `at`.
    pub fn due_day(&self, at: i64, working_days: u32) -> Day {
        self.add_working(self.counting_start(at), working_days)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_dates_round_trip() {
        for date in [
            ymd(1970, 1, 1),
            ymd(2000, 2, 29),
            ymd(2021, 12, 31),
            ymd(2020, 3, 1),
        ] {
            assert_eq!(date_of(day_of(date)), date);
            let epoch = ymd(1970, 1, 1);
            assert_eq!(
                i64::from(day_of(date)),
                date.signed_duration_since(epoch).num_days()
            );
        }
        assert_eq!(weekday(day_of(ymd(2021, 11, 14))), 6, "a Sunday");
    }

    #[test]
    fn local_time_is_utc_plus_7() {
        let at = instant(day_of(ymd(2021, 12, 16)), 3600);
        assert_eq!(local_rfc3339(at), "2021-12-16T01:00:00+07:00");
        let utc = chrono::DateTime::parse_from_rfc3339("2021-12-15T18:00:00Z")
            .map(|t| t.timestamp())
            .unwrap_or_default();
        assert_eq!(at, utc);
        assert_eq!(local_day(at), day_of(ymd(2021, 12, 16)));
    }

    #[test]
    fn working_days_skip_weekends_and_holidays() -> Result<(), CalendarError> {
        let cal = Calendar::embedded()?;
        let tet_eve = day_of(ymd(2021, 2, 9)); // Tuesday before the Tết break
        assert!(cal.is_working(tet_eve));
        assert!(!cal.is_working(day_of(ymd(2021, 2, 10))));
        assert_eq!(cal.next_working(tet_eve), day_of(ymd(2021, 2, 17)));
        assert_eq!(cal.add_working(tet_eve, 3), day_of(ymd(2021, 2, 19)));
        // Received Friday 2021-04-30 (holiday) online: counting starts Tuesday 4 May.
        let at = instant(day_of(ymd(2021, 4, 30)), 10 * 3600);
        assert_eq!(cal.counting_start(at), day_of(ymd(2021, 5, 4)));
        // Received Monday after 15:00: counting starts Tuesday.
        let late = instant(day_of(ymd(2021, 3, 8)), 15 * 3600 + 60);
        assert_eq!(cal.due_day(late, 0), day_of(ymd(2021, 3, 9)));
        assert_eq!(cal.due_day(late, 5), day_of(ymd(2021, 3, 16)));
        Ok(())
    }
}
