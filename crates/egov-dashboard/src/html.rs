//! Server-rendered HTML: escaping, links, the frame every page shares (menu,
//! period picker, language switch) and figure cells. Every figure a page shows
//! carries `data-figure` (which one) and `data-value` (the number as the JSON
//! API gives it), so that a test or a script reads it without parsing the
//! formatted text.

use crate::i18n::{Lang, Text, Translate};
use chrono::NaiveDate;
use egov_model::format;
use std::fmt::Write as _;

/// Text for an HTML element or attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A query-string component.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => {
                let _ = write!(out, "%{byte:02X}");
            }
        }
    }
    out
}

/// `path?k=v&…`, the values encoded (and the whole escaped for an attribute).
pub fn href(path: &str, query: &[(&str, String)]) -> String {
    let query: Vec<String> = query
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    if query.is_empty() {
        escape(path)
    } else {
        escape(&format!("{path}?{}", query.join("&")))
    }
}

/// The menu entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    Scorecard,
    Unit,
    Pipeline,
}

/// What every page is rendered for: the reader's language, the period and the
/// page's own parameters (kept by the period picker and the language switch).
#[derive(Debug, Clone)]
pub struct Frame {
    pub lang: Lang,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub path: String,
    /// The page's other query parameters (level, district, …).
    pub extra: Vec<(&'static str, String)>,
}

impl Frame {
    fn query(&self, lang: Lang) -> Vec<(&str, String)> {
        let mut query = vec![("from", self.from.to_string()), ("to", self.to.to_string())];
        query.extend(self.extra.iter().map(|(k, v)| (*k, v.clone())));
        query.push(("lang", lang.code().to_owned()));
        query
    }

    /// A link to `path` for the same period and language.
    pub fn link(&self, path: &str) -> String {
        href(
            path,
            &[
                ("from", self.from.to_string()),
                ("to", self.to.to_string()),
                ("lang", self.lang.code().to_owned()),
            ],
        )
    }

    /// This page with other parameters.
    pub fn link_with(&self, path: &str, extra: &[(&str, String)]) -> String {
        let mut query = vec![("from", self.from.to_string()), ("to", self.to.to_string())];
        query.extend(extra.iter().map(|(k, v)| (*k, v.clone())));
        query.push(("lang", self.lang.code().to_owned()));
        href(path, &query)
    }

    pub fn t(&self, text: Text) -> &'static str {
        self.lang.t(text)
    }
}

