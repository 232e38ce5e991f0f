//! Country scale, simulated: N provinces, each a copy of Vĩnh Phúc with unit
//! codes of its own, and the national unit catalogue that holds them all.
//!
//! Province 1 is Vĩnh Phúc as it is (`seeds/units.csv`, codes unchanged).
//! Province k (2..=N) has a copy of every unit, its code prefixed with
//! `Skk-` (S for simulated, kk the province's number on two digits: `S02-26`,
//! `S02-243`, `S02-08707`, `S02-000.00.02.H62`), its name followed by
//! ` (Skk)`, and its parent and district mapped the same way. No real code has
//! a letter before a digit at its start, so a simulated code can never be a
//! real one; the pipeline reads a unit's level and district from the
//! catalogue, never from the shape of its code, so nothing else has to know.
//! A real national roll-out would put every province's real units in one
//! catalogue file the same way and give it to every service with
//! `catalogue.path` (`EGOV__CATALOGUE__PATH`); `egov migrate` loads it into
//! ClickHouse's `units`.

use egov_model::catalogue::{CatalogueError, Unit};
use egov_model::Catalogue;
use std::borrow::Cow;

/// The most provinces a scenario simulates (the codes number them on two digits).
pub const MAX_PROVINCES: u16 = 99;

/// `code` of province 1's catalogue as province `province` (1-based) has it.
pub fn unit_code(code: &str, province: u16) -> Cow<'_, str> {
    if province <= 1 {
        Cow::Borrowed(code)
    } else {
        Cow::Owned(format!("{}{code}", prefix(province)))
    }
}

fn prefix(province: u16) -> String {
    format!("S{province:02}-")
}

/// Every unit of `base` once per province, 1 to `provinces` (clamped to
/// 1..=[`MAX_PROVINCES`]): province 1's as they are, then each copy's in the
/// same order.
pub fn national_catalogue(base: &Catalogue, provinces: u16) -> Result<Catalogue, CatalogueError> {
    let provinces = provinces.clamp(1, MAX_PROVINCES);
    let copies = (1..=provinces).flat_map(|province| {
        base.units().map(move |unit| {
            if province == 1 {
                return unit.clone();
            }
            let map = |code: &Option<String>| {
                code.as_deref().map(|c| unit_code(c, province).into_owned())
            };
            Unit {
                code: unit_code(&unit.code, province).into_owned(),
                name: format!("{} ({})", unit.name, prefix(province).trim_end_matches('-')),
                parent_code: map(&unit.parent_code),
                district_code: map(&unit.district_code),
                ..unit.clone()
            }
        })
    });
    Catalogue::from_units(copies)
}

#[cfg(test)]
mod tests {
    use super::*;
    use egov_model::Level;

    #[test]
    fn province_one_is_the_seed_and_every_copy_has_its_own_codes() -> anyhow::Result<()> {
        let base = Catalogue::embedded()?;
        assert!(national_catalogue(&base, 1)?.units().eq(base.units()));
        let national = national_catalogue(&base, 3)?;
        assert_eq!(national.len(), 3 * base.len());
        let commune = national
            .get("S03-08707")
            .ok_or_else(|| anyhow::anyhow!("no S03-08707"))?;
        assert_eq!(commune.level, Level::Commune);
        assert_eq!(commune.parent_code.as_deref(), Some("S03-243"));
        assert_eq!(commune.district_code.as_deref(), Some("S03-243"));
        assert_eq!(commune.name, "Phường Tích Sơn (S03)");
        let root = national
            .get("S02-26")
            .ok_or_else(|| anyhow::anyhow!("no S02-26"))?;
        assert_eq!(
            (root.level, root.parent_code.as_deref()),
            (Level::Province, None)
        );
        let center = national
            .get("S02-000.00.02.H62")
            .ok_or_else(|| anyhow::anyhow!("no center"))?;
        assert_eq!(center.kind, "service_center");
        assert_eq!(center.parent_code.as_deref(), Some("S02-26"));
        // Written and read back, as the services read a configured catalogue.
        let mut csv = Vec::new();
        national.write_csv(&mut csv)?;
        assert!(Catalogue::from_reader(csv.as_slice())?
            .units()
            .eq(national.units()));
        Ok(())
    }

    #[test]
    fn codes_are_the_contract_s() {
        assert_eq!(unit_code("000.00.02.H62", 1), "000.00.02.H62");
        assert_eq!(unit_code("000.00.02.H62", 10), "S10-000.00.02.H62");
        let envelope = regex_free_id_check(&unit_code("08707", 99));
        assert!(envelope, "S99-08707 is not a valid id part");
    }

    /// The characters event ids allow (`[A-Za-z0-9._:-]`), since the ids
    /// of the scenario start with the unit code.
    fn regex_free_id_check(code: &str) -> bool {
        code.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'))
    }
}
