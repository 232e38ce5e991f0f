//! The unit page's late dossiers: those its figures count as resolved late or
//! pending overdue for the period (`egov_analytics::late`), the most working
//! days late first, at most [`LATE_DOSSIERS_LIMIT`] of them.

use crate::html::{self, count_cell, header_row, Frame};
use crate::i18n::Text;
use crate::{DashboardError, Period};
use chrono::NaiveDate;
use egov_analytics::figures::DossierFigures;
use egov_analytics::{LateDossier, LATE_DOSSIERS_LIMIT};
use egov_model::format;
use serde::Serialize;
use std::fmt::Write as _;

/// The `late_dossiers` of `GET /api/unit/{code}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LateList {
    /// The most dossiers listed.
    pub limit: usize,
    /// How many the unit's figures count late: `resolved_late + pending_overdue`
    /// (more than `dossiers` holds when the list is cut at `limit`).
    pub total: u64,
    pub dossiers: Vec<LateDossier>,
}

/// The late dossiers of unit `code` for `period`.
pub(crate) async fn fetch(
    client: &clickhouse::Client,
    database: &str,
    code: &str,
    period: Period,
) -> Result<Vec<LateDossier>, DashboardError> {
    Ok(egov_analytics::late_dossiers(client, database, code, period.from, period.to).await?)
}

impl LateList {
    pub fn new(dossiers: Vec<LateDossier>, figures: &DossierFigures) -> Self {
        Self {
            limit: LATE_DOSSIERS_LIMIT,
            total: figures.resolved_late + figures.pending_overdue,
            dossiers,
        }
    }
}

fn date_cell(field: &str, day: Option<NaiveDate>, frame: &Frame) -> String {
    match day {
        Some(day) => format!(
            "<td data-field=\"{field}\" data-value=\"{day}\">{}</td>",
            format::date(day, frame.lang)
        ),
        None => format!(
            "<td data-field=\"{field}\" data-value=\"\">{}</td>",
            html::escape(frame.t(Text::StillOpen))
        ),
    }
}

/// The list as a heading, a note (how many, in which order, the limit) and a table.
pub(crate) fn render(out: &mut String, frame: &Frame, late: &LateList) {
    let lang = frame.lang;
    let _ = write!(
        out,
        "<h3>{}</h3><p class=\"note\" id=\"late-summary\" data-shown=\"{}\" data-total=\"{}\" data-limit=\"{}\">\
         {} / {} {}. {} {}. {}</p>",
        html::escape(frame.t(Text::LateDossiers)),
        late.dossiers.len(),
        late.total,
        late.limit,
        format::count(late.dossiers.len() as u64, lang),
        format::count(late.total, lang),
        html::escape(frame.t(Text::LateShown)),
        html::escape(frame.t(Text::LateOrder)),
        format::count(late.limit as u64, lang),
        html::escape(frame.t(Text::WorkingDaysNote)),
    );
    if late.dossiers.is_empty() {
        let _ = write!(
            out,
            "<p id=\"late-none\">{}</p>",
            html::escape(frame.t(Text::NoLateDossiers))
        );
        return;
    }
    out.push_str("<table id=\"late-dossiers\">");
    out.push_str(&header_row(&[
        (frame.t(Text::Dossier), false),
        (frame.t(Text::Procedure), false),
        (frame.t(Text::ReceivedOn), false),
        (frame.t(Text::DueOn), false),
        (frame.t(Text::ResolvedOn), false),
        (frame.t(Text::WorkingDaysLate), true),
    ]));
    for (i, dossier) in late.dossiers.iter().enumerate() {
        let _ = write!(
            out,
            "<tr data-dossier=\"{}\"><td>{}</td><td>{}</td>{}{}{}{}</tr>",
            html::escape(&dossier.dossier_id),
            html::escape(&dossier.dossier_id),
            html::escape(&dossier.procedure_code),
            date_cell("received", Some(dossier.received), frame),
            date_cell("due", Some(dossier.due), frame),
            date_cell("resolved", dossier.resolved, frame),
            count_cell(
                &format!("late.{i}.working_days_late"),
                u64::from(dossier.working_days_late),
                lang
            ),
        );
    }
    out.push_str("</table>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    fn frame(lang: Lang) -> Frame {
        let day = NaiveDate::from_ymd_opt(2021, 3, 1).unwrap_or_default();
        Frame {
            lang,
            from: day,
            to: day,
            path: "/unit/243".into(),
            extra: Vec::new(),
        }
    }

    #[test]
    fn open_and_resolved_dossiers_in_both_languages() {
        let day = |d| NaiveDate::from_ymd_opt(2021, 3, d).unwrap_or_default();
        let late = LateList {
            limit: 200,
            total: 2,
            dossiers: vec![
                LateDossier {
                    dossier_id: "H<1>".into(),
                    procedure_code: "1.001".into(),
                    received: day(1),
                    due: day(5),
                    resolved: None,
                    working_days_late: 1_234,
                },
                LateDossier {
                    dossier_id: "H2".into(),
                    procedure_code: "1.002".into(),
                    received: day(1),
                    due: day(5),
                    resolved: Some(day(9)),
                    working_days_late: 2,
                },
            ],
        };
        let mut vi = String::new();
        render(&mut vi, &frame(Lang::Vi), &late);
        assert!(vi.contains("data-dossier=\"H&lt;1&gt;\""), "{vi}");
        assert!(vi.contains(">Chưa giải quyết</td>"), "{vi}");
        assert!(
            vi.contains("data-value=\"2021-03-09\">09/03/2021</td>"),
            "{vi}"
        );
        assert!(vi.contains("data-value=\"1234\">1.234</td>"), "{vi}");
        assert!(vi.contains("data-shown=\"2\" data-total=\"2\" data-limit=\"200\""));
        let mut en = String::new();
        render(&mut en, &frame(Lang::En), &late);
        assert!(en.contains(">Still open</td>") && en.contains(">2021-03-09</td>"));
        assert!(en.contains(">1,234</td>"));
        let mut none = String::new();
        render(
            &mut none,
            &frame(Lang::En),
            &LateList {
                dossiers: Vec::new(),
                total: 0,
                limit: 200,
            },
        );
        assert!(none.contains("No late dossiers.") && !none.contains("<table"));
    }
}
