//! The report as tables a person reads (without `--format json`).

use crate::figures::{ByLevel, DocumentFigures, DossierFigures, Report, UnitFigures};
use egov_model::format::thousands;
use std::fmt::Write;

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "–".to_owned(), |r| format!("{:.2}%", r * 100.0))
}

/// Thousands separated by commas, as the provincial report prints them.
fn count(n: u64) -> String {
    thousands(i128::from(n))
}

fn table(out: &mut String, title: &str, header: &[&str], rows: &[Vec<String>]) {
    let columns = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(columns) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let _ = writeln!(out, "{title}");
    let line = |out: &mut String, cells: &[String]| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(cell.chars().count());
            if i == 0 {
                text.push_str(cell);
                text.push_str(&" ".repeat(pad));
            } else {
                text.push_str("  ");
                text.push_str(&" ".repeat(pad));
                text.push_str(cell);
            }
        }
        let _ = writeln!(out, "{}", text.trim_end());
    };
    line(
        out,
        &header.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>(),
    );
    let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
    line(out, &rule);
    for row in rows {
        line(out, row);
    }
    let _ = writeln!(out);
}

const LEVELS: [&str; 4] = ["province", "district", "commune", "total"];

fn levels<T>(by: &ByLevel<T>) -> [&T; 4] {
    [&by.province, &by.district, &by.commune, &by.total]
}

fn document_cells(d: &DocumentFigures) -> Vec<String> {
    vec![
        count(d.incoming),
        count(d.outgoing),
        count(d.outgoing_signed),
        percent(d.signed_rate),
    ]
}

fn dossier_cells(d: &DossierFigures) -> Vec<String> {
    vec![
        count(d.received),
        count(d.carried_over),
        count(d.in_period),
        count(d.due),
        count(d.resolved_early),
        count(d.resolved_on_time),
        count(d.resolved_late),
        count(d.pending_in_time),
        count(d.pending_overdue),
        percent(d.on_time_rate),
        count(d.online),
        percent(d.online_share),
    ]
}

const DOCUMENT_HEADER: [&str; 4] = ["incoming", "outgoing", "signed", "signed rate"];
const DOSSIER_HEADER: [&str; 12] = [
    "received",
    "carried",
    "in period",
    "due",
    "early",
    "on time",
    "late",
    "pending",
    "overdue",
    "on-time rate",
    "online",
    "online share",
];

pub fn report_tables(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Period {} – {} (local dates, Asia/Ho_Chi_Minh)\n",
        report.period.from, report.period.to
    );
    let with_level = |level: &str, cells: Vec<String>| {
        std::iter::once(level.to_owned())
            .chain(cells)
            .collect::<Vec<_>>()
    };
    let rows: Vec<Vec<String>> = LEVELS
        .iter()
        .zip(levels(&report.documents))
        .map(|(l, d)| with_level(l, document_cells(d)))
        .collect();
    let header: Vec<&str> = std::iter::once("documents")
        .chain(DOCUMENT_HEADER)
        .collect();
    table(&mut out, "Document management (văn bản)", &header, &rows);
    let mut rows: Vec<Vec<String>> = LEVELS
        .iter()
        .zip(levels(&report.dossiers))
        .map(|(l, d)| with_level(l, dossier_cells(d)))
        .collect();
    // The provincial report sums the district and commune levels (its one-stop
    // figures "cấp huyện, cấp xã"), so show that sum too, rates from its counts.
    let local = report.dossiers.district_and_commune();
    rows.insert(3, with_level("district+commune", dossier_cells(&local)));
    let header: Vec<&str> = std::iter::once("dossiers").chain(DOSSIER_HEADER).collect();
    table(
        &mut out,
        "One-stop dossiers (hồ sơ một cửa)",
        &header,
        &rows,
    );
    let _ = writeln!(
        out,
        "Rates are computed from the counts above (e.g. on-time rate = (early + on time) / due)."
    );
    out
}

pub fn unit_tables(units: &[UnitFigures]) -> String {
    let mut out = String::new();
    let name = |u: &UnitFigures| format!("{} {} ({})", u.unit_code, u.name, u.level);
    let rows: Vec<Vec<String>> = units
        .iter()
        .filter(|u| u.documents.incoming + u.documents.outgoing > 0)
        .map(|u| {
            std::iter::once(name(u))
                .chain(document_cells(&u.documents))
                .collect()
        })
        .collect();
    let header: Vec<&str> = std::iter::once("unit").chain(DOCUMENT_HEADER).collect();
    table(&mut out, "Documents per unit", &header, &rows);
    let rows: Vec<Vec<String>> = units
        .iter()
        .filter(|u| u.dossiers.in_period > 0)
        .map(|u| {
            std::iter::once(name(u))
                .chain(dossier_cells(&u.dossiers))
                .collect()
        })
        .collect();
    let header: Vec<&str> = std::iter::once("unit").chain(DOSSIER_HEADER).collect();
    table(&mut out, "Dossiers per unit", &header, &rows);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(146_777), "146,777");
        assert_eq!(count(1_116_511), "1,116,511");
    }

    #[test]
    fn tables_show_the_district_and_commune_sum() {
        use crate::figures::{DocumentCounts, DossierCounts};
        use egov_model::Level;
        use std::collections::BTreeMap;
        let day = chrono::NaiveDate::from_ymd_opt(2021, 11, 14).unwrap_or_default();
        let counts = |early, late| DossierCounts {
            received: 10,
            resolved_early: early,
            resolved_late: late,
            ..Default::default()
        };
        let dossiers = BTreeMap::from([
            (Level::District, counts(3, 1)),
            (Level::Commune, counts(5, 3)),
        ]);
        let text = report_tables(&Report::new(
            day,
            day,
            &BTreeMap::<Level, DocumentCounts>::new(),
            &dossiers,
        ));
        let line = text
            .lines()
            .find(|l| l.starts_with("district+commune"))
            .unwrap_or_default();
        // 8 early of 12 due: 66.67%.
        assert!(line.contains("66.67%"), "{line}");
        assert!(line.split_whitespace().nth(1) == Some("20"), "{line}");
    }

    #[test]
    fn percent_has_two_decimals() {
        assert_eq!(percent(Some(146_777.0 / 161_578.0)), "90.84%");
        assert_eq!(percent(None), "–");
    }
}
