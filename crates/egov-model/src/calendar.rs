//! The calendar the figures and the scenario count working days with:
//! Vietnam's public holidays (`seeds/holidays.csv`: date, name, source) and
//! the Saturdays worked in exchange (`seeds/working-saturdays.csv`: date,
//! reason, source), both built into the binary. `egov migrate` loads the
//! holidays into ClickHouse; the scenario generator computes due dates.

use chrono::NaiveDate;

pub const HOLIDAYS_CSV: &str = include_str!("../../../seeds/holidays.csv");
pub const WORKING_SATURDAYS_CSV: &str = include_str!("../../../seeds/working-saturdays.csv");

/// A dated row of one of the calendar files: the date and its name (holidays)
/// or reason (working Saturdays).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatedRow {
    pub date: NaiveDate,
    pub name: String,
}

#[derive(Debug, thiserror::Error)]
#[error("{file} line {line}: {message}")]
pub struct CalendarError {
    pub file: &'static str,
    pub line: usize,
    pub message: String,
}

/// The public holidays of `seeds/holidays.csv`.
pub fn holidays() -> Result<Vec<DatedRow>, CalendarError> {
    parse("holidays.csv", HOLIDAYS_CSV)
}

/// The working Saturdays of `seeds/working-saturdays.csv`.
pub fn working_saturdays() -> Result<Vec<DatedRow>, CalendarError> {
    parse("working-saturdays.csv", WORKING_SATURDAYS_CSV)
}

/// Rows of a CSV with a header whose first column is a `YYYY-MM-DD` date and
/// whose second is a name; rows with an empty date are skipped.
pub fn parse(file: &'static str, text: &str) -> Result<Vec<DatedRow>, CalendarError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let line = index + 2;
        let bad = |message: String| CalendarError {
            file,
            line,
            message,
        };
        let record = record.map_err(|e| bad(e.to_string()))?;
        let field = record.get(0).unwrap_or_default().trim();
        if field.is_empty() {
            continue;
        }
        let date = NaiveDate::parse_from_str(field, "%Y-%m-%d")
            .map_err(|e| bad(format!("`{field}` is not a date: {e}")))?;
        rows.push(DatedRow {
            date,
            name: record.get(1).unwrap_or_default().to_owned(),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holidays_parse() -> Result<(), CalendarError> {
        let rows = holidays()?;
        assert!(rows.len() >= 40, "{} holidays", rows.len());
        let national_day_2021 = NaiveDate::from_ymd_opt(2021, 9, 2);
        assert!(rows.iter().any(|r| Some(r.date) == national_day_2021));
        assert!(rows.iter().all(|r| !r.name.is_empty()));
        working_saturdays()?;
        Ok(())
    }

    #[test]
    fn a_bad_date_names_its_line() {
        let err = parse("x.csv", "date,name\n2021-01-01,a\n2021-13-01,b\n").err();
        assert_eq!(err.map(|e| (e.file, e.line)), Some(("x.csv", 3)));
        assert_eq!(
            parse("x.csv", "date,name\n,\n2021-01-01,a\n")
                .ok()
                .map(|r| r.len()),
            Some(1)
        );
    }
}
