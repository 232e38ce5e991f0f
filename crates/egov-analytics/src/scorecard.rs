//! The province's scorecard (`egov scorecard`, the dashboard's scorecard): for
//! every unit of the catalogue, its own figures for a period (the figures of
//! `egov report`, from the same per-unit query), when each source system last
//! sent an event for it, whether one went silent, which rates are under their
//! threshold, and its rank within its level.

pub mod table;
pub mod xlsx;

use crate::figures::{DocumentFigures, DossierFigures, Period};
use crate::query::{counts_by_unit, last_events, CountsByUnit, Params, UnitCounts};
use crate::{check_period, ReportError};
use chrono::{DateTime, FixedOffset, NaiveDate, SecondsFormat};
use egov_model::{Catalogue, Level, System};
use egov_runtime::config::ScorecardSection;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

/// What the scorecard covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScorecardRequest {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Only the units of this level; `None` for every level.
    pub level: Option<Level>,
}

/// The scorecard: `{"period": {"from", "to"}, "units": [...]}`, units ordered
/// by level (province, district, commune), then rank, then code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scorecard {
    pub period: Period,
    pub units: Vec<UnitScore>,
}

/// One unit's line of the scorecard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitScore {
    pub code: String,
    pub name: String,
    pub level: Level,
    /// The unit's district (itself for a district); `null` at province level.
    pub district_code: Option<String>,
    /// The unit's own documents (not those of the units under it).
    pub documents: DocumentFigures,
    /// The unit's own dossiers.
    pub dossiers: DossierFigures,
    pub last_event_at: LastEventAt,
    /// The unit sent events before, but none (of either system) dated within
    /// the last `scorecard.silent_after_days` days of the period (up to its end);
    /// `last_event_at` tells which system stopped when.
    pub silent: bool,
    /// The rates under their threshold.
    pub flags: Vec<Flag>,
    /// 1 for the best unit of its level, by on-time rate then signing rate
    /// (units with equal rates share a rank); `null` with neither rate.
    pub rank: Option<u32>,
}

/// The latest event dated on or before the end of the period, per source
/// system, in local time (`2021-12-31T16:05:00.000+07:00`); `null` if none.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LastEventAt {
    #[serde(with = "local_time")]
    pub documents: Option<DateTime<FixedOffset>>,
    #[serde(with = "local_time")]
    pub onestop: Option<DateTime<FixedOffset>>,
}

impl LastEventAt {
    pub fn get(&self, system: System) -> Option<DateTime<FixedOffset>> {
        match system {
            System::Documents => self.documents,
            System::Onestop => self.onestop,
        }
    }
}

/// A rate under its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// `documents.signed_rate` < `scorecard.min_signing_rate`.
    LowSignedRate,
    /// `dossiers.on_time_rate` < `scorecard.min_on_time_rate`.
    LowOnTimeRate,
}

impl Flag {
    pub fn as_str(self) -> &'static str {
        match self {
            Flag::LowSignedRate => "low_signed_rate",
            Flag::LowOnTimeRate => "low_on_time_rate",
        }
    }
}

/// How a time of the scorecard is written everywhere (JSON, CSV, tables).
pub fn format_time(at: &DateTime<FixedOffset>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, false)
}

