//! The unit page's late dossiers, checked against truths of their own: the
//! number of rows against `egov scorecard --format json` (`resolved_late +
//! pending_overdue`), and each row's dates against the dossier's events read
//! from ClickHouse directly, its working days late counted here from the
//! holiday calendar (`seeds/holidays.csv`).

use super::{Browser, Dashboard};
use anyhow::{bail, Context};
use chrono::{Datelike, NaiveDate};
use clickhouse::Row;
use egov_runtime::config::Settings;
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// One `<tr data-dossier>` of the page: the id and the `data-value`s of its
/// cells in order (received, due, resolved or "", working days late).
fn rows(dom: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for part in dom.split("<tr data-dossier=\"").skip(1) {
        let Some(end) = part.find('"') else { continue };
        let row = &part[..part.find("</tr>").unwrap_or(part.len())];
        let values = row
            .split("data-value=\"")
            .skip(1)
            .filter_map(|v| v.find('"').map(|end| v[..end].to_owned()))
            .collect();
        out.push((part[..end].to_owned(), values));
    }
    out
}

#[derive(Debug, Row, Deserialize)]
struct EventRow {
    entity_id: String,
    event_type: String,
    local_date: String,
    due_date: String,
}

/// What the contract says of a dossier, from its events dated by `to` in
/// the order they occurred: (received, due, resolved).
fn dates(events: &[&EventRow]) -> anyhow::Result<(NaiveDate, NaiveDate, Option<NaiveDate>)> {
    let day = |t: &str| NaiveDate::parse_from_str(t, "%Y-%m-%d").context("a date");
    let of = |kind: &str| -> Vec<&EventRow> {
        events
            .iter()
            .copied()
            .filter(|e| e.event_type == kind)
            .collect()
    };
    let receipts = of("dossier.received");
    let first = receipts.first().context("no receipt")?;
    let due = match of("dossier.supplement_received").last() {
        Some(supplement) => day(&supplement.due_date)?,
        None => day(&first.due_date)?,
    };
    let received = receipts
        .iter()
        .map(|e| day(&e.local_date))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let resolved = of("dossier.resolved")
        .iter()
        .map(|e| day(&e.local_date))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok((
        received.into_iter().min().context("no receipt")?,
        due,
        resolved.into_iter().min(),
    ))
}

fn working_days_after(due: NaiveDate, until: NaiveDate, holidays: &HashSet<NaiveDate>) -> u64 {
    due.iter_days()
        .skip(1)
        .take_while(|d| *d <= until)
        .filter(|d| d.weekday().num_days_from_monday() < 5 && !holidays.contains(d))
        .count() as u64
}

/// Loads the unit with the most late dossiers (English) and checks its list.
pub async fn check(
    browser: &Browser,
    dashboard: &Dashboard,
    settings: &Settings,
    units: &[Value],
    (from, to): (NaiveDate, NaiveDate),
    screens: &Path,
) -> anyhow::Result<()> {
    let late_of = |u: &Value| {
        u["dossiers"]["resolved_late"].as_u64().unwrap_or(0)
            + u["dossiers"]["pending_overdue"].as_u64().unwrap_or(0)
    };
    let unit = units
        .iter()
        .max_by_key(|u| late_of(u))
        .context("no units")?;
    let (code, total) = (unit["code"].as_str().unwrap_or(""), late_of(unit));
    if total == 0 {
        bail!("the scenario has no late dossier in its window");
    }
    let dom = browser.load(
        &dashboard.url(&format!("/unit/{code}?from={from}&to={to}&lang=en")),
        Some(&screens.join("unit-late-en.png")),
    )?;
    assert!(dom.contains(">Late dossiers</h3>") && dom.contains(">Working days late</th>"));
    let shown = rows(&dom);
    assert_eq!(
        shown.len() as u64,
        total.min(200),
        "unit {code}: the scorecard counts {total} late"
    );
    assert!(dom.contains(&format!(
        "data-shown=\"{}\" data-total=\"{total}\" data-limit=\"200\"",
        shown.len()
    )));

    // Every row against the dossier's events in ClickHouse.
    let events: Vec<EventRow> = egov_runtime::clickhouse::query_client(&settings.clickhouse)?
        .query(
            "SELECT entity_id, event_type, toString(local_date) AS day, \
             ifNull(toString(due_date), '') AS due FROM events FINAL \
             WHERE system = 'onestop' AND unit_code = ? AND local_date <= toDate(?) \
             ORDER BY occurred_ms, event_id",
        )
        .bind(code)
        .bind(to.to_string())
        .fetch_all()
        .await?;
    let mut by_dossier: BTreeMap<&str, Vec<&EventRow>> = BTreeMap::new();
    for event in &events {
        by_dossier.entry(&event.entity_id).or_default().push(event);
    }
    let holidays: HashSet<NaiveDate> = egov_model::calendar::holidays()?
        .into_iter()
        .map(|h| h.date)
        .collect();
    let mut previous = u64::MAX;
    for (id, values) in &shown {
        let (received, due, resolved) = dates(by_dossier.get(id.as_str()).context("no events")?)?;
        match resolved {
            Some(day) => assert!(day > due, "{id} was resolved late"),
            None => assert!(due <= to, "{id} is overdue"),
        }
        let until = resolved.unwrap_or(to);
        let days = working_days_after(due, until, &holidays);
        let expected = [
            received.to_string(),
            due.to_string(),
            resolved.map(|d| d.to_string()).unwrap_or_default(),
            days.to_string(),
        ];
        assert_eq!(values.as_slice(), expected.as_slice(), "dossier {id}");
        assert!(days <= previous, "the most working days late first");
        previous = days;
    }
    assert!(
        dom.contains(">Still open</td>") == shown.iter().any(|(_, v)| v[2].is_empty()),
        "open dossiers say so"
    );

    eprintln!(
        "unit {code}: {} late dossiers listed of {total}, each checked against its events",
        shown.len()
    );
    // The API gives the same list.
    let api: Value = reqwest::get(dashboard.url(&format!("/api/unit/{code}?from={from}&to={to}")))
        .await?
        .error_for_status()?
        .json()
        .await?;
    let listed = api["late_dossiers"]["dossiers"]
        .as_array()
        .context("no list")?;
    assert_eq!(api["late_dossiers"]["total"].as_u64(), Some(total));
    let ids: Vec<&str> = listed
        .iter()
        .filter_map(|d| d["dossier_id"].as_str())
        .collect();
    let page_ids: Vec<&str> = shown.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, page_ids);
    Ok(())
}

#[test]
fn working_days_skip_weekends_and_holidays() {
    let d = |m, day| NaiveDate::from_ymd_opt(2021, m, day).unwrap_or_default();
    let holidays = HashSet::from([d(9, 2), d(9, 3)]);
    // Due Friday 27 August; resolved Monday 6 September: 30, 31 August, 1 and 6 September.
    assert_eq!(working_days_after(d(8, 27), d(9, 6), &holidays), 4);
    assert_eq!(working_days_after(d(8, 27), d(8, 27), &holidays), 0);
    assert_eq!(working_days_after(d(8, 27), d(8, 29), &holidays), 0);
}
