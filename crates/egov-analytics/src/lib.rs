//! Analytics of contract section 5, read from ClickHouse: the report of
//! `egov report` per level and in total, or per unit. The SQL lives in
//! `schemas/clickhouse/queries/` so that the same text is checked on ClickHouse
//! 18.16 (local) and on a current release (chDB, in tests).
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod figures;
pub mod render;

use chrono::NaiveDate;
use clickhouse::Row;
use egov_common::config::ClickHouseConfig;
use egov_common::Level;
use egov_load::ch::{ident, query_client};
use figures::{
    DocumentCounts, DocumentFigures, DossierCounts, DossierFigures, Report, UnitFigures,
};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap, HashSet};

pub const DOCUMENTS_SQL: &str = include_str!("../../../schemas/clickhouse/queries/documents.sql");
pub const DOSSIERS_SQL: &str = include_str!("../../../schemas/clickhouse/queries/dossiers.sql");

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("the period ends ({to}) before it starts ({from})")]
    EmptyPeriod { from: NaiveDate, to: NaiveDate },
    #[error("unit `{0}` is not in the unit catalogue in ClickHouse (run `egov migrate`)")]
    UnknownUnit(String),
    #[error("clickhouse: {0}")]
    ClickHouse(#[from] clickhouse::error::Error),
    #[error("clickhouse returned level `{0}`, which is none of province, district, commune")]
    UnknownLevel(String),
}

/// What to report on.
#[derive(Debug, Clone)]
pub struct ReportRequest {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// One unit and every unit under it; `None` for the whole province.
    pub unit: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grouping {
    Level,
    Unit,
}

impl Grouping {
    fn column(self) -> &'static str {
        match self {
            Grouping::Level => "level",
            Grouping::Unit => "unit_code",
        }
    }
}

#[derive(Debug, Row, Deserialize)]
struct DocumentRow {
    grp: String,
    incoming: u64,
    outgoing: u64,
    outgoing_signed: u64,
}

#[derive(Debug, Row, Deserialize)]
struct DossierRow {
    grp: String,
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
struct UnitRow {
    code: String,
    level: String,
    name: String,
    parent_code: String,
}

/// A SQL string literal.
fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Renders one of the query templates. Dates come from `NaiveDate` and names
/// from configuration or the catalogue, so nothing a user typed reaches SQL raw.
pub fn render_sql(
    template: &str,
    database: &str,
    from: NaiveDate,
    to: NaiveDate,
    group: &str,
    units: Option<&HashSet<String>>,
) -> String {
    let unit_filter = match units {
        None => "1".to_owned(),
        Some(units) => {
            let mut codes: Vec<&String> = units.iter().collect();
            codes.sort();
            let list: Vec<String> = codes.into_iter().map(|c| literal(c)).collect();
            format!("unit_code IN ({})", list.join(", "))
        }
    };
    template
        .replace("{database}", &ident(database))
        .replace("{from}", &from.format("%Y-%m-%d").to_string())
        .replace("{to}", &to.format("%Y-%m-%d").to_string())
        .replace("{group}", group)
        .replace("{unit_filter}", &unit_filter)
}

struct Catalogue {
    units: Vec<UnitRow>,
}

impl Catalogue {
    async fn fetch(client: &clickhouse::Client) -> Result<Self, ReportError> {
        let units = client
            .query("SELECT code, level, name, parent_code FROM units ORDER BY code")
            .fetch_all::<UnitRow>()
            .await?;
        Ok(Self { units })
    }

