//! The units of the catalogue the scenarios report for, with weights.

use egov_model::{Catalogue, Level};

/// The provincial Public Administration Service Center.
pub const SERVICE_CENTER: &str = "000.00.02.H62";

#[derive(Debug, Clone)]
pub struct UnitInfo {
    pub code: String,
    pub level: Level,
    pub kind: String,
    pub name: String,
    /// The district a commune belongs to.
    pub district_code: Option<String>,
    /// Relative activity of the unit within its level.
    pub weight: f64,
}

fn hash_unit(code: &str) -> u64 {
    // FNV-1a: a stable spread of the units' sizes, independent of the seed.
    code.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn province_weight(code: &str) -> f64 {
    match code {
        "26" => 14.0,
        "000.00.01.H62" => 12.0,
        "000.00.02.H62" => 2.0,
        "000.00.03.H62" | "000.00.05.H62" | "000.00.17.H62" => 6.0,
        "000.00.06.H62" | "000.00.11.H62" => 7.0,
        "000.00.08.H62" => 5.0,
        "000.00.07.H62" | "000.00.09.H62" | "000.00.10.H62" | "000.00.13.H62" | "000.00.16.H62" => {
            4.0
        }
        "000.00.04.H62" | "000.00.12.H62" => 3.5,
        "000.00.14.H62" => 3.0,
        "000.00.15.H62" | "000.00.19.H62" | "000.00.21.H62" => 2.5,
        "000.00.22.H62" => 2.0,
        _ => 1.5,
    }
}

fn district_weight(code: &str) -> f64 {
    match code {
        "243" => 1.2,
        "244" => 1.0,
        "246" => 1.0,
        "247" => 0.9,
        "248" => 0.75,
        "249" => 1.05,
        "251" => 1.1,
        "252" => 1.25,
        "253" => 0.8,
        _ => 1.0,
    }
}

fn commune_weight(code: &str, name: &str) -> f64 {
    let base = if name.starts_with("Phường") {
        1.3
    } else if name.starts_with("Thị trấn") {
        1.2
    } else {
        1.0
    };
    let spread = 0.7 + (hash_unit(code) % 1000) as f64 / 1000.0 * 0.7;
    base * spread
}

/// Every unit of the catalogue, in catalogue order, with a weight.
pub fn units(catalogue: &Catalogue) -> Vec<UnitInfo> {
    catalogue
        .units()
        .map(|u| UnitInfo {
            code: u.code.clone(),
            level: u.level,
            kind: u.kind.clone(),
            name: u.name.clone(),
            district_code: u.district_code.clone(),
            weight: match u.level {
                Level::Province => province_weight(&u.code),
                Level::District => district_weight(&u.code),
                Level::Commune => commune_weight(&u.code, &u.name),
            },
        })
        .collect()
}
