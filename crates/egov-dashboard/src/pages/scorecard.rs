//! The scorecard (`egov scorecard`'s, from `egov_analytics::scorecard`):
//! every unit's own figures, silent and flagged units marked, sortable,
//! filtered by level and district; CSV and XLSX of exactly the rows shown,
//! written by the scorecard's own writers.

use crate::html::{self, rate_cell, Frame, Nav};
use crate::i18n::{Lang, Text};
use crate::{ApiResult, AppState, DashboardError, PageResult, Params, Period};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::Json;
use egov_analytics::scorecard::{
    self as card, table, Flag, Scorecard, ScorecardRequest, UnitScore,
};
use egov_model::format;
use egov_model::Level;
use std::cmp::Ordering;
use std::fmt::Write as _;

/// The columns one can sort by (`sort=`), in the table's order: each a
/// figure of the JSON, its header, and whether it is a number (right-aligned,
/// sorted largest first at the first click).
const SORTS: [(&str, Text, bool); 9] = [
    ("rank", Text::Rank, true),
    ("code", Text::Code, false),
    ("name", Text::Name, false),
    ("documents.incoming", Text::Incoming, true),
    ("documents.outgoing", Text::Outgoing, true),
    ("documents.signed_rate", Text::SignedRate, true),
    ("dossiers.received", Text::Received, true),
    ("dossiers.due", Text::Due, true),
    ("dossiers.on_time_rate", Text::OnTimeRate, true),
];

/// What the page shows: the period, a level, a district, an order.
#[derive(Debug, Clone)]
struct Selection {
    period: Period,
    level: Option<Level>,
    district: Option<String>,
    sort: &'static str,
    descending: bool,
}

impl Selection {
    fn of(params: &Params) -> Result<Self, DashboardError> {
        let level = match params.level.as_deref().filter(|l| !l.is_empty()) {
            None => None,
            Some(text) => Some(text.parse::<Level>().map_err(|_| {
                DashboardError::BadRequest(format!(
                    "`level` must be province, district or commune, not `{text}`"
                ))
            })?),
        };
        let sort = match params.sort.as_deref().filter(|s| !s.is_empty()) {
            None => "rank",
            Some(text) => SORTS
                .iter()
                .map(|(key, ..)| *key)
                .find(|key| *key == text)
                .ok_or_else(|| {
                    let keys = SORTS.map(|(key, ..)| key);
                    DashboardError::BadRequest(format!("`sort` must be one of {}", keys.join(", ")))
                })?,
        };
        Ok(Self {
            period: params.period()?,
            level,
            district: params.district.clone().filter(|d| !d.is_empty()),
            sort,
            descending: params.order.as_deref() == Some("desc"),
        })
    }
}

