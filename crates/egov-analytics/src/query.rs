//! The one way the figures are read from ClickHouse: the query templates of
//! `schemas/clickhouse/queries/`, rendered with the database as a quoted
//! identifier and every value (dates, unit codes) bound, and their rows per
//! unit. `egov report` sums these rows per level; `egov scorecard` shows them
//! per unit; so both use one definition of every figure. The same templates
//! count per calendar month of the period in one query ([`Split::Months`], the
//! dashboard's monthly trend of a unit).

use crate::figures::{DocumentCounts, DossierCounts, Period};
use crate::ReportError;
use chrono::{Datelike, NaiveDate};
use clickhouse::query::Query;
use clickhouse::Row;
use egov_model::{Level, System};
use egov_runtime::clickhouse::ident;
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};

pub const DOCUMENTS_SQL: &str = include_str!("../../../schemas/clickhouse/queries/documents.sql");
pub const DOSSIERS_SQL: &str = include_str!("../../../schemas/clickhouse/queries/dossiers.sql");
pub const LAST_EVENTS_SQL: &str =
    include_str!("../../../schemas/clickhouse/queries/last_events.sql");
/// `{dossier_states}` of [`DOSSIERS_SQL`] over the whole period.
pub const DOSSIER_STATES_SQL: &str =
    include_str!("../../../schemas/clickhouse/queries/dossier_states.sql");
/// `{dossier_states}` of [`DOSSIERS_SQL`] per calendar month.
pub const DOSSIER_MONTH_STATES_SQL: &str =
    include_str!("../../../schemas/clickhouse/queries/dossier_month_states.sql");
/// `{day_month}`: the number of the calendar month of a row's `local_date`.
pub const DAY_MONTH_SQL: &str = include_str!("../../../schemas/clickhouse/queries/day_month.sql");

/// What the rows of [`DOCUMENTS_SQL`] and [`DOSSIERS_SQL`] count: the whole
/// period (`month` 0), or the whole period and each calendar month of it, cut
/// to the period (`month` 1, 2, …: the months of [`months`] in order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Whole,
    Months,
}

/// The values a template's placeholders stand for.
#[derive(Debug, Clone, Copy)]
pub struct Params<'a> {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Only these units; `None` for every unit.
    pub units: Option<&'a HashSet<String>>,
}

/// A template as SQL with `?` where values go, and those values in order.
/// `{database}` becomes the quoted identifier; `{from}` and `{to}` a bound
/// date; `{unit_filter}` `1` or `unit_code IN (?, …)` with a bound code per `?`;
/// `{month}` and `{dossier_states}` as for [`Split::Whole`].
/// Comment lines go first, so placeholders named in them bind nothing.
pub fn render(template: &str, database: &str, params: &Params<'_>) -> (String, Vec<String>) {
    render_split(template, database, params, Split::Whole)
}

/// [`render`], counting as `split` says: `{month}` becomes `0` for the whole
/// period, or per month each row twice, as `0` and as its `{day_month}`
/// ([`DAY_MONTH_SQL`]); `{dossier_states}` [`DOSSIER_STATES_SQL`] or
/// [`DOSSIER_MONTH_STATES_SQL`]; each rendered in its place.
pub fn render_split(
    template: &str,
    database: &str,
    params: &Params<'_>,
    split: Split,
) -> (String, Vec<String>) {
    let code: Vec<&str> = template
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .collect();
    let code = code.join("\n");
    let mut sql = String::with_capacity(code.len());
    let mut values = Vec::new();
    let mut rest = code.as_str();
    while let Some(start) = rest.find('{') {
        sql.push_str(&rest[..start]);
        let after = &rest[start..];
        let Some(end) = after.find('}') else {
            sql.push_str(after);
            rest = "";
            break;
        };
        match &after[1..end] {
            "database" => sql.push_str(&ident(database)),
            "from" => {
                sql.push('?');
                values.push(date(params.from));
            }
            "to" => {
                sql.push('?');
                values.push(date(params.to));
            }
            "unit_filter" => match params.units {
                None => sql.push('1'),
                Some(units) => {
                    let mut codes: Vec<&String> = units.iter().collect();
                    codes.sort();
                    let marks = vec!["?"; codes.len().max(1)].join(", ");
                    sql.push_str(&format!("unit_code IN ({marks})"));
                    // An empty set matches nothing (`IN ('')`: no unit has an empty code).
                    values.extend(codes.into_iter().cloned());
                    if units.is_empty() {
                        values.push(String::new());
                    }
                }
            },
            "month" if split == Split::Whole => sql.push_str("toUInt32(0)"),
            "month" | "day_month" | "dossier_states" => {
                let part = match (&after[1..end], split) {
                    ("month", _) => "arrayJoin([toUInt32(0), {day_month}])",
                    ("day_month", _) => DAY_MONTH_SQL,
                    (_, Split::Whole) => DOSSIER_STATES_SQL,
                    (_, Split::Months) => DOSSIER_MONTH_STATES_SQL,
                };
                let (part, part_values) = render_split(part, database, params, split);
                sql.push_str(part.trim());
                values.extend(part_values);
            }
            _ => sql.push_str(&after[..=end]),
        }
        rest = &after[end + 1..];
    }
    sql.push_str(rest);
    (sql, values)
}

