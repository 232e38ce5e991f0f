//! The overview: the figures of `egov report` per level and in total for the
//! period (the analytics library's report, unchanged), and the dossiers of the
//! district and commune levels together as `egov report`'s tables print them.

use crate::html::{self, count_cell, header_row, rate_cell, Frame, Nav};
use crate::i18n::{Lang, Text};
use crate::svg::{self, Chart, Kind, Series, COLORS};
use crate::{ApiResult, AppState, DashboardError, PageResult, Params, Period};
use axum::extract::{Query, State};
use axum::response::Html;
use axum::Json;
use egov_analytics::figures::{DocumentFigures, DossierFigures, Report};
use egov_analytics::ReportRequest;
use std::fmt::Write as _;

async fn data(state: &AppState, period: Period) -> Result<Report, DashboardError> {
    let request = ReportRequest {
        from: period.from,
        to: period.to,
        unit: None,
    };
    state
        .figures(
            format!("overview {} {}", period.from, period.to),
            period.to,
            {
                let clickhouse = state.clickhouse.clone();
                async move { Ok(egov_analytics::report(&clickhouse, &request).await?) }
            },
        )
        .await
}

/// `GET /api/overview`: exactly `egov report --format json`.
pub(crate) async fn api(
    State(state): State<AppState>,
    Query(params): Query<Params>,
) -> ApiResult<Report> {
    Ok(Json(data(&state, params.period()?).await?))
}

/// `GET /`.
pub(crate) async fn page(
    State(state): State<AppState>,
    Query(params): Query<Params>,
) -> PageResult {
    let frame = params.frame("/", Nav::Overview, Vec::new())?;
    let period = Period {
        from: frame.from,
        to: frame.to,
    };
    let report = data(&state, period)
        .await
        .map_err(|e| frame.fail(Nav::Overview, e))?;
    let body = render(&frame, &report);
    Ok(Html(html::page(
        &frame,
        Nav::Overview,
        frame.t(Text::Overview),
        true,
        &body,
    )))
}

const LEVELS: [(&str, Text); 3] = [
    ("province", Text::Province),
    ("district", Text::District),
    ("commune", Text::Commune),
];

fn document_row(out: &mut String, level: &str, name: &str, d: &DocumentFigures, lang: Lang) {
    let id = |key: &str| format!("documents.{level}.{key}");
    let class = if level == "total" {
        " class=\"total\""
    } else {
        ""
    };
    let _ = write!(
        out,
        "<tr{class} data-level=\"{level}\"><td>{}</td>{}{}{}{}</tr>",
        html::escape(name),
        count_cell(&id("incoming"), d.incoming, lang),
        count_cell(&id("outgoing"), d.outgoing, lang),
        count_cell(&id("outgoing_signed"), d.outgoing_signed, lang),
        rate_cell(&id("signed_rate"), d.signed_rate, lang),
    );
}

fn dossier_row(out: &mut String, level: &str, name: &str, d: &DossierFigures, lang: Lang) {
    let id = |key: &str| format!("dossiers.{level}.{key}");
    let class = if level == "total" {
        " class=\"total\""
    } else {
        ""
    };
    let _ = write!(
        out,
        "<tr{class} data-level=\"{level}\"><td>{}</td>",
        html::escape(name)
    );
    for (key, value) in [
        ("received", d.received),
        ("carried_over", d.carried_over),
        ("in_period", d.in_period),
        ("due", d.due),
        ("resolved_early", d.resolved_early),
        ("resolved_on_time", d.resolved_on_time),
        ("resolved_late", d.resolved_late),
        ("pending_in_time", d.pending_in_time),
        ("pending_overdue", d.pending_overdue),
    ] {
        out.push_str(&count_cell(&id(key), value, lang));
    }
    out.push_str(&rate_cell(&id("on_time_rate"), d.on_time_rate, lang));
    out.push_str(&count_cell(&id("online"), d.online, lang));
    out.push_str(&rate_cell(&id("online_share"), d.online_share, lang));
    out.push_str("</tr>");
}

/// The header cells of the dossier figures (also the unit page's).
pub fn dossier_header(frame: &Frame) -> Vec<(&'static str, bool)> {
    [
        Text::Received,
        Text::CarriedOver,
        Text::InPeriod,
        Text::Due,
        Text::ResolvedEarly,
        Text::ResolvedOnTime,
        Text::ResolvedLate,
        Text::PendingInTime,
        Text::PendingOverdue,
        Text::OnTimeRate,
        Text::Online,
        Text::OnlineShare,
    ]
    .into_iter()
    .map(|t| (frame.t(t), true))
    .collect()
}