fn compare_rates(a: Option<f64>, b: Option<f64>) -> Ordering {
    // Units with nothing to rate last, whatever the order.
    match (a, b) {
        (Some(a), Some(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn compare(sort: &str, a: &UnitScore, b: &UnitScore) -> Ordering {
    match sort {
        "code" => a.code.cmp(&b.code),
        "name" => a.name.cmp(&b.name),
        "documents.incoming" => a.documents.incoming.cmp(&b.documents.incoming),
        "documents.outgoing" => a.documents.outgoing.cmp(&b.documents.outgoing),
        "documents.signed_rate" => compare_rates(a.documents.signed_rate, b.documents.signed_rate),
        "dossiers.received" => a.dossiers.received.cmp(&b.dossiers.received),
        "dossiers.due" => a.dossiers.due.cmp(&b.dossiers.due),
        "dossiers.on_time_rate" => compare_rates(a.dossiers.on_time_rate, b.dossiers.on_time_rate),
        // By level, then rank (units without one last), as the scorecard orders them.
        _ => (a.level, a.rank.is_none(), a.rank).cmp(&(b.level, b.rank.is_none(), b.rank)),
    }
}

/// The scorecard of the period and level (cached), cut to the district and sorted.
async fn data(state: &AppState, selection: &Selection) -> Result<Scorecard, DashboardError> {
    let period = selection.period;
    // Every level at once, cut to the level asked for below: one cached
    // computation serves the four selections (and the warmed one).
    let request = ScorecardRequest {
        from: period.from,
        to: period.to,
        level: None,
    };
    let key = format!("scorecard {} {}", period.from, period.to);
    let task_state = state.clone();
    let mut scorecard = state
        .figures(key, period.to, async move {
            let client = egov_runtime::clickhouse::query_client(&task_state.clickhouse)
                .map_err(egov_analytics::ReportError::from)?;
            Ok(card::scorecard(
                &client,
                &task_state.clickhouse.database,
                &task_state.catalogue,
                &request,
                &task_state.scorecard,
            )
            .await?)
        })
        .await?;
    if let Some(level) = selection.level {
        scorecard.units.retain(|u| u.level == level);
    }
    if let Some(district) = &selection.district {
        scorecard
            .units
            .retain(|u| u.district_code.as_deref() == Some(district.as_str()));
    }
    scorecard.units.sort_by(|a, b| {
        let order = compare(selection.sort, a, b);
        let order = if selection.descending {
            order.reverse()
        } else {
            order
        };
        order.then_with(|| a.code.cmp(&b.code))
    });
    Ok(scorecard)
}

/// `GET /api/scorecard`: the JSON of `egov scorecard`, only the rows shown.
pub(crate) async fn api(
    State(state): State<AppState>,
    Query(params): Query<Params>,
) -> ApiResult<Scorecard> {
    Ok(Json(data(&state, &Selection::of(&params)?).await?))
}

fn table_lang(lang: Lang) -> table::Lang {
    match lang {
        Lang::Vi => table::Lang::Vi,
        Lang::En => table::Lang::En,
    }
}

/// A file of the rows shown, written by one of the scorecard's own writers
/// (as `egov scorecard --format csv|xlsx`), served at
/// `GET /api/scorecard.{extension}` and named `scorecard-FROM-TO.{extension}`.
#[derive(Clone, Copy)]
pub(crate) struct Download {
    extension: &'static str,
    content_type: &'static str,
    write: fn(&Scorecard, table::Lang) -> Result<Vec<u8>, String>,
}

/// `GET /api/scorecard.csv`.
pub(crate) const CSV: Download = Download {
    extension: "csv",
    content_type: "text/csv; charset=utf-8",
    write: |scorecard, lang| table::csv(scorecard, lang).map_err(|e| e.to_string()),
};

/// `GET /api/scorecard.xlsx`.
pub(crate) const XLSX: Download = Download {
    extension: "xlsx",
    content_type: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    write: |scorecard, lang| card::xlsx::workbook(scorecard, lang).map_err(|e| e.to_string()),
};

impl Download {
    /// The route serving this file.
    pub(crate) fn route(self) -> MethodRouter<AppState> {
        get(
            move |State(state): State<AppState>, Query(params): Query<Params>| {
                self.serve(state, params)
            },
        )
    }

    async fn serve(self, state: AppState, params: Params) -> Result<Response, DashboardError> {
        let selection = Selection::of(&params)?;
        let scorecard = data(&state, &selection).await?;
        let bytes = (self.write)(&scorecard, table_lang(params.lang()))
            .map_err(|e| DashboardError::Internal(format!("{}: {e}", self.extension)))?;
        let name = format!(
            "scorecard-{}-{}.{}",
            selection.period.from, selection.period.to, self.extension
        );
        Ok((
            [
                (header::CONTENT_TYPE, self.content_type.to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}\""),
                ),
            ],
            bytes,
        )
            .into_response())
    }
}

/// `GET /scorecard`.
pub(crate) async fn page(
    State(state): State<AppState>,
    Query(params): Query<Params>,
) -> PageResult {
    let extra: Vec<(&'static str, String)> = [
        ("level", params.level.clone()),
        ("district", params.district.clone()),
        ("sort", params.sort.clone()),
        ("order", params.order.clone()),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.filter(|v| !v.is_empty()).map(|v| (k, v)))
    .collect();
    let frame = params.frame("/scorecard", Nav::Scorecard, extra)?;
    let selection = Selection::of(&params).map_err(|e| frame.fail(Nav::Scorecard, e))?;
    let scorecard = data(&state, &selection)
        .await
        .map_err(|e| frame.fail(Nav::Scorecard, e))?;
    let body = render(&frame, &state, &selection, &scorecard);
    Ok(Html(html::page(
        &frame,
        Nav::Scorecard,
        frame.t(Text::Scorecard),
        false,
        &body,
    )))
}

fn level_text(level: Level) -> Text {
    match level {
        Level::Province => Text::Province,
        Level::District => Text::District,
        Level::Commune => Text::Commune,
    }
}

fn filters(frame: &Frame, state: &AppState, selection: &Selection) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<label>{}<select name=\"level\" id=\"level\"><option value=\"\">{}</option>",
        html::escape(frame.t(Text::Level)),
        html::escape(frame.t(Text::All))
    );
    for level in Level::ALL {
        let selected = if selection.level == Some(level) {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            out,
            "<option value=\"{}\"{selected}>{}</option>",
            level.as_str(),
            html::escape(frame.t(level_text(level)))
        );
    }
    let _ = write!(
        out,
        "</select></label><label>{}<select name=\"district\" id=\"district\"><option value=\"\">{}</option>",
        html::escape(frame.t(Text::District)),
        html::escape(frame.t(Text::All))
    );
    for unit in state
        .catalogue
        .units()
        .filter(|u| u.level == Level::District)
    {
        let selected = if selection.district.as_deref() == Some(unit.code.as_str()) {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            out,
            "<option value=\"{}\"{selected}>{}</option>",
            html::escape(&unit.code),
            html::escape(&unit.name)
        );
    }
    out.push_str("</select></label>");
    let _ = write!(
        out,
        "<input type=\"hidden\" name=\"sort\" value=\"{}\"><input type=\"hidden\" name=\"order\" value=\"{}\">",
        selection.sort,
        if selection.descending { "desc" } else { "asc" }
    );
    out
}