fn date(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// The calendar months of `from..=to`, the first and last cut to it.
pub fn months(from: NaiveDate, to: NaiveDate) -> Vec<Period> {
    let mut out = Vec::new();
    let mut start = from;
    while start <= to {
        let next = if start.month() == 12 {
            NaiveDate::from_ymd_opt(start.year() + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(start.year(), start.month() + 1, 1)
        };
        let Some(next) = next else { break };
        let end = next.pred_opt().unwrap_or(next).min(to);
        out.push(Period {
            from: start,
            to: end,
        });
        start = next;
    }
    out
}

/// The query of a rendered template on `client`, its values bound.
pub fn query(
    client: &clickhouse::Client,
    template: &str,
    database: &str,
    params: &Params<'_>,
) -> Query {
    query_split(client, template, database, params, Split::Whole)
}

/// [`query`], counting as `split` says.
pub fn query_split(
    client: &clickhouse::Client,
    template: &str,
    database: &str,
    params: &Params<'_>,
    split: Split,
) -> Query {
    let (sql, values) = render_split(template, database, params, split);
    values
        .into_iter()
        .fold(client.query(&sql), |query, value| query.bind(value))
}

#[derive(Debug, Row, Deserialize)]
struct DocumentRow {
    month: u32,
    level: String,
    unit_code: String,
    incoming: u64,
    outgoing: u64,
    outgoing_signed: u64,
}

#[derive(Debug, Row, Deserialize)]
struct DossierRow {
    month: u32,
    level: String,
    unit_code: String,
    received: u64,
    carried_over: u64,
    resolved_early: u64,
    resolved_on_time: u64,
    resolved_late: u64,
    pending_in_time: u64,
    pending_overdue: u64,
    online: u64,
}

#[derive(Debug, Row, Deserialize)]
struct LastEventRow {
    unit_code: String,
    system: String,
    last_ms: i64,
}

/// One unit's counts for a period, at the level its events were stored with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnitCounts {
    pub documents: DocumentCounts,
    pub dossiers: DossierCounts,
}

/// Counts per (level, unit) of every unit with events in the period.
pub type CountsByUnit = BTreeMap<(Level, String), UnitCounts>;

pub(crate) fn parse_level(text: &str) -> Result<Level, ReportError> {
    text.parse()
        .map_err(|_| ReportError::UnknownLevel(text.to_owned()))
}

/// The counts of a row's month and unit, zero until set.
fn unit_counts<'a>(
    counts: &'a mut BTreeMap<u32, CountsByUnit>,
    month: u32,
    level: &str,
    unit_code: String,
) -> Result<&'a mut UnitCounts, ReportError> {
    Ok(counts
        .entry(month)
        .or_default()
        .entry((parse_level(level)?, unit_code))
        .or_default())
}

/// The document and dossier figures of every unit with events in the period
/// (both queries at once).
pub async fn counts_by_unit(
    client: &clickhouse::Client,
    database: &str,
    params: &Params<'_>,
) -> Result<CountsByUnit, ReportError> {
    let mut counts = counts_split(client, database, params, Split::Whole).await?;
    Ok(counts.remove(&0).unwrap_or_default())
}

