//! The figures of contract section 5 through the whole pipeline: random
//! scenarios (shuffled, duplicated, out of order) against an independent
//! computation, and the full 2021 scenario against the report's own figures.

use egov_analytics::query::{
    counts_by_unit, counts_by_unit_and_month, months, CountsByUnit, Params, UnitCounts,
};
use egov_analytics::ReportRequest;
use egov_scenario::push::{push, PushOptions, Target};
use egov_scenario::report2021::{
    Report2021, Window, CENTER_WINDOW, DEFAULT_SEED, DOCUMENTS_WINDOW, ONESTOP_WINDOW,
};
use egov_tests::Pipeline;
use serde_json::Value;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long figures may trail the events they count (see `Pipeline::eventually`).
const FIGURES_TIMEOUT: Duration = Duration::from_secs(30);

/// `code` and every unit below it, from the catalogue the pipeline uses.
fn subtree(code: &str) -> anyhow::Result<HashSet<String>> {
    let catalogue = egov_model::Catalogue::embedded()?;
    let mut found: HashSet<String> = HashSet::from([code.to_owned()]);
    loop {
        let before = found.len();
        for unit in catalogue.units() {
            if unit.parent_code.as_ref().is_some_and(|p| found.contains(p)) {
                found.insert(unit.code.clone());
            }
        }
        if found.len() == before {
            return Ok(found);
        }
    }
}

async fn report(
    pipeline: &Pipeline,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    unit: Option<&str>,
) -> anyhow::Result<Value> {
    let request = ReportRequest {
        from,
        to,
        unit: unit.map(str::to_owned),
    };
    Ok(serde_json::to_value(
        egov_analytics::report(&pipeline.settings.clickhouse, &request).await?,
    )?)
}

async fn wait_for_distinct(
    pipeline: &Pipeline,
    distinct: u64,
    timeout: Duration,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    pipeline
        .wait_for("SELECT count() FROM events FINAL", distinct, timeout)
        .await?;
    Ok(started.elapsed())
}