fn render(frame: &Frame, state: &AppState, selection: &Selection, scorecard: &Scorecard) -> String {
    let lang = frame.lang;
    let mut out = html::period_form(frame, &filters(frame, state, selection));
    let shown: Vec<(&str, String)> = frame.extra.iter().map(|(k, v)| (*k, v.clone())).collect();
    let flagged = scorecard
        .units
        .iter()
        .filter(|u| !u.flags.is_empty())
        .count();
    let silent = scorecard.units.iter().filter(|u| u.silent).count();
    let _ = write!(
        out,
        "<p id=\"summary\" data-units=\"{}\" data-flagged=\"{flagged}\" data-silent=\"{silent}\">{} {} · \
         <span class=\"badge flag\">{}</span> {} · <span class=\"badge silent\">{}</span> {} · \
         <a id=\"download-csv\" href=\"{}\">{}</a> · <a id=\"download-xlsx\" href=\"{}\">{}</a></p>",
        scorecard.units.len(),
        format::count(scorecard.units.len() as u64, lang),
        html::escape(frame.t(Text::Units)),
        html::escape(frame.t(Text::Flags)),
        format::count(flagged as u64, lang),
        html::escape(frame.t(Text::Silent)),
        format::count(silent as u64, lang),
        frame.link_with("/api/scorecard.csv", &shown),
        html::escape(frame.t(Text::DownloadCsv)),
        frame.link_with("/api/scorecard.xlsx", &shown),
        html::escape(frame.t(Text::DownloadXlsx)),
    );
    // Headers: a link sorts by the column, again for the other direction.
    let sortable = |key: &str, text: Text, numeric: bool| {
        let descending = if selection.sort == key {
            !selection.descending
        } else {
            numeric && key != "rank"
        };
        let mut query: Vec<(&str, String)> = frame
            .extra
            .iter()
            .filter(|(k, _)| *k != "sort" && *k != "order")
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        query.push(("sort", key.to_owned()));
        query.push(("order", if descending { "desc" } else { "asc" }.to_owned()));
        let arrow = match (selection.sort == key, selection.descending) {
            (true, true) => " ▼",
            (true, false) => " ▲",
            _ => "",
        };
        let class = if numeric { " class=\"num\"" } else { "" };
        format!(
            "<th{class}><a data-sort=\"{key}\" href=\"{}\">{}{arrow}</a></th>",
            frame.link_with("/scorecard", &query),
            html::escape(frame.t(text))
        )
    };
    out.push_str("<table id=\"scorecard\"><tr>");
    for (key, text, numeric) in SORTS {
        out.push_str(&sortable(key, text, numeric));
        if key == "name" {
            // The level, after the name: not sorted by (the page filters by it).
            let _ = write!(out, "<th>{}</th>", html::escape(frame.t(Text::Level)));
        }
    }
    let _ = write!(
        out,
        "<th class=\"num\">{}</th><th>{} ({})</th><th>{} ({})</th><th>{}</th></tr>",
        html::escape(frame.t(Text::OnlineShare)),
        html::escape(frame.t(Text::LastEvent)),
        html::escape(frame.t(Text::DocumentsSystem)),
        html::escape(frame.t(Text::LastEvent)),
        html::escape(frame.t(Text::OnestopSystem)),
        html::escape(frame.t(Text::Flags)),
    );
    for unit in &scorecard.units {
        row(&mut out, frame, unit);
    }
    out.push_str("</table>");
    let _ = lang;
    out
}

