//! Analytics of contract section 5, read from ClickHouse: the report of
//! `egov report` per level and in total, or per unit. The SQL lives in
//! `schemas/clickhouse/queries/` so that the same text is checked on ClickHouse
//! 18.16 (local) and on a current release (chDB, in tests).
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod figures;
pub mod late;
pub mod query;
pub mod render;
pub mod scorecard;

use chrono::NaiveDate;
use clickhouse::Row;
use egov_model::Level;
use egov_runtime::clickhouse::query_client;
use egov_runtime::config::ClickHouseConfig;
use figures::{
    DocumentCounts, DocumentFigures, DossierCounts, DossierFigures, Report, UnitFigures,
};
use query::{counts_by_unit, CountsByUnit, Params};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap, HashSet};

pub use late::{late_dossiers, LateDossier, LATE_DOSSIERS_LIMIT, LATE_DOSSIERS_SQL};
pub use query::{DOCUMENTS_SQL, DOSSIERS_SQL, LAST_EVENTS_SQL};
pub use scorecard::{scorecard, Scorecard, ScorecardRequest};

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
    #[error("clickhouse returned `{0}` where a date YYYY-MM-DD belongs")]
    BadDate(String),
}

/// What to report on.
#[derive(Debug, Clone)]
pub struct ReportRequest {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// One unit and every unit under it; `None` for the whole province.
    pub unit: Option<String>,
}

#[derive(Debug, Row, Deserialize)]
struct UnitRow {
    code: String,
    level: String,
    name: String,
    parent_code: String,
}

struct UnitsTable {
    units: Vec<UnitRow>,
}

impl UnitsTable {
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

pub(crate) fn check_period(from: NaiveDate, to: NaiveDate) -> Result<(), ReportError> {
    if to < from {
        return Err(ReportError::EmptyPeriod { from, to });
    }
    Ok(())
}

fn unit_filter(
    catalogue: &UnitsTable,
    request: &ReportRequest,
) -> Result<Option<HashSet<String>>, ReportError> {
    request
        .unit
        .as_deref()
        .map(|code| catalogue.subtree(code))
        .transpose()
}

/// The per-unit counts of a request: the one read behind every report.
async fn fetch_counts(
    client: &clickhouse::Client,
    database: &str,
    request: &ReportRequest,
    units: Option<&HashSet<String>>,
) -> Result<CountsByUnit, ReportError> {
    let params = Params {
        from: request.from,
        to: request.to,
        units,
    };
    counts_by_unit(client, database, &params).await
}

/// The report of contract section 7: per level and in total.
pub async fn report(
    config: &ClickHouseConfig,
    request: &ReportRequest,
) -> Result<Report, ReportError> {
    report_on(&query_client(config)?, &config.database, request).await
}

/// [`report`] on a client of the caller's (e.g. a server that keeps one).
pub async fn report_on(
    client: &clickhouse::Client,
    database: &str,
    request: &ReportRequest,
) -> Result<Report, ReportError> {
    check_period(request.from, request.to)?;
    let units = match &request.unit {
        None => None,
        Some(_) => unit_filter(&UnitsTable::fetch(client).await?, request)?,
    };
    let counts = fetch_counts(client, database, request, units.as_ref()).await?;
    let (documents, dossiers) = sum_by_level(&counts);
    Ok(Report::new(request.from, request.to, &documents, &dossiers))
}

/// A level's counts are the sums of its units' (a document or dossier is one
/// unit's, so nothing counts twice).
pub fn sum_by_level(
    counts: &CountsByUnit,
) -> (
    BTreeMap<Level, DocumentCounts>,
    BTreeMap<Level, DossierCounts>,
) {
    let mut documents: BTreeMap<Level, DocumentCounts> = BTreeMap::new();
    let mut dossiers: BTreeMap<Level, DossierCounts> = BTreeMap::new();
    for ((level, _), unit) in counts {
        let d = documents.entry(*level).or_default();
        *d = *d + unit.documents;
        let d = dossiers.entry(*level).or_default();
        *d = *d + unit.dossiers;
    }
    (documents, dossiers)
}

/// The same figures per unit, for analysts: one row per unit with any event.
pub async fn report_by_unit(
    config: &ClickHouseConfig,
    request: &ReportRequest,
) -> Result<Vec<UnitFigures>, ReportError> {
    check_period(request.from, request.to)?;
    let client = query_client(config)?;
    // One read of the catalogue: for the unit filter and for the names.
    let catalogue = UnitsTable::fetch(&client).await?;
    let units = unit_filter(&catalogue, request)?;
    let counts = fetch_counts(&client, &config.database, request, units.as_ref()).await?;
    let mut by_unit: BTreeMap<String, (DocumentCounts, DossierCounts)> = BTreeMap::new();
    for ((_, code), unit) in counts {
        let entry = by_unit.entry(code).or_default();
        entry.0 = entry.0 + unit.documents;
        entry.1 = entry.1 + unit.dossiers;
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
