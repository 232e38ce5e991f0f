//! One unit: its figures for the period, its monthly trend (documents, signing
//! rate, dossiers, on-time rate) as charts, and its late dossiers. The figures
//! are the report's per unit (`egov report --by-unit`), for the unit's own events.

use super::late::{self, LateList};
use crate::html::{self, count_cell, header_row, rate_cell, Frame, Nav};
use crate::i18n::{Lang, Text};
use crate::svg::{self, Chart, Kind, Series, COLORS};
use crate::{ApiResult, AppState, DashboardError, PageResult, Params, Period};
use axum::extract::{Path, Query, State};
use axum::response::Html;
use axum::Json;
use egov_analytics::figures::{DocumentCounts, DossierCounts};
use egov_analytics::figures::{DocumentFigures, DossierFigures, Period as FigurePeriod};
use egov_analytics::query::Params as QueryParams;
use egov_analytics::query::{counts_by_unit_and_month, CountsByUnit};
use egov_analytics::ReportError;
use egov_model::format;
use egov_model::{Level, Unit};
use egov_runtime::clickhouse::query_client;
use serde::Serialize;
use std::collections::HashSet;
use std::fmt::Write as _;

/// The figures of one unit for one period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodFigures {
    pub period: FigurePeriod,
    pub documents: DocumentFigures,
    pub dossiers: DossierFigures,
}

#[derive(Debug, Clone, Serialize)]
pub struct UnitInfo {
    pub code: String,
    pub name: String,
    pub level: Level,
    pub kind: String,
    pub district_code: Option<String>,
    pub parent_code: Option<String>,
}

impl From<&Unit> for UnitInfo {
    fn from(unit: &Unit) -> Self {
        Self {
            code: unit.code.clone(),
            name: unit.name.clone(),
            level: unit.level,
            kind: unit.kind.clone(),
            district_code: unit.district_code.clone(),
            parent_code: unit.parent_code.clone(),
        }
    }
}

/// `GET /api/unit/{code}`.
#[derive(Debug, Clone, Serialize)]
pub struct UnitData {
    pub unit: UnitInfo,
    /// The whole period.
    pub figures: PeriodFigures,
    /// Each calendar month of the period (the first and last cut to it).
    pub months: Vec<PeriodFigures>,
    /// The dossiers the period's figures count late.
    pub late_dossiers: LateList,
}

/// The unit's own figures in `counts` (zeros when it has none): its row of
/// the per-unit report, read for that unit alone (not its subtree, as
/// `egov report --unit` would).
fn own_figures(period: FigurePeriod, counts: &CountsByUnit) -> PeriodFigures {
    let (documents, dossiers) = counts.values().fold(
        Default::default(),
        |(d, s): (DocumentCounts, DossierCounts), c| (d + c.documents, s + c.dossiers),
    );
    PeriodFigures {
        documents: documents.into(),
        dossiers: dossiers.into(),
        period,
    }
}

/// The unit's figures for the whole period and for each calendar month of it
/// (all in one document query and one dossier query).
async fn unit_figures(
    client: &clickhouse::Client,
    database: &str,
    code: &str,
    period: FigurePeriod,
) -> Result<(PeriodFigures, Vec<PeriodFigures>), DashboardError> {
    let own = HashSet::from([code.to_owned()]);
    let params = QueryParams {
        from: period.from,
        to: period.to,
        units: Some(&own),
    };
    let (whole, months) = counts_by_unit_and_month(client, database, &params).await?;
    let months = months
        .iter()
        .map(|(month, counts)| own_figures(*month, counts))
        .collect();
    Ok((own_figures(period, &whole), months))
}

async fn data(state: &AppState, code: &str, period: Period) -> Result<UnitData, DashboardError> {
    let unit = state
        .catalogue
        .get(code)
        .ok_or_else(|| DashboardError::UnknownUnit(code.to_owned()))?;
    let whole = FigurePeriod {
        from: period.from,
        to: period.to,
    };
    let key = format!("unit {code} {} {}", period.from, period.to);
    let (task_state, task_code) = (state.clone(), code.to_owned());
    let (figures, months, late) = state
        .figures(key, period.to, async move {
            let code = task_code.as_str();
            let database = task_state.clickhouse.database.as_str();
            let client = query_client(&task_state.clickhouse).map_err(ReportError::from)?;
            let (figures, late) = tokio::join!(
                unit_figures(&client, database, code, whole),
                late::fetch(&client, database, code, period)
            );
            let (figures, months) = figures?;
            Ok((figures, months, late?))
        })
        .await?;
    let late_dossiers = LateList::new(late, &figures.dossiers);
    Ok(UnitData {
        unit: UnitInfo::from(unit),
        figures,
        months,
        late_dossiers,
    })
}