mod local_time {
    use chrono::{DateTime, FixedOffset};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        at: &Option<DateTime<FixedOffset>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => s.serialize_str(&super::format_time(at)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<DateTime<FixedOffset>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| DateTime::parse_from_rfc3339(&text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// The scorecard for `request`: three queries (documents and dossiers per unit,
/// as `egov report` reads them, and the latest event per unit and system), run
/// at once; everything else is computed here from their rows and `catalogue`.
pub async fn scorecard(
    client: &clickhouse::Client,
    database: &str,
    catalogue: &Catalogue,
    request: &ScorecardRequest,
    settings: &ScorecardSection,
) -> Result<Scorecard, ReportError> {
    check_period(request.from, request.to)?;
    let params = Params {
        from: request.from,
        to: request.to,
        units: None,
    };
    let (counts, last) = tokio::join!(
        counts_by_unit(client, database, &params),
        last_events(client, database, request.to)
    );
    Ok(build(request, catalogue, &counts?, &last?, settings))
}

/// The scorecard from the rows of the queries (pure, for tests).
pub fn build(
    request: &ScorecardRequest,
    catalogue: &Catalogue,
    counts: &CountsByUnit,
    last: &BTreeMap<(String, System), i64>,
    settings: &ScorecardSection,
) -> Scorecard {
    // A unit's counts whatever level its events were stored with (one, unless
    // the catalogue moved it).
    let mut by_code: BTreeMap<&str, (Level, UnitCounts)> = BTreeMap::new();
    for ((level, code), unit) in counts {
        let entry = by_code
            .entry(code.as_str())
            .or_insert((*level, UnitCounts::default()));
        entry.1.documents = entry.1.documents + unit.documents;
        entry.1.dossiers = entry.1.dossiers + unit.dossiers;
    }
    let mut units: Vec<UnitScore> = Vec::new();
    for unit in catalogue.units() {
        let valid =
            unit.valid_from <= request.to && unit.valid_to.is_none_or(|v| v >= request.from);
        let own = by_code.remove(unit.code.as_str());
        if !valid && own.is_none() {
            continue;
        }
        let own = own.map(|(_, c)| c).unwrap_or_default();
        units.push(score(
            &unit.code,
            &unit.name,
            unit.level,
            unit.district_code.clone(),
            own,
            last,
            request.to,
            settings,
        ));
    }
    // Units with events but no longer in the catalogue still count (as in the report).
    for (code, (level, own)) in by_code {
        units.push(score(
            code, "", level, None, own, last, request.to, settings,
        ));
    }
    rank(&mut units);
    if let Some(level) = request.level {
        units.retain(|u| u.level == level);
    }
    units.sort_by(|a, b| {
        a.level
            .cmp(&b.level)
            .then_with(|| match (a.rank, b.rank) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            })
            .then_with(|| a.code.cmp(&b.code))
    });
    Scorecard {
        period: Period {
            from: request.from,
            to: request.to,
        },
        units,
    }
}

#[allow(clippy::too_many_arguments)]
fn score(
    code: &str,
    name: &str,
    level: Level,
    district_code: Option<String>,
    own: UnitCounts,
    last: &BTreeMap<(String, System), i64>,
    to: NaiveDate,
    settings: &ScorecardSection,
) -> UnitScore {
    let documents = DocumentFigures::from(own.documents);
    let dossiers = DossierFigures::from(own.dossiers);
    let last_ms = |system: System| last.get(&(code.to_owned(), system)).copied();
    let local = |ms: Option<i64>| {
        ms.and_then(DateTime::from_timestamp_millis)
            .map(|at| at.with_timezone(&egov_model::time::vietnam()))
    };
    // Silent: the unit's latest event (of either system) is dated
    // `silent_after_days` or more before `to`; never when it has none.
    let quiet_since = to - chrono::Days::new(u64::from(settings.silent_after_days));
    let latest = System::ALL.into_iter().filter_map(last_ms).max();
    let silent = local(latest).is_some_and(|at| at.date_naive() <= quiet_since);
    let mut flags = Vec::new();
    if documents
        .signed_rate
        .is_some_and(|r| r < settings.min_signing_rate)
    {
        flags.push(Flag::LowSignedRate);
    }
    if dossiers
        .on_time_rate
        .is_some_and(|r| r < settings.min_on_time_rate)
    {
        flags.push(Flag::LowOnTimeRate);
    }
    UnitScore {
        code: code.to_owned(),
        name: name.to_owned(),
        level,
        district_code,
        documents,
        dossiers,
        last_event_at: LastEventAt {
            documents: local(last_ms(System::Documents)),
            onestop: local(last_ms(System::Onestop)),
        },
        silent,
        flags,
        rank: None,
    }
}

/// Higher first, a missing rate after every present one.
fn by_rate_desc(a: Option<f64>, b: Option<f64>) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => y.partial_cmp(&x).unwrap_or(Ordering::Equal),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// Ranks within each level by on-time rate, then signing rate (standard
/// competition ranking: equal rates share a rank, the next rank skips). A unit
/// with neither rate has no rank. In Rust, as ClickHouse 18.16 has no window
/// functions.
fn rank(units: &mut [UnitScore]) {
    let key = |u: &UnitScore| (u.dossiers.on_time_rate, u.documents.signed_rate);
    let mut by_level: HashMap<Level, Vec<usize>> = HashMap::new();
    for (i, unit) in units.iter().enumerate() {
        let (on_time, signed) = key(unit);
        if on_time.is_some() || signed.is_some() {
            by_level.entry(unit.level).or_default().push(i);
        }
    }
    for indices in by_level.values_mut() {
        let order = |a: &usize, b: &usize| {
            let ((ta, sa), (tb, sb)) = (key(&units[*a]), key(&units[*b]));
            by_rate_desc(ta, tb).then_with(|| by_rate_desc(sa, sb))
        };
        indices.sort_by(order);
        let mut ranks = Vec::with_capacity(indices.len());
        for (position, index) in indices.iter().enumerate() {
            let tied = position > 0 && order(&indices[position - 1], index) == Ordering::Equal;
            let rank = if tied {
                ranks[position - 1]
            } else {
                u32::try_from(position + 1).unwrap_or(u32::MAX)
            };
            ranks.push(rank);
        }
        for (index, rank) in indices.iter().zip(ranks) {
            units[*index].rank = Some(rank);
        }
    }
}

#[cfg(test)]
mod tests;