fn row(out: &mut String, frame: &Frame, unit: &UnitScore) {
    let lang = frame.lang;
    let id = |key: &str| format!("units.{}.{key}", unit.code);
    let class = if unit.silent {
        " class=\"silent\""
    } else if !unit.flags.is_empty() {
        " class=\"flagged\""
    } else {
        ""
    };
    let flags: Vec<&str> = unit.flags.iter().map(|f| f.as_str()).collect();
    let count = |key: &str, n: u64| html::count_cell(&id(key), n, lang);
    let rate = |key: &str, r: Option<f64>| rate_cell(&id(key), r, lang);
    let when = |at: Option<chrono::DateTime<chrono::FixedOffset>>| {
        at.map_or_else(
            || "–".to_owned(),
            |t| {
                format!(
                    "{} {}",
                    format::date(t.date_naive(), lang),
                    t.format("%H:%M")
                )
            },
        )
    };
    let _ = write!(
        out,
        "<tr{class} data-unit=\"{}\" data-silent=\"{}\" data-flags=\"{}\">\
         <td class=\"num\" data-figure=\"{}\" data-value=\"{}\">{}</td><td>{}</td><td class=\"name\"><a href=\"{}\">{}</a></td><td>{}</td>",
        html::escape(&unit.code),
        unit.silent,
        flags.join(" "),
        html::escape(&id("rank")),
        unit.rank.map_or_else(|| "null".to_owned(), |r| r.to_string()),
        unit.rank.map_or_else(|| "–".to_owned(), |r| r.to_string()),
        html::escape(&unit.code),
        frame.link(&format!("/unit/{}", unit.code)),
        html::escape(&unit.name),
        html::escape(frame.t(level_text(unit.level))),
    );
    out.push_str(&count("documents.incoming", unit.documents.incoming));
    out.push_str(&count("documents.outgoing", unit.documents.outgoing));
    out.push_str(&rate("documents.signed_rate", unit.documents.signed_rate));
    out.push_str(&count("dossiers.received", unit.dossiers.received));
    out.push_str(&count("dossiers.due", unit.dossiers.due));
    out.push_str(&rate("dossiers.on_time_rate", unit.dossiers.on_time_rate));
    out.push_str(&rate("dossiers.online_share", unit.dossiers.online_share));
    let _ = write!(
        out,
        "<td>{}</td><td>{}</td><td>",
        when(unit.last_event_at.documents),
        when(unit.last_event_at.onestop)
    );
    if unit.silent {
        let _ = write!(
            out,
            "<span class=\"badge silent\">{}</span>",
            html::escape(frame.t(Text::Silent))
        );
    }
    for flag in &unit.flags {
        let text = match flag {
            Flag::LowSignedRate => Text::FlagSigning,
            Flag::LowOnTimeRate => Text::FlagOnTime,
        };
        let _ = write!(
            out,
            "<span class=\"badge flag\">{}</span>",
            html::escape(frame.t(text))
        );
    }
    out.push_str("</td></tr>");
}
