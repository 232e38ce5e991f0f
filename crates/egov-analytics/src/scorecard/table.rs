//! The scorecard's columns, in English and Vietnamese, and its CSV and
//! terminal table. CSV and XLSX have one column per value of the JSON, in the
//! JSON's order and with the same values; `--lang` changes only headers and
//! titles (the English CSV header is the JSON's key path, e.g.
//! `dossiers.on_time_rate`).

use super::{format_time, Scorecard, UnitScore};
use chrono::{DateTime, FixedOffset};
use egov_model::format;
use egov_model::{Level, System};
use std::fmt::Write;

/// The language of headers, titles and number formats.
pub use egov_model::format::Lang;

/// One value of a unit's line.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Count(u64),
    /// A rate (0..=1), `None` when there is nothing to rate.
    Rate(Option<f64>),
    Time(Option<DateTime<FixedOffset>>),
    Flag(bool),
    Rank(Option<u32>),
}

/// A column: its JSON key path, its English and Vietnamese headers, its value.
pub struct Column {
    pub key: &'static str,
    pub en: &'static str,
    pub vi: &'static str,
    pub value: fn(&UnitScore) -> Cell,
}

impl Column {
    pub fn header(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::En => self.en,
            Lang::Vi => self.vi,
        }
    }
}

/// The table below: one line a column, `key, English, Vietnamese => value`.
macro_rules! columns {
    ($($key:literal, $en:literal, $vi:literal => |$u:ident| $value:expr;)+) => {
        [$(Column { key: $key, en: $en, vi: $vi, value: |$u: &UnitScore| $value }),+]
    };
}

/// Every value of the JSON of a unit, in its order.
pub const COLUMNS: [Column; 25] = columns! {
    "code", "code", "Mã đơn vị" => |u| Cell::Text(u.code.clone());
    "name", "name", "Tên đơn vị" => |u| Cell::Text(u.name.clone());
    "level", "level", "Cấp" => |u| Cell::Text(u.level.to_string());
    "district_code", "district", "Mã huyện" => |u| Cell::Text(u.district_code.clone().unwrap_or_default());
    "documents.incoming", "incoming", "VB đến" => |u| Cell::Count(u.documents.incoming);
    "documents.outgoing", "outgoing", "VB đi" => |u| Cell::Count(u.documents.outgoing);
    "documents.outgoing_signed", "signed", "VB đi ký số" => |u| Cell::Count(u.documents.outgoing_signed);
    "documents.signed_rate", "signed rate", "Tỷ lệ ký số" => |u| Cell::Rate(u.documents.signed_rate);
    "dossiers.received", "received", "Tiếp nhận mới" => |u| Cell::Count(u.dossiers.received);
    "dossiers.carried_over", "carried", "Kỳ trước chuyển qua" => |u| Cell::Count(u.dossiers.carried_over);
    "dossiers.in_period", "in period", "Đã và đang giải quyết" => |u| Cell::Count(u.dossiers.in_period);
    "dossiers.due", "due", "Đến hạn giải quyết" => |u| Cell::Count(u.dossiers.due);
    "dossiers.resolved_early", "early", "Trước hạn" => |u| Cell::Count(u.dossiers.resolved_early);
    "dossiers.resolved_on_time", "on time", "Đúng hạn" => |u| Cell::Count(u.dossiers.resolved_on_time);
    "dossiers.resolved_late", "late", "Quá hạn" => |u| Cell::Count(u.dossiers.resolved_late);
    "dossiers.pending_in_time", "pending", "Đang giải quyết trong hạn" => |u| Cell::Count(u.dossiers.pending_in_time);
    "dossiers.pending_overdue", "overdue", "Đang giải quyết quá hạn" => |u| Cell::Count(u.dossiers.pending_overdue);
    "dossiers.on_time_rate", "on-time rate", "Tỷ lệ đúng hạn" => |u| Cell::Rate(u.dossiers.on_time_rate);
    "dossiers.online", "online", "Trực tuyến" => |u| Cell::Count(u.dossiers.online);
    "dossiers.online_share", "online share", "Tỷ lệ trực tuyến" => |u| Cell::Rate(u.dossiers.online_share);
    "last_event_at.documents", "last document event", "Sự kiện văn bản cuối" => |u| Cell::Time(u.last_event_at.get(System::Documents));
    "last_event_at.onestop", "last one-stop event", "Sự kiện một cửa cuối" => |u| Cell::Time(u.last_event_at.get(System::Onestop));
    "silent", "silent", "Ngừng gửi" => |u| Cell::Flag(u.silent);
    "flags", "flags", "Cảnh báo" => |u| Cell::Text(u.flags.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(";"));
    "rank", "rank", "Xếp hạng" => |u| Cell::Rank(u.rank);
};