    /// `code` and every unit below it.
    fn subtree(&self, code: &str) -> Result<HashSet<String>, ReportError> {
        if !self.units.iter().any(|u| u.code == code) {
            return Err(ReportError::UnknownUnit(code.to_owned()));
        }
        let mut children: HashMap<&str, Vec<&str>> = HashMap::new();
        for unit in &self.units {
            children
                .entry(unit.parent_code.as_str())
                .or_default()
                .push(unit.code.as_str());
        }
        let mut found = HashSet::new();
        let mut stack = vec![code];
        while let Some(next) = stack.pop() {
            if found.insert(next.to_owned()) {
                stack.extend(children.get(next).into_iter().flatten());
            }
        }
        Ok(found)
    }
}

fn parse_level(text: &str) -> Result<Level, ReportError> {
    text.parse()
        .map_err(|_| ReportError::UnknownLevel(text.to_owned()))
}

async fn fetch_counts(
    client: &clickhouse::Client,
    database: &str,
    request: &ReportRequest,
    grouping: Grouping,
    units: Option<&HashSet<String>>,
) -> Result<(Vec<DocumentRow>, Vec<DossierRow>), ReportError> {
    let (from, to) = (request.from, request.to);
    let documents = render_sql(DOCUMENTS_SQL, database, from, to, grouping.column(), units);
    let dossiers = render_sql(DOSSIERS_SQL, database, from, to, grouping.column(), units);
    let documents = client.query(&documents).fetch_all::<DocumentRow>().await?;
    let dossiers = client.query(&dossiers).fetch_all::<DossierRow>().await?;
    Ok((documents, dossiers))
}

fn document_counts(row: &DocumentRow) -> DocumentCounts {
    DocumentCounts {
        incoming: row.incoming,
        outgoing: row.outgoing,
        outgoing_signed: row.outgoing_signed,
    }
}

fn dossier_counts(row: &DossierRow) -> DossierCounts {
    DossierCounts {
        received: row.received,
        carried_over: row.carried_over,
        resolved_early: row.resolved_early,
        resolved_on_time: row.resolved_on_time,
        resolved_late: row.resolved_late,
        pending_in_time: row.pending_in_time,
        pending_overdue: row.pending_overdue,
        online: row.online,
    }
}

fn check_period(request: &ReportRequest) -> Result<(), ReportError> {
    if request.to < request.from {
        return Err(ReportError::EmptyPeriod {
            from: request.from,
            to: request.to,
        });
    }
    Ok(())
}

fn unit_filter(
    catalogue: &Catalogue,
    request: &ReportRequest,
) -> Result<Option<HashSet<String>>, ReportError> {
    request
        .unit
        .as_deref()
        .map(|code| catalogue.subtree(code))
        .transpose()
}

/// The report of contract section 7: per level and in total.
pub async fn report(
    config: &ClickHouseConfig,
    request: &ReportRequest,
) -> Result<Report, ReportError> {
    check_period(request)?;
    let client = query_client(config)?;
    let units = match &request.unit {
        None => None,
        Some(_) => unit_filter(&Catalogue::fetch(&client).await?, request)?,
    };
    let (documents, dossiers) = fetch_counts(
        &client,
        &config.database,
        request,
        Grouping::Level,
        units.as_ref(),
    )
    .await?;
    let mut document_levels: BTreeMap<Level, DocumentCounts> = BTreeMap::new();
    for row in &documents {
        document_levels.insert(parse_level(&row.grp)?, document_counts(row));
    }
    let mut dossier_levels: BTreeMap<Level, DossierCounts> = BTreeMap::new();
    for row in &dossiers {
        dossier_levels.insert(parse_level(&row.grp)?, dossier_counts(row));
    }
    Ok(Report::new(
        request.from,
        request.to,
        &document_levels,
        &dossier_levels,
    ))
}

/// The same figures per unit, for analysts: one row per unit with any event.
pub async fn report_by_unit(
    config: &ClickHouseConfig,
    request: &ReportRequest,
) -> Result<Vec<UnitFigures>, ReportError> {
    check_period(request)?;
    let client = query_client(config)?;
    // One read of the catalogue: for the unit filter and for the names.
    let catalogue = Catalogue::fetch(&client).await?;
    let units = unit_filter(&catalogue, request)?;
    let (documents, dossiers) = fetch_counts(
        &client,
        &config.database,
        request,
        Grouping::Unit,
        units.as_ref(),
    )
    .await?;
    let mut by_unit: BTreeMap<String, (DocumentCounts, DossierCounts)> = BTreeMap::new();
    for row in &documents {
        by_unit.entry(row.grp.clone()).or_default().0 = document_counts(row);
    }
    for row in &dossiers {
        by_unit.entry(row.grp.clone()).or_default().1 = dossier_counts(row);
    }
    let names: HashMap<&str, &UnitRow> = catalogue
        .units
        .iter()
        .map(|u| (u.code.as_str(), u))
        .collect();
    Ok(by_unit
        .into_iter()
        .map(|(code, (documents, dossiers))| {
            let unit = names.get(code.as_str());
            UnitFigures {
                name: unit.map(|u| u.name.clone()).unwrap_or_default(),
                level: unit.map(|u| u.level.clone()).unwrap_or_default(),
                unit_code: code,
                documents: DocumentFigures::from(documents),
                dossiers: DossierFigures::from(dossiers),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendering_fills_every_placeholder() -> anyhow::Result<()> {
        let from = NaiveDate::from_ymd_opt(2021, 1, 1).ok_or_else(|| anyhow::anyhow!("date"))?;
        let to = NaiveDate::from_ymd_opt(2021, 11, 14).ok_or_else(|| anyhow::anyhow!("date"))?;
        let units: HashSet<String> = ["243".to_owned(), "o'brien".to_owned()].into();
        for template in [DOCUMENTS_SQL, DOSSIERS_SQL] {
            let sql = render_sql(template, "egov", from, to, "level", Some(&units));
            assert!(!sql.contains('{'), "{sql}");
            assert!(sql.contains("toDate('2021-11-14')"));
            assert!(sql.contains("unit_code IN ('243', 'o\\'brien')"));
            assert!(sql.contains("FROM `egov`.events"));
        }
        Ok(())
    }
}