/// `GET /api/unit/{code}`.
pub(crate) async fn api(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(params): Query<Params>,
) -> ApiResult<UnitData> {
    Ok(Json(data(&state, &code, params.period()?).await?))
}

/// `GET /unit/{code}`.
pub(crate) async fn page(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(params): Query<Params>,
) -> PageResult {
    let path = format!("/unit/{code}");
    let frame = params.frame(&path, Nav::Unit, Vec::new())?;
    let period = Period {
        from: frame.from,
        to: frame.to,
    };
    let data = data(&state, &code, period)
        .await
        .map_err(|e| frame.fail(Nav::Unit, e))?;
    let heading = format!("{} ({})", data.unit.name, data.unit.code);
    Ok(Html(html::page(
        &frame,
        Nav::Unit,
        &heading,
        true,
        &render(&frame, &data),
    )))
}

fn level_text(level: Level) -> Text {
    match level {
        Level::Province => Text::Province,
        Level::District => Text::District,
        Level::Commune => Text::Commune,
    }
}

/// `GET /unit`: every unit of the catalogue by level, each a link.
pub(crate) async fn picker(
    State(state): State<AppState>,
    Query(params): Query<Params>,
) -> PageResult {
    let frame = params.frame("/unit", Nav::Unit, Vec::new())?;
    let mut out = String::new();
    for level in Level::ALL {
        let _ = write!(
            out,
            "<h3>{}</h3><p class=\"units\" data-level=\"{}\">",
            html::escape(frame.t(level_text(level))),
            level.as_str()
        );
        let mut units: Vec<&Unit> = state
            .catalogue
            .units()
            .filter(|u| u.level == level)
            .collect();
        units.sort_by(|a, b| {
            (a.district_code.as_deref(), &a.code).cmp(&(b.district_code.as_deref(), &b.code))
        });
        let links: Vec<String> = units
            .iter()
            .map(|u| {
                format!(
                    "<a data-unit=\"{}\" href=\"{}\">{}</a>",
                    html::escape(&u.code),
                    frame.link(&format!("/unit/{}", u.code)),
                    html::escape(&u.name)
                )
            })
            .collect();
        out.push_str(&links.join(" · "));
        out.push_str("</p>");
    }
    Ok(Html(html::page(
        &frame,
        Nav::Unit,
        frame.t(Text::ChooseUnit),
        true,
        &out,
    )))
}

fn chart_block(out: &mut String, title: &str, chart: &Chart, lang: Lang) {
    let _ = write!(
        out,
        "<div class=\"chart\"><h4>{}</h4>{}</div>",
        html::escape(title),
        svg::render(chart, lang)
    );
}

