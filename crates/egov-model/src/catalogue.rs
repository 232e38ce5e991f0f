//! The unit catalogue: the province, its districts and communes, and the
//! provincial agencies, each with a level, a parent and validity dates.
//! Ingest and transform read the same file (`seeds/units.csv` by default,
//! built into the binary) and `egov migrate` loads it into ClickHouse.
//! Parsing and writing the CSV only: reading a configured file is the
//! runtime's (`egov_runtime::config::CatalogueConfig::load`).

use crate::model::Level;
use chrono::NaiveDate;
use serde::Deserialize;
use std::collections::HashMap;
use std::io::{Read, Write};

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
    #[error("writing unit catalogue: {0}")]
    Write(#[source] csv::Error),
}

/// The columns of `seeds/units.csv`, in order.
const COLUMNS: [&str; 8] = [
    "code",
    "level",
    "kind",
    "name",
    "parent_code",
    "district_code",
    "valid_from",
    "valid_to",
];

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
        let units = reader
            .deserialize::<Unit>()
            .map(|record| {
                record.map_err(|source| CatalogueError::Parse {
                    line: source.position().map_or(0, |p| p.line()),
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_units(units)
    }

    /// A catalogue of `units`, in that order: every code once, every parent
    /// in the catalogue.
    pub fn from_units(units: impl IntoIterator<Item = Unit>) -> Result<Self, CatalogueError> {
        let mut catalogue = Catalogue::default();
        for unit in units {
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

    /// Writes the catalogue as a units CSV in the format of
    /// `seeds/units.csv` (header, file order, quotes only where needed, `\n`),
    /// which [`Catalogue::from_reader`] reads back.
    pub fn write_csv(&self, output: impl Write) -> Result<(), CatalogueError> {
        let mut writer = csv::Writer::from_writer(output);
        writer
            .write_record(COLUMNS)
            .map_err(CatalogueError::Write)?;
        for unit in self.units() {
            let (valid_from, valid_to) = (
                unit.valid_from.format("%Y-%m-%d").to_string(),
                unit.valid_to
                    .map(|d| d.format("%Y-%m-%d").to_string())
                    .unwrap_or_default(),
            );
            writer
                .write_record([
                    unit.code.as_str(),
                    unit.level.as_str(),
                    unit.kind.as_str(),
                    unit.name.as_str(),
                    unit.parent_code.as_deref().unwrap_or_default(),
                    unit.district_code.as_deref().unwrap_or_default(),
                    valid_from.as_str(),
                    valid_to.as_str(),
                ])
                .map_err(CatalogueError::Write)?;
        }
        writer.flush().map_err(|e| CatalogueError::Write(e.into()))
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
    fn written_csv_is_the_seed_file_byte_for_byte() -> anyhow::Result<()> {
        let catalogue = Catalogue::embedded()?;
        let mut out = Vec::new();
        catalogue.write_csv(&mut out)?;
        assert_eq!(String::from_utf8(out.clone())?, EMBEDDED_UNITS_CSV);
        let again = Catalogue::from_reader(out.as_slice())?;
        assert!(again.units().eq(catalogue.units()));
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