/// The counts of `from..=to` and of each calendar month of it in one query
/// (the dashboard's unit page) against each period's own query; the units
/// whose counts are all zero in a month aside. Returns how many (month, unit)
/// counts were compared.
async fn assert_months_equal_each_month(
    pipeline: &Pipeline,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    units: Option<&HashSet<String>>,
) -> anyhow::Result<usize> {
    let client = egov_runtime::clickhouse::query_client(&pipeline.settings.clickhouse)?;
    let database = pipeline.settings.clickhouse.database.as_str();
    let counted = |counts: CountsByUnit| -> CountsByUnit {
        counts
            .into_iter()
            .filter(|(_, c)| *c != UnitCounts::default())
            .collect()
    };
    let params = Params { from, to, units };
    let (whole, by_month) = counts_by_unit_and_month(&client, database, &params).await?;
    assert_eq!(whole, counts_by_unit(&client, database, &params).await?);
    let periods: Vec<_> = by_month.iter().map(|(period, _)| *period).collect();
    assert_eq!(periods, months(from, to));
    let mut compared = 0;
    for (period, counts) in by_month {
        let params = Params {
            from: period.from,
            to: period.to,
            units,
        };
        let alone = counted(counts_by_unit(&client, database, &params).await?);
        compared += alone.len();
        assert_eq!(counted(counts), alone, "{period:?}, units {units:?}");
    }
    Ok(compared)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_scenarios_match_an_independent_computation() -> anyhow::Result<()> {
    for seed in [1u64, 2, 3] {
        let scenario = egov_scenario::random::random_scenario_with_window(seed, 1_500);
        let pipeline = Pipeline::start(&format!("random{seed}")).await?;
        pipeline
            .push_and_wait(&scenario.events, Duration::from_secs(60))
            .await?;
        let (standard_from, standard_to) = egov_scenario::random::STANDARD_PERIOD;
        let windows = [(scenario.from, scenario.to), (standard_from, standard_to)];
        for (from, to) in windows {
            for unit in [None, Some("243"), Some("000.00.02.H62")] {
                let units = unit.map(subtree).transpose()?;
                let expected = serde_json::to_value(egov_scenario::reference::figures(
                    &scenario.events,
                    from,
                    to,
                    units.as_ref(),
                )?)?;
                let got = pipeline
                    .eventually(&expected, FIGURES_TIMEOUT, || {
                        report(&pipeline, from, to, unit)
                    })
                    .await?;
                assert_eq!(got, expected, "seed {seed}, {from}..{to}, unit {unit:?}");
            }
            // Per month in one query, as each month alone: every unit, and one unit's own.
            let compared = assert_months_equal_each_month(&pipeline, from, to, None).await?;
            assert!(
                compared > 0,
                "seed {seed}, {from}..{to}: no counts to compare"
            );
            for code in ["243", "000.00.02.H62"] {
                let own = HashSet::from([code.to_owned()]);
                assert_months_equal_each_month(&pipeline, from, to, Some(&own)).await?;
            }
        }
        pipeline.stop().await?;
    }
    Ok(())
}

fn count(report: &Value, section: &str, level: &str, key: &str) -> u64 {
    report[section][level][key].as_u64().unwrap_or(u64::MAX)
}

/// The figures of the office's 2021 report (`docs/figures-2021.md`) from the report of each window.
fn assert_figures_of_2021(documents: &Value, onestop: &Value, center: &Value) {
    for (level, incoming, outgoing, signed) in [
        ("province", 319_228, 106_457, 105_537),
        ("district", 157_487, 80_037, 76_936),
        ("commune", 639_796, 93_355, 86_485),
        ("total", 1_116_511, 279_849, 268_958),
    ] {
        let got = ["incoming", "outgoing", "outgoing_signed"]
            .map(|k| count(documents, "documents", level, k));
        assert_eq!(got, [incoming, outgoing, signed], "documents at {level}");
    }
    let local = |key: &str| {
        count(onestop, "dossiers", "district", key) + count(onestop, "dossiers", "commune", key)
    };
    assert_eq!(local("received"), 157_054);
    assert_eq!(local("in_period"), 164_063);
    assert_eq!(local("due"), 161_578);
    assert_eq!(local("resolved_early") + local("resolved_on_time"), 146_777);
    let share = onestop["dossiers"]["total"]["online_share"]
        .as_f64()
        .unwrap_or(0.0);
    assert_eq!(
        format!("{:.1}", share * 100.0),
        "7.4",
        "online share {share}"
    );
    let center_figures =
        ["received", "in_period", "due"].map(|k| count(center, "dossiers", "province", k));
    assert_eq!(center_figures, [51_754, 61_263, 51_007]);
    assert_eq!(
        count(center, "dossiers", "province", "resolved_early")
            + count(center, "dossiers", "province", "resolved_on_time"),
        50_817
    );
    let rate = center["dossiers"]["province"]["on_time_rate"]
        .as_f64()
        .unwrap_or(0.0);
    assert_eq!(format!("{:.2}", rate * 100.0), "99.63");
}

/// About 2.5 million events through HTTP, Kafka and ClickHouse; then the same
/// stream again in reverse order, which must change no figure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_2021_scenario_reproduces_the_report_pushed_once_and_again_reversed(
) -> anyhow::Result<()> {
    let scenario = Arc::new(Report2021::generate(DEFAULT_SEED)?);
    let distinct = scenario.composition().distinct_events;
    let pipeline = Pipeline::start("report2021").await?;
    let target = Target::local(pipeline.url(""));
    let options = PushOptions {
        concurrency: 4,
        ..PushOptions::default()
    };
    for reverse in [false, true] {
        let started = Instant::now();
        let stats = push(&target, scenario.batches(2_000, reverse), &options).await?;
        let pushed = started.elapsed();
        assert_eq!(stats.accepted, scenario.composition().events);
        let visible = wait_for_distinct(&pipeline, distinct, Duration::from_secs(900)).await?;
        let reference = scenario.reference(reverse)?;
        let expected = |window: Window| -> anyhow::Result<Value> {
            Ok(serde_json::to_value(reference.report(
                window.from,
                window.to,
                None,
            ))?)
        };
        let (expected_documents, expected_onestop, expected_center) = (
            expected(DOCUMENTS_WINDOW)?,
            expected(ONESTOP_WINDOW)?,
            expected(CENTER_WINDOW)?,
        );
        // The last insert's rollup rows may trail its events a little.
        let mut reports = Vec::new();
        for (window, expected) in [
            (DOCUMENTS_WINDOW, &expected_documents),
            (ONESTOP_WINDOW, &expected_onestop),
            (CENTER_WINDOW, &expected_center),
        ] {
            let pipeline = &pipeline;
            reports.push(
                pipeline
                    .eventually(expected, FIGURES_TIMEOUT, || {
                        report(pipeline, window.from, window.to, None)
                    })
                    .await?,
            );
        }
        let [documents, onestop, center] =
            <[Value; 3]>::try_from(reports).map_err(|_| anyhow::anyhow!("three reports"))?;
        let started = Instant::now();
        report(&pipeline, DOCUMENTS_WINDOW.from, DOCUMENTS_WINDOW.to, None).await?;
        let reported = started.elapsed();
        eprintln!(
            "2021 scenario{}: {} events pushed in {pushed:.1?} ({:.0} events/s), all {distinct} distinct visible {visible:.1?} later, one report takes {reported:.2?}",
            if reverse { " again, reversed" } else { "" },
            stats.accepted,
            stats.accepted as f64 / pushed.as_secs_f64()
        );
        assert_figures_of_2021(&documents, &onestop, &center);
        // The scorecard's units add up to the report of each window, and the year's answers.
        let catalogue = egov_model::Catalogue::embedded()?;
        let client = egov_runtime::clickhouse::query_client(&pipeline.settings.clickhouse)?;
        let year_end =
            chrono::NaiveDate::from_ymd_opt(2021, 12, 31).ok_or_else(|| anyhow::anyhow!("date"))?;
        let windows = [
            (DOCUMENTS_WINDOW.from, DOCUMENTS_WINDOW.to),
            (ONESTOP_WINDOW.from, ONESTOP_WINDOW.to),
            (CENTER_WINDOW.from, CENTER_WINDOW.to),
            (DOCUMENTS_WINDOW.from, year_end),
        ];
        for (from, to) in windows {
            let started = Instant::now();
            let card = egov_analytics::scorecard::scorecard(
                &client,
                &pipeline.settings.clickhouse.database,
                &catalogue,
                &egov_analytics::ScorecardRequest {
                    from,
                    to,
                    level: None,
                },
                &pipeline.settings.scorecard,
            )
            .await?;
            eprintln!("scorecard {from}..{to}: {:.0?}", started.elapsed());
            let report = egov_analytics::report(
                &pipeline.settings.clickhouse,
                &ReportRequest {
                    from,
                    to,
                    unit: None,
                },
            )
            .await?;
            egov_tests::scorecard::assert_sums_equal_report(&card, &report)?;
            assert_eq!(card.units.len(), catalogue.len());
        }
        // And exactly the independent computation, rates included.
        for (window, got, expected) in [
            (DOCUMENTS_WINDOW, &documents, &expected_documents),
            (ONESTOP_WINDOW, &onestop, &expected_onestop),
            (CENTER_WINDOW, &center, &expected_center),
        ] {
            assert_eq!(got, expected, "{}", window.name);
        }
    }
    pipeline.stop().await
}