/// The name of a level in a title or a sheet name.
pub fn level_title(level: Level, lang: Lang) -> &'static str {
    match (lang, level) {
        (Lang::En, Level::Province) => "province",
        (Lang::En, Level::District) => "district",
        (Lang::En, Level::Commune) => "commune",
        (Lang::Vi, Level::Province) => "Cấp tỉnh",
        (Lang::Vi, Level::District) => "Cấp huyện",
        (Lang::Vi, Level::Commune) => "Cấp xã",
    }
}

/// The CSV: a header row, then one row per unit; UTF-8. Counts are integers,
/// rates fractions at full precision, times as in the JSON, `true`/`false`,
/// flags joined by `;`; a `null` of the JSON is an empty field.
pub fn csv(scorecard: &Scorecard, lang: Lang) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(COLUMNS.iter().map(|c| match lang {
        Lang::En => c.key,
        Lang::Vi => c.vi,
    }))?;
    for unit in &scorecard.units {
        writer.write_record(COLUMNS.iter().map(|c| match (c.value)(unit) {
            Cell::Text(text) => text,
            Cell::Count(n) => n.to_string(),
            Cell::Rate(rate) => rate.map(|r| r.to_string()).unwrap_or_default(),
            Cell::Time(at) => at.as_ref().map(format_time).unwrap_or_default(),
            Cell::Flag(flag) => flag.to_string(),
            Cell::Rank(rank) => rank.map(|r| r.to_string()).unwrap_or_default(),
        }))?;
    }
    writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))
}

/// The columns of the terminal table (the rest are in JSON, CSV and XLSX).
const TABLE: [&str; 17] = [
    "rank",
    "code",
    "name",
    "documents.incoming",
    "documents.outgoing",
    "documents.signed_rate",
    "dossiers.received",
    "dossiers.in_period",
    "dossiers.due",
    "dossiers.resolved_late",
    "dossiers.pending_overdue",
    "dossiers.on_time_rate",
    "dossiers.online_share",
    "last_event_at.documents",
    "last_event_at.onestop",
    "silent",
    "flags",
];

fn text_cell(cell: Cell, lang: Lang) -> String {
    match cell {
        Cell::Text(text) => text,
        Cell::Count(n) => format::count(n, lang),
        Cell::Rate(rate) => format::percent(rate, lang),
        Cell::Time(at) => at
            .map(|at| at.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_else(|| "–".to_owned()),
        Cell::Flag(true) => match lang {
            Lang::En => "silent".to_owned(),
            Lang::Vi => "ngừng gửi".to_owned(),
        },
        Cell::Flag(false) => String::new(),
        Cell::Rank(rank) => rank
            .map(|r| r.to_string())
            .unwrap_or_else(|| "–".to_owned()),
    }
}

/// Cuts a long name so that the table stays readable.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(max - 1).collect();
    short.push('…');
    short
}

/// Tables for a person, one per level: the main figures of each unit.
pub fn table(scorecard: &Scorecard, lang: Lang) -> String {
    let columns: Vec<&Column> = TABLE
        .iter()
        .filter_map(|key| COLUMNS.iter().find(|c| c.key == *key))
        .collect();
    let mut out = String::new();
    let period = match lang {
        Lang::En => "Scorecard",
        Lang::Vi => "Bảng đánh giá",
    };
    let _ = writeln!(
        out,
        "{period} {} – {} (Asia/Ho_Chi_Minh)\n",
        scorecard.period.from, scorecard.period.to
    );
    for level in Level::ALL {
        let units: Vec<&UnitScore> = scorecard
            .units
            .iter()
            .filter(|u| u.level == level)
            .collect();
        if units.is_empty() {
            continue;
        }
        let header: Vec<String> = columns.iter().map(|c| c.header(lang).to_owned()).collect();
        let rows: Vec<Vec<String>> = units
            .iter()
            .map(|u| {
                columns
                    .iter()
                    .map(|c| match c.key {
                        "name" => shorten(&u.name, 32),
                        _ => text_cell((c.value)(u), lang),
                    })
                    .collect()
            })
            .collect();
        write_table(&mut out, level_title(level, lang), &header, &rows);
    }
    out
}

fn write_table(out: &mut String, title: &str, header: &[String], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let _ = writeln!(out, "{title}");
    let line = |out: &mut String, cells: &[String]| {
        let mut text = String::new();
        for (i, (cell, width)) in cells.iter().zip(&widths).enumerate() {
            let pad = " ".repeat(width.saturating_sub(cell.chars().count()));
            // Code and name left-aligned, figures right-aligned.
            if i == 1 || i == 2 {
                text.push_str(&format!("{cell}{pad}  "));
            } else {
                text.push_str(&format!("{pad}{cell}  "));
            }
        }
        let _ = writeln!(out, "{}", text.trim_end());
    };
    line(out, header);
    let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
    line(out, &rule);
    for row in rows {
        line(out, row);
    }
    let _ = writeln!(out);
}