fn card(out: &mut String, id: &str, label: &str, value: &str) {
    let _ = write!(
        out,
        "<div class=\"card\" id=\"card-{id}\"><div class=\"label\">{}</div><div class=\"value\">{}</div></div>",
        html::escape(label),
        html::escape(value)
    );
}

fn render(frame: &Frame, report: &Report) -> String {
    let lang = frame.lang;
    let mut out = String::new();
    let total_docs = &report.documents.total;
    let total_dossiers = &report.dossiers.total;
    out.push_str("<div class=\"cards\">");
    card(
        &mut out,
        "incoming",
        frame.t(Text::Incoming),
        &egov_model::format::count(total_docs.incoming, lang),
    );
    card(
        &mut out,
        "outgoing",
        frame.t(Text::Outgoing),
        &egov_model::format::count(total_docs.outgoing, lang),
    );
    card(
        &mut out,
        "signed-rate",
        frame.t(Text::SignedRate),
        &egov_model::format::percent(total_docs.signed_rate, lang),
    );
    card(
        &mut out,
        "received",
        frame.t(Text::Received),
        &egov_model::format::count(total_dossiers.received, lang),
    );
    card(
        &mut out,
        "on-time-rate",
        frame.t(Text::OnTimeRate),
        &egov_model::format::percent(total_dossiers.on_time_rate, lang),
    );
    card(
        &mut out,
        "online-share",
        frame.t(Text::OnlineShare),
        &egov_model::format::percent(total_dossiers.online_share, lang),
    );
    out.push_str("</div>");

    let _ = write!(
        out,
        "<h3>{}</h3><table id=\"documents\">",
        html::escape(frame.t(Text::Documents))
    );
    out.push_str(&header_row(&[
        (frame.t(Text::Level), false),
        (frame.t(Text::Incoming), true),
        (frame.t(Text::Outgoing), true),
        (frame.t(Text::OutgoingSigned), true),
        (frame.t(Text::SignedRate), true),
    ]));
    for (level, text) in LEVELS {
        let figures = match level {
            "province" => &report.documents.province,
            "district" => &report.documents.district,
            _ => &report.documents.commune,
        };
        document_row(&mut out, level, frame.t(text), figures, lang);
    }
    document_row(&mut out, "total", frame.t(Text::Total), total_docs, lang);
    out.push_str("</table>");

    let _ = write!(
        out,
        "<h3>{}</h3><table id=\"dossiers\">",
        html::escape(frame.t(Text::Dossiers))
    );
    let mut header = vec![(frame.t(Text::Level), false)];
    header.extend(dossier_header(frame));
    out.push_str(&header_row(&header));
    for (level, text) in LEVELS {
        let figures = match level {
            "province" => &report.dossiers.province,
            "district" => &report.dossiers.district,
            _ => &report.dossiers.commune,
        };
        dossier_row(&mut out, level, frame.t(text), figures, lang);
    }
    // As `egov report`'s tables: the two levels the province's reports sum.
    dossier_row(
        &mut out,
        "district+commune",
        frame.t(Text::DistrictAndCommune),
        &report.dossiers.district_and_commune(),
        lang,
    );
    dossier_row(
        &mut out,
        "total",
        frame.t(Text::Total),
        total_dossiers,
        lang,
    );
    out.push_str("</table>");

    // The two rates per level, side by side.
    let labels: Vec<String> = LEVELS
        .iter()
        .map(|(_, t)| frame.t(*t).to_owned())
        .chain(std::iter::once(frame.t(Text::Total).to_owned()))
        .collect();
    let docs = [
        &report.documents.province,
        &report.documents.district,
        &report.documents.commune,
        total_docs,
    ];
    let dossiers = [
        &report.dossiers.province,
        &report.dossiers.district,
        &report.dossiers.commune,
        total_dossiers,
    ];
    let chart = Chart {
        id: "rates-by-level".into(),
        kind: Kind::Bars,
        labels,
        series: vec![
            Series {
                name: frame.t(Text::SignedRate).into(),
                color: COLORS[0],
                values: docs.iter().map(|d| d.signed_rate).collect(),
            },
            Series {
                name: frame.t(Text::OnTimeRate).into(),
                color: COLORS[1],
                values: dossiers.iter().map(|d| d.on_time_rate).collect(),
            },
            Series {
                name: frame.t(Text::OnlineShare).into(),
                color: COLORS[3],
                values: dossiers.iter().map(|d| d.online_share).collect(),
            },
        ],
        percent: true,
        label_every: 1,
    };
    let _ = write!(
        out,
        "<div class=\"charts\"><div class=\"chart\">{}</div></div>",
        svg::render(&chart, lang)
    );
    out
}