const STYLE: &str = "
body{font-family:system-ui,'Segoe UI',Roboto,Arial,sans-serif;margin:0;color:#1b2733;background:#f5f7fa}
header{background:#9b1c1c;color:#fff;padding:10px 24px;display:flex;align-items:center;gap:24px;flex-wrap:wrap}
header h1{font-size:18px;margin:0;font-weight:600}
header nav a{color:#fde8e8;text-decoration:none;margin-right:16px;font-size:15px}
header nav a.active{color:#fff;font-weight:700;border-bottom:2px solid #facc15}
.lang{margin-left:auto;font-size:14px}.lang a{color:#fde8e8;margin-left:8px}.lang a.active{color:#fff;font-weight:700}
main{padding:16px 24px;max-width:1400px}
h2{font-size:20px;margin:8px 0 12px}h3{font-size:16px;margin:20px 0 8px}
form.period{background:#fff;border:1px solid #d8dee6;border-radius:6px;padding:10px 12px;display:flex;gap:12px;align-items:end;flex-wrap:wrap;margin-bottom:8px}
form.period label{font-size:13px;display:flex;flex-direction:column;gap:2px}
form.period input,form.period select{font-size:14px;padding:3px 4px}
button{background:#9b1c1c;color:#fff;border:0;border-radius:4px;padding:6px 14px;font-size:14px;cursor:pointer}
.note{font-size:12px;color:#5b6675;margin:4px 0 12px}
table{border-collapse:collapse;background:#fff;font-size:13px;margin-bottom:8px}
th,td{border:1px solid #d8dee6;padding:4px 8px}th{background:#eef1f5;text-align:left;font-weight:600;vertical-align:bottom}
td:first-child{white-space:nowrap}td.name{min-width:240px}th.num{white-space:normal;max-width:110px}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}th.num{text-align:right}
tr.total td{font-weight:700;background:#f8fafc}
tr.flagged td{background:#fff4e5}tr.silent td{background:#f3f4f6;color:#6b7280}
.badge{display:inline-block;font-size:11px;padding:1px 6px;border-radius:8px;margin-right:4px;white-space:nowrap}
.badge.flag{background:#fde68a;color:#7c2d12}.badge.silent{background:#d1d5db;color:#111827}
.charts{display:flex;flex-wrap:wrap;gap:16px}.chart{background:#fff;border:1px solid #d8dee6;border-radius:6px;padding:8px}
.chart h4{margin:0 0 4px;font-size:14px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin-bottom:12px}.card{background:#fff;border:1px solid #d8dee6;border-radius:6px;padding:10px 14px;min-width:180px}
.card .label{font-size:12px;color:#5b6675}.card .value{font-size:22px;font-weight:700}
.error{background:#fee2e2;border:1px solid #fca5a5;padding:12px;border-radius:6px}
a{color:#1d4ed8}
";

/// The whole page: menu, language switch, heading, optional period picker, body.
pub fn page(frame: &Frame, nav: Nav, heading: &str, period: bool, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 4096);
    let lang = frame.lang;
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · {}</title><style>{STYLE}</style></head><body>",
        lang.code(),
        escape(heading),
        escape(frame.t(Text::Title))
    );
    let _ = write!(
        out,
        "<header><h1>{}</h1><nav>",
        escape(frame.t(Text::Title))
    );
    for (entry, path, text) in [
        (Nav::Overview, "/", Text::Overview),
        (Nav::Scorecard, "/scorecard", Text::Scorecard),
        (Nav::Unit, "/unit", Text::Unit),
        (Nav::Pipeline, "/pipeline", Text::Pipeline),
    ] {
        let class = if entry == nav {
            " class=\"active\""
        } else {
            ""
        };
        let _ = write!(
            out,
            "<a{class} data-nav=\"{}\" href=\"{}\">{}</a>",
            path.trim_start_matches('/'),
            frame.link(path),
            escape(frame.t(text))
        );
    }
    out.push_str("</nav><div class=\"lang\">");
    for other in Lang::ALL {
        let class = if other == lang {
            " class=\"active\""
        } else {
            ""
        };
        let _ = write!(
            out,
            "<a{class} data-lang=\"{}\" href=\"{}\">{}</a>",
            other.code(),
            href(&frame.path, &frame.query(other)),
            other.name()
        );
    }
    let _ = write!(
        out,
        "</div></header><main><h2 id=\"heading\">{}</h2>",
        escape(heading)
    );
    if period {
        out.push_str(&period_form(frame, ""));
    }
    out.push_str(body);
    out.push_str("</main></body></html>");
    out
}

/// The period picker; `more` adds fields (filters) to the same form.
pub fn period_form(frame: &Frame, more: &str) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<form class=\"period\" method=\"get\" action=\"{}\">\
         <label>{}<input type=\"date\" name=\"from\" id=\"from\" value=\"{}\"></label>\
         <label>{}<input type=\"date\" name=\"to\" id=\"to\" value=\"{}\"></label>{more}\
         <input type=\"hidden\" name=\"lang\" value=\"{}\">",
        escape(&frame.path),
        escape(frame.t(Text::From)),
        frame.from,
        escape(frame.t(Text::To)),
        frame.to,
        frame.lang.code()
    );
    if more.is_empty() {
        for (k, v) in &frame.extra {
            let _ = write!(
                out,
                "<input type=\"hidden\" name=\"{k}\" value=\"{}\">",
                escape(v)
            );
        }
    }
    let _ = write!(
        out,
        "<button type=\"submit\">{}</button></form><p class=\"note\">{} {} – {}. {}</p>",
        escape(frame.t(Text::Show)),
        escape(frame.t(Text::Period)),
        format::date(frame.from, frame.lang),
        format::date(frame.to, frame.lang),
        escape(frame.t(Text::PeriodNote))
    );
    out
}

/// A count cell.
pub fn count_cell(figure: &str, value: u64, lang: Lang) -> String {
    format!(
        "<td class=\"num\" data-figure=\"{}\" data-value=\"{value}\">{}</td>",
        escape(figure),
        format::count(value, lang)
    )
}

/// A rate cell: `data-value` is the fraction at full precision, or `null`.
pub fn rate_cell(figure: &str, value: Option<f64>, lang: Lang) -> String {
    let raw = value.map_or_else(|| "null".to_owned(), |v| v.to_string());
    format!(
        "<td class=\"num\" data-figure=\"{}\" data-value=\"{raw}\">{}</td>",
        escape(figure),
        format::percent(value, lang)
    )
}

/// A header row.
pub fn header_row(cells: &[(&str, bool)]) -> String {
    let mut out = String::from("<tr>");
    for (text, numeric) in cells {
        let class = if *numeric { " class=\"num\"" } else { "" };
        let _ = write!(out, "<th{class}>{}</th>", escape(text));
    }
    out.push_str("</tr>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_links_are_escaped() {
        assert_eq!(
            escape("<a href='x'>&\""),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;"
        );
        assert_eq!(
            href(
                "/unit/000.00.02.H62",
                &[("lang", "en".into()), ("x", "a b&c".into())]
            ),
            "/unit/000.00.02.H62?lang=en&amp;x=a%20b%26c"
        );
        assert_eq!(encode("Hà"), "H%C3%A0");
    }

    #[test]
    fn cells_carry_the_raw_value() {
        assert_eq!(
            count_cell("dossiers.total.received", 1_116_511, Lang::Vi),
            "<td class=\"num\" data-figure=\"dossiers.total.received\" data-value=\"1116511\">1.116.511</td>"
        );
        assert!(rate_cell("x", None, Lang::En).contains("data-value=\"null\">–<"));
        assert!(rate_cell("x", Some(0.5), Lang::Vi).contains("data-value=\"0.5\">50,00%<"));
    }
}
