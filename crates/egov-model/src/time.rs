//! Local dates: every figure is counted in Asia/Ho_Chi_Minh, which has been a
//! fixed UTC+7 without daylight saving since 1975, so a fixed offset is exact.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

/// Seconds of the UTC+7 offset of Asia/Ho_Chi_Minh.
pub const OFFSET_SECS: i32 = 7 * 3600;

pub fn vietnam() -> FixedOffset {
    // 7 hours is always a valid offset; the fallback only avoids a panic path.
    FixedOffset::east_opt(OFFSET_SECS)
        .unwrap_or(FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!()))
}

/// The local date (Asia/Ho_Chi_Minh) of an instant.
pub fn local_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&vietnam()).date_naive()
}

/// Days since 1970-01-01, the wire form of ClickHouse's `Date`; `None` outside its range.
pub fn date_to_days(date: NaiveDate) -> Option<u16> {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
    u16::try_from(date.signed_duration_since(epoch).num_days()).ok()
}

pub fn days_to_date(days: u16) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(1970, 1, 1)?.checked_add_days(chrono::Days::new(u64::from(days)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_date_crosses_midnight_at_17_utc() -> Result<(), chrono::ParseError> {
        let before = DateTime::parse_from_rfc3339("2021-11-14T16:59:59Z")?.with_timezone(&Utc);
        let after = DateTime::parse_from_rfc3339("2021-11-14T17:00:00Z")?.with_timezone(&Utc);
        assert_eq!(
            local_date(before),
            NaiveDate::from_ymd_opt(2021, 11, 14).unwrap_or_default()
        );
        assert_eq!(
            local_date(after),
            NaiveDate::from_ymd_opt(2021, 11, 15).unwrap_or_default()
        );
        Ok(())
    }

    #[test]
    fn days_round_trip() {
        let date = NaiveDate::from_ymd_opt(2021, 12, 15).unwrap_or_default();
        let days = date_to_days(date);
        assert_eq!(days, Some(18976));
        assert_eq!(days.and_then(days_to_date), Some(date));
    }
}