/// [`counts_by_unit`] for the period and for each calendar month of it
/// ([`months`]), in one document query and one dossier query for them all:
/// the same counts as [`counts_by_unit`] for each period alone, except that a
/// unit whose counts are all zero in a month may be missing from that month.
/// A period that ends before it starts is refused before any query (its
/// number of months would be negative).
pub async fn counts_by_unit_and_month(
    client: &clickhouse::Client,
    database: &str,
    params: &Params<'_>,
) -> Result<(CountsByUnit, Vec<(Period, CountsByUnit)>), ReportError> {
    crate::check_period(params.from, params.to)?;
    let mut counts = counts_split(client, database, params, Split::Months).await?;
    let whole = counts.remove(&0).unwrap_or_default();
    let months = months(params.from, params.to)
        .into_iter()
        .zip(1..)
        .map(|(period, month)| (period, counts.remove(&month).unwrap_or_default()))
        .collect();
    Ok((whole, months))
}

/// The counts per `month` of the rows (see [`Split`]) and unit.
async fn counts_split(
    client: &clickhouse::Client,
    database: &str,
    params: &Params<'_>,
    split: Split,
) -> Result<BTreeMap<u32, CountsByUnit>, ReportError> {
    // Per month it is one unit's figures (the unit page), and the dossiers'
    // fold per month outweighs the documents: that one keeps every thread.
    let threads = match split {
        Split::Whole => threads_each(client).await,
        Split::Months => None,
    };
    let with_threads = |query: Query| match threads {
        Some(threads) => query.with_setting("max_threads", threads.to_string()),
        None => query,
    };
    let documents = with_threads(query_split(client, DOCUMENTS_SQL, database, params, split))
        .fetch_all::<DocumentRow>();
    let dossiers = with_threads(query_split(client, DOSSIERS_SQL, database, params, split))
        .fetch_all::<DossierRow>();
    let (documents, dossiers) = tokio::join!(documents, dossiers);
    let mut counts = BTreeMap::new();
    for row in documents? {
        unit_counts(&mut counts, row.month, &row.level, row.unit_code)?.documents =
            DocumentCounts {
                incoming: row.incoming,
                outgoing: row.outgoing,
                outgoing_signed: row.outgoing_signed,
            };
    }
    for row in dossiers? {
        unit_counts(&mut counts, row.month, &row.level, row.unit_code)?.dossiers = DossierCounts {
            received: row.received,
            carried_over: row.carried_over,
            resolved_early: row.resolved_early,
            resolved_on_time: row.resolved_on_time,
            resolved_late: row.resolved_late,
            pending_in_time: row.pending_in_time,
            pending_overdue: row.pending_overdue,
            online: row.online,
        };
    }
    Ok(counts)
}

/// `max_threads` for each of the two figure queries over the whole period,
/// which run at once and weigh about the same for all units: half
/// the server's own (its number of cores unless set otherwise), at least 1.
/// With all of them each query splits its grouping across every core and then
/// merges the parts; with half each, the two fill the cores side by side (on
/// the 2-core test machine the year's queries took 250-280 ms against 300-350).
/// `None` when the server does not say: then its default applies.
async fn threads_each(client: &clickhouse::Client) -> Option<u64> {
    let value = client
        .query("SELECT value FROM system.settings WHERE name = 'max_threads'")
        .fetch_one::<String>()
        .await
        .ok()?;
    threads_from_setting(&value)
}

/// Half of `max_threads` as `system.settings` shows it (`2` on 18.16,
/// `'auto(16)'` on current releases), at least 1; `None` for `0` (the
/// server's own choice, whatever number of cores it has).
fn threads_from_setting(value: &str) -> Option<u64> {
    let digits: String = value.chars().filter(char::is_ascii_digit).collect();
    let threads: u64 = digits.parse().ok()?;
    (threads > 0).then(|| (threads / 2).max(1))
}

