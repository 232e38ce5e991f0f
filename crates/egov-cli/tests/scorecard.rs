//! `egov scorecard` as an analyst runs it, with the `egov` binary against a
//! pipeline of the real local Kafka and ClickHouse: the JSON is the library's
//! scorecard, and the CSV and the XLSX workbook (read back with calamine) hold
//! exactly the JSON's values, in English and in Vietnamese.

use anyhow::{bail, ensure, Context};
use calamine::{open_workbook, Data, Reader, Xlsx};
use egov_analytics::scorecard::table::COLUMNS;
use egov_analytics::scorecard::xlsx::excel_serial;
use egov_analytics::scorecard::Scorecard;
use egov_tests::Pipeline;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// `egov scorecard ARGS` on the pipeline's database; its standard output.
fn scorecard(pipeline: &Pipeline, args: &[&str]) -> anyhow::Result<Vec<u8>> {
    let clickhouse = &pipeline.settings.clickhouse;
    let output = Command::new(env!("CARGO_BIN_EXE_egov"))
        .arg("scorecard")
        .args(args)
        .env_remove("EGOV_CONFIG")
        .env("EGOV__CLICKHOUSE__URL", &clickhouse.url)
        .env("EGOV__CLICKHOUSE__DATABASE", &clickhouse.database)
        .stdin(Stdio::null())
        .output()?;
    if !output.status.success() {
        bail!(
            "egov scorecard {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(output.stdout)
}

/// `egov scorecard ARGS --output FILE`, FILE being `name` in `dir`; its path.
fn scorecard_to_file(
    pipeline: &Pipeline,
    dir: &Path,
    name: &str,
    args: &[&str],
) -> anyhow::Result<PathBuf> {
    let path = dir.join(name);
    let file = path.to_string_lossy().into_owned();
    scorecard(pipeline, &[args, &["--output", file.as_str()]].concat())?;
    Ok(path)
}

/// The value at a column's key path (`dossiers.on_time_rate`) of a unit's JSON.
fn at<'a>(unit: &'a Value, key: &str) -> &'a Value {
    key.split('.').fold(unit, |value, part| &value[part])
}

/// A CSV field holds the JSON value: null empty, numbers equal, flags joined by `;`.
fn csv_matches(field: &str, value: &Value) -> bool {
    match value {
        Value::Null => field.is_empty(),
        Value::Number(n) => field.parse::<f64>().ok() == n.as_f64(),
        Value::Bool(b) => field == b.to_string(),
        Value::String(s) => field == s,
        Value::Array(items) => {
            field
                == items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(";")
        }
        Value::Object(_) => false,
    }
}

/// An XLSX cell holds the JSON value: numbers as numbers, times as local
/// date-times, `silent` as a boolean, null as an empty cell.
fn cell_matches(key: &str, cell: &Data, value: &Value) -> bool {
    match (cell, value) {
        (Data::Empty, Value::Null) => true,
        (Data::Empty, Value::String(s)) => s.is_empty(),
        (Data::Empty, Value::Array(items)) => items.is_empty(),
        (Data::Float(f), Value::Number(n)) => Some(*f) == n.as_f64(),
        (Data::Int(i), Value::Number(n)) => Some(*i as f64) == n.as_f64(),
        (Data::Bool(b), Value::Bool(v)) => b == v,
        (Data::DateTime(t), Value::String(s)) if key.starts_with("last_event_at.") => {
            chrono::DateTime::parse_from_rfc3339(s)
                .is_ok_and(|at| (t.as_f64() - excel_serial(&at)).abs() < 1e-9)
        }
        (Data::String(text), Value::Array(items)) => {
            *text
                == items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(";")
        }
        (Data::String(text), Value::String(s)) => text == s,
        _ => false,
    }
}

fn check_csv(bytes: &[u8], units: &[Value], vietnamese: bool) -> anyhow::Result<()> {
    // UTF-8 throughout.
    let text = String::from_utf8(bytes.to_vec())?;
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers()?.iter().map(str::to_owned).collect();
    let expected: Vec<&str> = COLUMNS
        .iter()
        .map(|c| if vietnamese { c.vi } else { c.key })
        .collect();
    ensure!(header == expected, "CSV header {header:?}");
    let rows: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>()?;
    ensure!(rows.len() == units.len(), "CSV has {} rows", rows.len());
    for (row, unit) in rows.iter().zip(units) {
        for (field, column) in row.iter().zip(&COLUMNS) {
            let value = at(unit, column.key);
            ensure!(
                csv_matches(field, value),
                "CSV {} of {}: {field:?}, JSON {value}",
                column.key,
                unit["code"]
            );
        }
    }
    Ok(())
}