fn render(frame: &Frame, data: &UnitData) -> String {
    let lang = frame.lang;
    let mut out = String::new();
    let unit = &data.unit;
    let _ = write!(
        out,
        "<p id=\"unit\" data-unit=\"{}\" data-level=\"{}\">{}: {}</p>",
        html::escape(&unit.code),
        unit.level.as_str(),
        html::escape(frame.t(Text::Level)),
        html::escape(frame.t(level_text(unit.level)))
    );
    // The whole period.
    let d = &data.figures.documents;
    let s = &data.figures.dossiers;
    let _ = write!(
        out,
        "<h3>{}</h3><table id=\"documents\">",
        html::escape(frame.t(Text::Documents))
    );
    out.push_str(&header_row(&[
        (frame.t(Text::Incoming), true),
        (frame.t(Text::Outgoing), true),
        (frame.t(Text::OutgoingSigned), true),
        (frame.t(Text::SignedRate), true),
    ]));
    let _ = write!(
        out,
        "<tr>{}{}{}{}</tr></table>",
        count_cell("documents.incoming", d.incoming, lang),
        count_cell("documents.outgoing", d.outgoing, lang),
        count_cell("documents.outgoing_signed", d.outgoing_signed, lang),
        rate_cell("documents.signed_rate", d.signed_rate, lang)
    );
    let _ = write!(
        out,
        "<h3>{}</h3><table id=\"dossiers\">",
        html::escape(frame.t(Text::Dossiers))
    );
    out.push_str(&header_row(&super::overview::dossier_header(frame)));
    out.push_str("<tr>");
    for (key, value) in [
        ("received", s.received),
        ("carried_over", s.carried_over),
        ("in_period", s.in_period),
        ("due", s.due),
        ("resolved_early", s.resolved_early),
        ("resolved_on_time", s.resolved_on_time),
        ("resolved_late", s.resolved_late),
        ("pending_in_time", s.pending_in_time),
        ("pending_overdue", s.pending_overdue),
    ] {
        out.push_str(&count_cell(&format!("dossiers.{key}"), value, lang));
    }
    out.push_str(&rate_cell("dossiers.on_time_rate", s.on_time_rate, lang));
    out.push_str(&count_cell("dossiers.online", s.online, lang));
    out.push_str(&rate_cell("dossiers.online_share", s.online_share, lang));
    out.push_str("</tr></table>");

    // The trend.
    let labels: Vec<String> = data
        .months
        .iter()
        .map(|m| format::month(m.period.from, lang))
        .collect();
    let every = (labels.len() / 12).max(1);
    let series = |name: Text, color: usize, value: &dyn Fn(&PeriodFigures) -> Option<f64>| Series {
        name: frame.t(name).into(),
        color: COLORS[color],
        values: data.months.iter().map(value).collect(),
    };
    let count = |n: u64| Some(n as f64);
    let _ = write!(
        out,
        "<h3>{}</h3><div class=\"charts\">",
        html::escape(frame.t(Text::MonthlyTrend))
    );
    let charts = [
        (
            Text::Documents,
            Chart {
                id: "documents".into(),
                kind: Kind::Bars,
                labels: labels.clone(),
                series: vec![
                    series(Text::Incoming, 0, &|m| count(m.documents.incoming)),
                    series(Text::Outgoing, 1, &|m| count(m.documents.outgoing)),
                    series(Text::OutgoingSigned, 3, &|m| {
                        count(m.documents.outgoing_signed)
                    }),
                ],
                percent: false,
                label_every: every,
            },
        ),
        (
            Text::SignedRate,
            Chart {
                id: "signed-rate".into(),
                kind: Kind::Lines,
                labels: labels.clone(),
                series: vec![series(Text::SignedRate, 0, &|m| m.documents.signed_rate)],
                percent: true,
                label_every: every,
            },
        ),
        (
            Text::Dossiers,
            Chart {
                id: "dossiers".into(),
                kind: Kind::Bars,
                labels: labels.clone(),
                series: vec![
                    series(Text::Received, 0, &|m| count(m.dossiers.received)),
                    series(Text::Due, 1, &|m| count(m.dossiers.due)),
                    series(Text::ResolvedLate, 2, &|m| {
                        count(m.dossiers.resolved_late + m.dossiers.pending_overdue)
                    }),
                ],
                percent: false,
                label_every: every,
            },
        ),
        (
            Text::OnTimeRate,
            Chart {
                id: "on-time-rate".into(),
                kind: Kind::Lines,
                labels: labels.clone(),
                series: vec![
                    series(Text::OnTimeRate, 1, &|m| m.dossiers.on_time_rate),
                    series(Text::OnlineShare, 3, &|m| m.dossiers.online_share),
                ],
                percent: true,
                label_every: every,
            },
        ),
    ];
    for (title, chart) in &charts {
        chart_block(&mut out, frame.t(*title), chart, lang);
    }
    out.push_str("</div>");

    // The months as a table too.
    out.push_str("<table id=\"months\">");
    out.push_str(&header_row(&[
        (frame.t(Text::Month), false),
        (frame.t(Text::Incoming), true),
        (frame.t(Text::Outgoing), true),
        (frame.t(Text::SignedRate), true),
        (frame.t(Text::Received), true),
        (frame.t(Text::Due), true),
        (frame.t(Text::OnTimeRate), true),
    ]));
    for (i, m) in data.months.iter().enumerate() {
        let id = |key: &str| format!("months.{i}.{key}");
        let _ = write!(
            out,
            "<tr data-month=\"{}\"><td>{}</td>{}{}{}{}{}{}</tr>",
            m.period.from,
            format::month(m.period.from, lang),
            count_cell(&id("documents.incoming"), m.documents.incoming, lang),
            count_cell(&id("documents.outgoing"), m.documents.outgoing, lang),
            rate_cell(&id("documents.signed_rate"), m.documents.signed_rate, lang),
            count_cell(&id("dossiers.received"), m.dossiers.received, lang),
            count_cell(&id("dossiers.due"), m.dossiers.due, lang),
            rate_cell(&id("dossiers.on_time_rate"), m.dossiers.on_time_rate, lang),
        );
    }
    out.push_str("</table>");

    late::render(&mut out, frame, &data.late_dossiers);
    out
}
