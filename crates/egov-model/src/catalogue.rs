//! The unit catalogue: the province, its districts and communes, and the
//! provincial agencies, each with a level, a parent and validity dates.
//! Ingest and transform read the same file (`seeds/units.csv` by default,
//! built into the binary) and `egov migrate` loads it into ClickHouse.
//! Parsing only: reading a configured file is the runtime's
//! (`egov_runtime::config::CatalogueConfig::load`).

use crate::model::Level;
use chrono::NaiveDate;
use serde::Deserialize;
use std::collections::HashMap;
use std::io::Read;

/// The catalogue shipped with the project, built into the binary.
pub const EMBEDDED_UNITS_CSV: &str = include_str!("../../../seeds/units.csv");

#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("reading unit catalogue {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("unit catalogue line {line}: {source}")]
    Parse { line: u64, source: csv::Error },
    #[error("unit catalogue: unit `{code}` appears twice")]
    Duplicate { code: String },
    #[error("unit catalogue: unit `{code}` has parent `{parent}`, which is not in the catalogue")]
    UnknownParent { code: String, parent: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Unit {
    pub code: String,
    pub level: Level,
    /// province, district, commune, agency or service_center.
    pub kind: String,
    pub name: String,
    #[serde(deserialize_with = "empty_as_none")]
    pub parent_code: Option<String>,
    #[serde(deserialize_with = "empty_as_none")]
    pub district_code: Option<String>,
    pub valid_from: NaiveDate,
    #[serde(deserialize_with = "empty_date_as_none")]
    pub valid_to: Option<NaiveDate>,
}

fn empty_as_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s = String::deserialize(d)?;
    Ok((!s.trim().is_empty()).then(|| s.trim().to_owned()))
}

fn empty_date_as_none<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<NaiveDate>, D::Error> {
    let s = String::deserialize(d)?;
    if s.trim().is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map(Some)
        .map_err(serde::de::Error::custom)
}

#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    units: HashMap<String, Unit>,
    /// In file order, for loading into ClickHouse and for listings.
    order: Vec<String>,
}

impl Catalogue {
    pub fn embedded() -> Result<Self, CatalogueError> {
        Self::from_csv(EMBEDDED_UNITS_CSV)
    }

    pub fn from_csv(text: &str) -> Result<Self, CatalogueError> {
        Self::from_reader(text.as_bytes())
    }

    /// A units CSV in the format of `seeds/units.csv`.
    pub fn from_reader(input: impl Read) -> Result<Self, CatalogueError> {
        let mut reader = csv::Reader::from_reader(input);
        let mut catalogue = Catalogue::default();
        for record in reader.deserialize::<Unit>() {
            let unit = record.map_err(|source| CatalogueError::Parse {
                line: source.position().map_or(0, |p| p.line()),
                source,
            })?;
            if catalogue.units.contains_key(&unit.code) {
                return Err(CatalogueError::Duplicate { code: unit.code });
            }
            catalogue.order.push(unit.code.clone());
            catalogue.units.insert(unit.code.clone(), unit);
        }
        for unit in catalogue.units.values() {
            if let Some(parent) = &unit.parent_code {
                if !catalogue.units.contains_key(parent) {
                    return Err(CatalogueError::UnknownParent {
                        code: unit.code.clone(),
                        parent: parent.clone(),
                    });
                }
            }
        }
        Ok(catalogue)
    }

    pub fn get(&self, code: &str) -> Option<&Unit> {
        self.units.get(code)
    }

    pub fn len(&self) -> usize {
        self.units.len()
    }

    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    /// Units in file order.
    pub fn units(&self) -> impl Iterator<Item = &Unit> {
        self.order.iter().filter_map(|code| self.units.get(code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_catalogue_has_the_province_and_its_units() -> anyhow::Result<()> {
        let catalogue = Catalogue::embedded()?;
        let province = catalogue
            .get("26")
            .ok_or_else(|| anyhow::anyhow!("no province"))?;
        assert_eq!(province.level, Level::Province);
        assert_eq!(province.parent_code, None);
        let districts = catalogue.units().filter(|u| u.kind == "district").count();
        let communes = catalogue.units().filter(|u| u.kind == "commune").count();
        assert_eq!((districts, communes), (9, 136));
        let agencies = catalogue
            .units()
            .filter(|u| u.kind == "agency" || u.kind == "service_center")
            .count();
        assert!(agencies >= 21, "only {agencies} provincial agencies");
        let commune = catalogue
            .get("08707")
            .ok_or_else(|| anyhow::anyhow!("no 08707"))?;
        assert_eq!(commune.level, Level::Commune);
        assert_eq!(commune.district_code.as_deref(), Some("243"));
        Ok(())
    }

    #[test]
    fn rejects_duplicates_and_orphans() {
        let header = "code,level,kind,name,parent_code,district_code,valid_from,valid_to\n";
        let dup = format!(
            "{header}26,province,province,P,,,2000-01-01,\n26,province,province,P,,,2000-01-01,\n"
        );
        assert!(matches!(
            Catalogue::from_csv(&dup),
            Err(CatalogueError::Duplicate { .. })
        ));
        let orphan = format!("{header}243,district,district,D,99,243,2000-01-01,\n");
        assert!(matches!(
            Catalogue::from_csv(&orphan),
            Err(CatalogueError::UnknownParent { .. })
        ));
    }
}