fn check_xlsx(
    path: &Path,
    units: &[Value],
    sheets: &[&str],
    vietnamese: bool,
) -> anyhow::Result<()> {
    let mut workbook: Xlsx<_> = open_workbook(path).context("opening the workbook")?;
    ensure!(
        workbook.sheet_names() == sheets,
        "sheets {:?}",
        workbook.sheet_names()
    );
    let levels = ["province", "district", "commune"];
    let mut seen = 0;
    for (sheet, level) in sheets.iter().zip(levels) {
        let range = workbook.worksheet_range(sheet)?;
        let mut rows = range.rows();
        let header: Vec<String> = rows
            .next()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .unwrap_or_default();
        let expected: Vec<&str> = COLUMNS
            .iter()
            .map(|c| if vietnamese { c.vi } else { c.en })
            .collect();
        ensure!(header == expected, "{sheet}: header {header:?}");
        let of_level: Vec<&Value> = units.iter().filter(|u| u["level"] == level).collect();
        let data: Vec<&[Data]> = rows.collect();
        ensure!(data.len() == of_level.len(), "{sheet}: {} rows", data.len());
        for (row, unit) in data.iter().zip(of_level) {
            for (col, column) in COLUMNS.iter().enumerate() {
                let cell = row.get(col).unwrap_or(&Data::Empty);
                let value = at(unit, column.key);
                ensure!(
                    cell_matches(column.key, cell, value),
                    "{sheet} {} of {}: {cell:?}, JSON {value}",
                    column.key,
                    unit["code"]
                );
            }
            seen += 1;
        }
    }
    ensure!(
        seen == units.len(),
        "{seen} of {} units in the workbook",
        units.len()
    );
    Ok(())
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scorecard_json_csv_and_xlsx_hold_the_same_values() -> anyhow::Result<()> {
    let scenario = egov_scenario::random::random_scenario_with_window(6, 800);
    let pipeline = Pipeline::start("cliscore").await?;
    pipeline
        .push_and_wait(&scenario.events, Duration::from_secs(60))
        .await?;
    let (from, to) = egov_scenario::random::STANDARD_PERIOD;
    // The figures read the rollups, which trail the events by an insert's views.
    pipeline
        .wait_for_figures(&scenario.events, from, to)
        .await?;
    let (from, to) = (from.to_string(), to.to_string());
    let period = ["--from", from.as_str(), "--to", to.as_str()];
    let dir = TempDir(std::env::temp_dir().join(format!(
        "egov-scorecard-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_millis()
    )));
    std::fs::create_dir_all(&dir.0)?;

    let json = scorecard(&pipeline, &[&period[..], &["--format", "json"]].concat())?;
    let card: Scorecard = serde_json::from_slice(&json)?;
    let value: Value = serde_json::from_slice(&json)?;
    ensure!(card.units.len() == egov_model::Catalogue::embedded()?.len());
    ensure!(card
        .units
        .iter()
        .any(|u| u.dossiers.due > 0 && u.rank.is_some()));
    let units = value["units"].as_array().cloned().unwrap_or_default();
    for key in ["period", "units"] {
        ensure!(value.get(key).is_some(), "no {key}");
    }
    let keys: Vec<&str> = units[0]
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let mut expected_keys = [
        "code",
        "name",
        "level",
        "district_code",
        "documents",
        "dossiers",
        "last_event_at",
        "silent",
        "flags",
        "rank",
    ];
    expected_keys.sort_unstable();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    ensure!(sorted == expected_keys, "unit keys {keys:?}");

    for (lang, vietnamese) in [("en", false), ("vi", true)] {
        let written = |format: &str| {
            let args = [&period[..], &["--format", format, "--lang", lang]].concat();
            scorecard_to_file(
                &pipeline,
                &dir.0,
                &format!("scorecard-{lang}.{format}"),
                &args,
            )
        };
        check_csv(&std::fs::read(written("csv")?)?, &units, vietnamese)?;
        let xlsx_path = written("xlsx")?;
        let sheets = if vietnamese {
            ["Cấp tỉnh", "Cấp huyện", "Cấp xã"]
        } else {
            ["province", "district", "commune"]
        };
        check_xlsx(&xlsx_path, &units, &sheets, vietnamese)?;
    }

    // One level: only its units, one sheet; the table names them.
    let districts = scorecard(
        &pipeline,
        &[&period[..], &["--level", "district", "--format", "json"]].concat(),
    )?;
    let districts: Scorecard = serde_json::from_slice(&districts)?;
    ensure!(districts.units.len() == 9);
    let same: Vec<_> = card
        .units
        .iter()
        .filter(|u| u.level == egov_model::Level::District)
        .cloned()
        .collect();
    ensure!(districts.units == same, "the district scorecard differs");
    let args = [&period[..], &["--level", "district", "--format", "xlsx"]].concat();
    let xlsx_path = scorecard_to_file(&pipeline, &dir.0, "districts.xlsx", &args)?;
    let district_units: Vec<Value> = units
        .iter()
        .filter(|u| u["level"] == "district")
        .cloned()
        .collect();
    let mut workbook: Xlsx<_> = open_workbook(&xlsx_path)?;
    ensure!(workbook.sheet_names() == ["district"]);
    let rows = workbook.worksheet_range("district")?.rows().count();
    ensure!(rows == district_units.len() + 1);
    let table = String::from_utf8(scorecard(
        &pipeline,
        &[&period[..], &["--lang", "vi"]].concat(),
    )?)?;
    ensure!(
        table.contains("Cấp huyện") && table.contains("Thành phố Phúc Yên"),
        "{table}"
    );
    pipeline.stop().await
}