/// The time (ms since the epoch) of the latest event dated on or before `to`,
/// per unit and source system.
pub async fn last_events(
    client: &clickhouse::Client,
    database: &str,
    to: NaiveDate,
) -> Result<BTreeMap<(String, System), i64>, ReportError> {
    let params = Params {
        from: to,
        to,
        units: None,
    };
    let rows = query(client, LAST_EVENTS_SQL, database, &params)
        .fetch_all::<LastEventRow>()
        .await?;
    let mut last = BTreeMap::new();
    for row in rows {
        // Rows of a system this version does not know are in no figure either.
        if let Ok(system) = row.system.parse::<System>() {
            last.insert((row.unit_code, system), row.last_ms);
        }
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_is_filled_and_values_are_bound() -> anyhow::Result<()> {
        let from = NaiveDate::from_ymd_opt(2021, 1, 1).ok_or_else(|| anyhow::anyhow!("date"))?;
        let to = NaiveDate::from_ymd_opt(2021, 11, 14).ok_or_else(|| anyhow::anyhow!("date"))?;
        let units: HashSet<String> = ["243".to_owned(), "o'brien".to_owned()].into();
        let params = Params {
            from,
            to,
            units: Some(&units),
        };
        let splits = [
            (DOCUMENTS_SQL, Split::Whole),
            (DOCUMENTS_SQL, Split::Months),
            (DOSSIERS_SQL, Split::Whole),
            (DOSSIERS_SQL, Split::Months),
            (LAST_EVENTS_SQL, Split::Whole),
        ];
        for (template, split) in splits {
            let (sql, values) = render_split(template, "egov", &params, split);
            assert!(!sql.contains('{'), "{sql}");
            assert!(!sql.contains("2021"), "a date formatted into {sql}");
            assert!(!sql.contains("o'brien"), "a code formatted into {sql}");
            assert!(sql.contains("FROM `egov`."), "{sql}");
            assert_eq!(sql.matches('?').count(), values.len(), "{sql}");
            // Per month, the rows are numbered by month; over the period, all 0.
            let per_month = sql.contains("toRelativeMonthNum(local_date)");
            assert_eq!(per_month, split == Split::Months, "{sql}");
        }
        let (sql, values) = render(DOCUMENTS_SQL, "egov", &params);
        assert!(sql.contains("unit_code IN (?, ?)"), "{sql}");
        assert_eq!(values, ["2021-01-01", "2021-11-14", "243", "o'brien"]);
        let client = clickhouse::Client::default();
        let bound = query(&client, DOCUMENTS_SQL, "egov", &params)
            .sql_display()
            .to_string();
        assert!(bound.contains("toDate('2021-11-14')"), "{bound}");
        assert!(
            bound.contains("unit_code IN ('243', 'o\\'brien')"),
            "{bound}"
        );
        Ok(())
    }

    #[test]
    fn months_are_cut_to_the_period() -> anyhow::Result<()> {
        let d =
            |y, m, day| NaiveDate::from_ymd_opt(y, m, day).ok_or_else(|| anyhow::anyhow!("date"));
        let cut = months(d(2021, 1, 15)?, d(2021, 3, 10)?);
        let bounds: Vec<_> = cut.iter().map(|p| (p.from, p.to)).collect();
        assert_eq!(
            bounds,
            [
                (d(2021, 1, 15)?, d(2021, 1, 31)?),
                (d(2021, 2, 1)?, d(2021, 2, 28)?),
                (d(2021, 3, 1)?, d(2021, 3, 10)?)
            ]
        );
        assert_eq!(months(d(2021, 12, 1)?, d(2022, 1, 1)?).len(), 2);
        assert_eq!(months(d(2021, 5, 7)?, d(2021, 5, 7)?).len(), 1);
        Ok(())
    }

    #[tokio::test]
    async fn months_of_a_period_ending_before_it_starts_are_refused() -> anyhow::Result<()> {
        let from = NaiveDate::from_ymd_opt(2021, 3, 1).ok_or_else(|| anyhow::anyhow!("date"))?;
        let to = NaiveDate::from_ymd_opt(2021, 1, 31).ok_or_else(|| anyhow::anyhow!("date"))?;
        // No server behind this client: the period is refused before any query.
        let client = clickhouse::Client::default().with_url("http://127.0.0.1:9");
        let params = Params {
            from,
            to,
            units: None,
        };
        let refused = counts_by_unit_and_month(&client, "egov", &params).await;
        assert!(
            matches!(refused, Err(ReportError::EmptyPeriod { .. })),
            "{refused:?}"
        );
        Ok(())
    }

    #[test]
    fn each_figure_query_takes_half_the_server_threads() {
        assert_eq!(threads_from_setting("2"), Some(1));
        assert_eq!(threads_from_setting("'auto(16)'"), Some(8));
        assert_eq!(threads_from_setting("1"), Some(1));
        assert_eq!(threads_from_setting("auto"), None);
        assert_eq!(threads_from_setting("0"), None);
    }

    #[test]
    fn an_empty_unit_set_matches_nothing() {
        let day = NaiveDate::default();
        let units = HashSet::new();
        let params = Params {
            from: day,
            to: day,
            units: Some(&units),
        };
        let (sql, values) = render(DOCUMENTS_SQL, "egov", &params);
        assert!(sql.contains("unit_code IN (?)"), "{sql}");
        assert_eq!(values.last().map(String::as_str), Some(""));
    }
}
