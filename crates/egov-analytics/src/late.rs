//! One unit's late dossiers for a period: those the report counts as
//! `resolved_late` or `pending_overdue` (contract section 5.4), each with its
//! procedure, dates and working days late, from
//! `schemas/clickhouse/queries/late_dossiers.sql` (rendered like every query
//! template: the database quoted, dates and the unit's code bound).

use crate::query::{query, Params};
use crate::{check_period, ReportError};
use chrono::NaiveDate;
use clickhouse::Row;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

pub const LATE_DOSSIERS_SQL: &str =
    include_str!("../../../schemas/clickhouse/queries/late_dossiers.sql");

/// The most rows the query returns (its `LIMIT`), the latest first.
pub const LATE_DOSSIERS_LIMIT: usize = 200;

/// One late dossier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LateDossier {
    pub dossier_id: String,
    pub procedure_code: String,
    /// The local date of its (earliest) receipt.
    pub received: NaiveDate,
    /// Its due date as known at the end of the period.
    pub due: NaiveDate,
    /// The date of its first resolution; `None`: still open at the end of the period.
    pub resolved: Option<NaiveDate>,
    /// Monday to Friday, not public holidays, after the due date up to the
    /// resolution or, when still open, up to the period's last day.
    pub working_days_late: u32,
}

#[derive(Debug, Row, Deserialize)]
struct LateRow {
    dossier_id: String,
    procedure: String,
    received_date: String,
    due_date: String,
    resolved_date: String,
    working_days_late: u32,
}

fn day(text: &str) -> Result<NaiveDate, ReportError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| ReportError::BadDate(text.to_owned()))
}

impl TryFrom<LateRow> for LateDossier {
    type Error = ReportError;

    fn try_from(row: LateRow) -> Result<Self, ReportError> {
        Ok(Self {
            received: day(&row.received_date)?,
            due: day(&row.due_date)?,
            resolved: match row.resolved_date.as_str() {
                "" => None,
                text => Some(day(text)?),
            },
            working_days_late: row.working_days_late,
            procedure_code: row.procedure,
            dossier_id: row.dossier_id,
        })
    }
}

/// The late dossiers of unit `code` (its own, not its subtree's) for
/// `from..=to`: at most [`LATE_DOSSIERS_LIMIT`], the most working days late
/// first, then by due date and id.
pub async fn late_dossiers(
    client: &clickhouse::Client,
    database: &str,
    code: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<LateDossier>, ReportError> {
    check_period(from, to)?;
    let units = HashSet::from([code.to_owned()]);
    let params = Params {
        from,
        to,
        units: Some(&units),
    };
    query(client, LATE_DOSSIERS_SQL, database, &params)
        .fetch_all::<LateRow>()
        .await?
        .into_iter()
        .map(LateDossier::try_from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::render;

    #[test]
    fn one_unit_bound_and_the_limit_stated() -> anyhow::Result<()> {
        let from = NaiveDate::from_ymd_opt(2021, 1, 1).ok_or_else(|| anyhow::anyhow!("date"))?;
        let to = NaiveDate::from_ymd_opt(2021, 12, 31).ok_or_else(|| anyhow::anyhow!("date"))?;
        let units = HashSet::from(["o'brien".to_owned()]);
        let params = Params {
            from,
            to,
            units: Some(&units),
        };
        let (sql, values) = render(LATE_DOSSIERS_SQL, "egov", &params);
        assert!(!sql.contains('{'), "{sql}");
        assert!(!sql.contains("2021") && !sql.contains("o'brien"), "{sql}");
        assert!(sql.contains("FROM `egov`.events") && sql.contains("FROM `egov`.holidays"));
        assert!(sql.contains("unit_code IN (?)"), "{sql}");
        assert_eq!(sql.matches('?').count(), values.len());
        assert!(values.iter().any(|v| v == "o'brien"));
        assert!(
            sql.trim_end()
                .ends_with(&format!("LIMIT {LATE_DOSSIERS_LIMIT}")),
            "the stated limit is the query's"
        );
        Ok(())
    }

    #[test]
    fn rows_become_dossiers() -> anyhow::Result<()> {
        let row = |resolved: &str| LateRow {
            dossier_id: "H1".into(),
            procedure: "1.001".into(),
            received_date: "2021-03-01".into(),
            due_date: "2021-03-05".into(),
            resolved_date: resolved.into(),
            working_days_late: 3,
        };
        let open = LateDossier::try_from(row(""))?;
        assert_eq!(open.resolved, None);
        assert_eq!(
            open.due,
            NaiveDate::from_ymd_opt(2021, 3, 5).unwrap_or_default()
        );
        let done = LateDossier::try_from(row("2021-03-10"))?;
        assert_eq!(done.resolved, NaiveDate::from_ymd_opt(2021, 3, 10));
        assert!(LateDossier::try_from(row("10/03/2021")).is_err());
        Ok(())
    }
}
