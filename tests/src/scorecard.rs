//! Checks of `egov scorecard` against `egov report` shared by the tests.

use anyhow::ensure;
use egov_analytics::figures::{
    DocumentCounts, DocumentFigures, DossierCounts, DossierFigures, Report,
};
use egov_analytics::scorecard::Scorecard;
use egov_model::Level;

fn document_counts(d: &DocumentFigures) -> DocumentCounts {
    DocumentCounts {
        incoming: d.incoming,
        outgoing: d.outgoing,
        outgoing_signed: d.outgoing_signed,
    }
}

/// The scorecard's units (all levels) summed per level and in total equal the
/// report of the same period in every figure, rates (from the summed counts)
/// included; and every unit's own figures agree with themselves (`in_period`,
/// `due` and the rates derived from its counts).
pub fn assert_sums_equal_report(card: &Scorecard, report: &Report) -> anyhow::Result<()> {
    ensure!(card.period == report.period, "periods differ");
    let mut total = (DocumentCounts::default(), DossierCounts::default());
    for level in Level::ALL {
        let mut sum = (DocumentCounts::default(), DossierCounts::default());
        for unit in card.units.iter().filter(|u| u.level == level) {
            sum.0 = sum.0 + document_counts(&unit.documents);
            sum.1 = sum.1 + DossierCounts::from(&unit.dossiers);
            ensure!(
                DocumentFigures::from(document_counts(&unit.documents)) == unit.documents
                    && DossierFigures::from(DossierCounts::from(&unit.dossiers)) == unit.dossiers,
                "unit {}: derived figures do not follow from its counts",
                unit.code
            );
        }
        ensure!(
            DocumentFigures::from(sum.0) == *report.documents.get(level),
            "documents at {level}: scorecard sums {:?}, report {:?}",
            DocumentFigures::from(sum.0),
            report.documents.get(level)
        );
        ensure!(
            DossierFigures::from(sum.1) == *report.dossiers.get(level),
            "dossiers at {level}: scorecard sums {:?}, report {:?}",
            DossierFigures::from(sum.1),
            report.dossiers.get(level)
        );
        total = (total.0 + sum.0, total.1 + sum.1);
    }
    ensure!(
        DocumentFigures::from(total.0) == report.documents.total,
        "documents in total differ"
    );
    ensure!(
        DossierFigures::from(total.1) == report.dossiers.total,
        "dossiers in total differ"
    );
    Ok(())
}
