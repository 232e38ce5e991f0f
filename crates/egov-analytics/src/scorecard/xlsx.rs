//! The scorecard as an Excel workbook (`rust_xlsxwriter`): one sheet per level,
//! the columns of the CSV, a bold header row that stays in view (frozen),
//! counts and ranks as numbers, rates as numbers formatted as percentages,
//! times as Excel date-times in local time (Asia/Ho_Chi_Minh), `silent` as a
//! boolean; a `null` of the JSON is an empty cell.

use super::table::{level_title, Cell, Lang, COLUMNS};
use super::Scorecard;
use egov_model::Level;
use rust_xlsxwriter::{Format, Workbook, XlsxError};

/// Days from Excel's epoch (1899-12-30, as Excel counts) to 1970-01-01.
const UNIX_EPOCH_SERIAL: f64 = 25_569.0;
const MS_PER_DAY: f64 = 86_400_000.0;

/// The workbook's bytes.
pub fn workbook(scorecard: &Scorecard, lang: Lang) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    let header = Format::new().set_bold().set_text_wrap();
    let percent = Format::new().set_num_format("0.00%");
    let time = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    for level in Level::ALL {
        let units: Vec<_> = scorecard
            .units
            .iter()
            .filter(|u| u.level == level)
            .collect();
        // A sheet per level that has units (all three when none has).
        if units.is_empty() && scorecard.units.iter().any(|u| u.level != level) {
            continue;
        }
        let sheet = workbook.add_worksheet();
        sheet.set_name(level_title(level, lang))?;
        for (col, column) in (0u16..).zip(COLUMNS.iter()) {
            sheet.write_string_with_format(0, col, column.header(lang), &header)?;
        }
        for (row, unit) in (1u32..).zip(units) {
            for (col, column) in (0u16..).zip(COLUMNS.iter()) {
                match (column.value)(unit) {
                    Cell::Text(text) => {
                        sheet.write_string(row, col, text)?;
                    }
                    Cell::Count(n) => {
                        sheet.write_number(row, col, n as f64)?;
                    }
                    Cell::Rate(Some(rate)) => {
                        sheet.write_number_with_format(row, col, rate, &percent)?;
                    }
                    Cell::Time(Some(at)) => {
                        sheet.write_number_with_format(row, col, excel_serial(&at), &time)?;
                    }
                    Cell::Flag(flag) => {
                        sheet.write_boolean(row, col, flag)?;
                    }
                    Cell::Rank(Some(rank)) => {
                        sheet.write_number(row, col, f64::from(rank))?;
                    }
                    Cell::Rate(None) | Cell::Time(None) | Cell::Rank(None) => {}
                }
            }
        }
        sheet.set_freeze_panes(1, 0)?;
        sheet.set_autofit_max_width(320);
        sheet.autofit();
    }
    workbook.save_to_buffer()
}

/// The Excel serial number (days since 1899-12-30, local time) of a time of
/// the scorecard, as [`workbook`] writes it; for readers that compare.
pub fn excel_serial(at: &chrono::DateTime<chrono::FixedOffset>) -> f64 {
    let local_ms = at.timestamp_millis() + i64::from(at.offset().local_minus_utc()) * 1000;
    UNIX_EPOCH_SERIAL + local_ms as f64 / MS_PER_DAY
}
