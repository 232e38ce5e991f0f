//! The figures of contract section 5 and the JSON shape of section 7 (its
//! figure objects are `egov_model::figures`). Counts come from ClickHouse;
//! sums, totals and rates are derived here from counts, never copied from
//! anywhere.

use chrono::NaiveDate;
pub use egov_model::figures::{DocumentFigures, DossierFigures, Period};
use egov_model::Level;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DocumentCounts {
    pub incoming: u64,
    pub outgoing: u64,
    pub outgoing_signed: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DossierCounts {
    pub received: u64,
    pub carried_over: u64,
    pub resolved_early: u64,
    pub resolved_on_time: u64,
    pub resolved_late: u64,
    pub pending_in_time: u64,
    pub pending_overdue: u64,
    pub online: u64,
}

/// `Add` field by field: counts of disjoint sets of events sum.
macro_rules! add_fields {
    ($counts:ty { $($field:ident),+ }) => {
        impl std::ops::Add for $counts {
            type Output = Self;
            fn add(self, o: Self) -> Self {
                Self {
                    $($field: self.$field + o.$field),+
                }
            }
        }
    };
}

add_fields!(DocumentCounts {
    incoming,
    outgoing,
    outgoing_signed
});
add_fields!(DossierCounts {
    received,
    carried_over,
    resolved_early,
    resolved_on_time,
    resolved_late,
    pending_in_time,
    pending_overdue,
    online
});

/// `numerator / denominator` at full precision, `None` (JSON null) for 0/0.
pub fn rate(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

impl From<DocumentCounts> for DocumentFigures {
    fn from(c: DocumentCounts) -> Self {
        Self {
            incoming: c.incoming,
            outgoing: c.outgoing,
            outgoing_signed: c.outgoing_signed,
            signed_rate: rate(c.outgoing_signed, c.outgoing),
        }
    }
}

impl From<DossierCounts> for DossierFigures {
    fn from(c: DossierCounts) -> Self {
        let due = c.resolved_early + c.resolved_on_time + c.resolved_late + c.pending_overdue;
        Self {
            received: c.received,
            carried_over: c.carried_over,
            in_period: c.received + c.carried_over,
            due,
            resolved_early: c.resolved_early,
            resolved_on_time: c.resolved_on_time,
            resolved_late: c.resolved_late,
            pending_in_time: c.pending_in_time,
            pending_overdue: c.pending_overdue,
            on_time_rate: rate(c.resolved_early + c.resolved_on_time, due),
            online: c.online,
            online_share: rate(c.online, c.received),
        }
    }
}

impl From<&DossierFigures> for DossierCounts {
    fn from(d: &DossierFigures) -> Self {
        Self {
            received: d.received,
            carried_over: d.carried_over,
            resolved_early: d.resolved_early,
            resolved_on_time: d.resolved_on_time,
            resolved_late: d.resolved_late,
            pending_in_time: d.pending_in_time,
            pending_overdue: d.pending_overdue,
            online: d.online,
        }
    }
}

impl ByLevel<DossierFigures> {
    /// The district and commune levels together, as the province's reports
    /// give one-stop figures ("cấp huyện, cấp xã"): the counts summed, the
    /// rates computed from the sums (the `district+commune` row of the tables).
    pub fn district_and_commune(&self) -> DossierFigures {
        DossierFigures::from(
            DossierCounts::from(&self.district) + DossierCounts::from(&self.commune),
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ByLevel<T> {
    pub province: T,
    pub district: T,
    pub commune: T,
    pub total: T,
}

impl<T> ByLevel<T> {
    pub fn get(&self, level: Level) -> &T {
        match level {
            Level::Province => &self.province,
            Level::District => &self.district,
            Level::Commune => &self.commune,
        }
    }
}

/// Contract section 7.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub period: Period,
    pub documents: ByLevel<DocumentFigures>,
    pub dossiers: ByLevel<DossierFigures>,
}

fn by_level<C, F>(counts: &BTreeMap<Level, C>) -> ByLevel<F>
where
    C: Copy + Default + std::ops::Add<Output = C>,
    F: From<C>,
{
    let at = |level| counts.get(&level).copied().unwrap_or_default();
    let total = Level::ALL
        .into_iter()
        .map(at)
        .fold(C::default(), |a, b| a + b);
    ByLevel {
        province: at(Level::Province).into(),
        district: at(Level::District).into(),
        commune: at(Level::Commune).into(),
        total: total.into(),
    }
}

impl Report {
    pub fn new(
        from: NaiveDate,
        to: NaiveDate,
        documents: &BTreeMap<Level, DocumentCounts>,
        dossiers: &BTreeMap<Level, DossierCounts>,
    ) -> Self {
        Self {
            period: Period { from, to },
            documents: by_level(documents),
            dossiers: by_level(dossiers),
        }
    }
}

/// One unit's figures, for the per-unit breakdown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitFigures {
    pub unit_code: String,
    pub name: String,
    pub level: String,
    pub documents: DocumentFigures,
    pub dossiers: DossierFigures,
}

/// The example report of contract section 7 (`docs/contract.md`): documents
/// and dossiers at the district level, one dossier received at the commune
/// level. For tests: this crate's and, through the feature `examples`, other
/// crates' (the dashboard's OpenAPI test).
#[cfg(any(test, feature = "examples"))]
pub fn contract_example() -> Report {
    let day = |month, day| NaiveDate::from_ymd_opt(2021, month, day).unwrap_or_default();
    let documents = BTreeMap::from([(
        Level::District,
        DocumentCounts {
            incoming: 5,
            outgoing: 4,
            outgoing_signed: 3,
        },
    )]);
    let dossiers = BTreeMap::from([
        (
            Level::District,
            DossierCounts {
                received: 10,
                carried_over: 2,
                resolved_early: 3,
                resolved_on_time: 4,
                resolved_late: 1,
                pending_in_time: 2,
                pending_overdue: 2,
                online: 1,
            },
        ),
        (
            Level::Commune,
            DossierCounts {
                received: 1,
                ..Default::default()
            },
        ),
    ]);
    Report::new(day(1, 1), day(11, 14), &documents, &dossiers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn derived_figures_and_json_shape() -> anyhow::Result<()> {
        let report = serde_json::to_value(contract_example())?;
        assert_eq!(
            report["period"],
            json!({"from": "2021-01-01", "to": "2021-11-14"})
        );
        assert_eq!(
            report["documents"]["district"],
            json!({"incoming": 5, "outgoing": 4, "outgoing_signed": 3, "signed_rate": 0.75})
        );
        assert_eq!(report["documents"]["province"]["signed_rate"], json!(null));
        assert_eq!(
            report["dossiers"]["district"],
            json!({"received": 10, "carried_over": 2, "in_period": 12, "due": 10, "resolved_early": 3, "resolved_on_time": 4,
                   "resolved_late": 1, "pending_in_time": 2, "pending_overdue": 2, "on_time_rate": 0.7, "online": 1, "online_share": 0.1})
        );
        assert_eq!(report["dossiers"]["total"]["received"], 11);
        assert_eq!(
            report["dossiers"]["total"]["online_share"],
            json!(1.0 / 11.0)
        );
        Ok(())
    }
}
