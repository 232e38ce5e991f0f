//! The province's year: the 2021 scenario (`egov_scenario::Report2021`,
//! about 2.5 million events, resends and late deliveries included) pushed
//! through a fresh `egov run` (topics, groups and database of its own) as fast
//! as it answers, from the first request until every distinct event is
//! visible in ClickHouse: `province_year_s`.

use crate::bench::Bench;
use crate::report::Year;
use crate::say;
use anyhow::Context;
use egov_scenario::report2021::{Report2021, DEFAULT_SEED};
use egov_scenario::{push, PushOptions, Target};
use std::sync::Arc;
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(250);
const TIMEOUT: Duration = Duration::from_secs(900);

pub async fn phase(bench: &mut Bench<'_>) -> anyhow::Result<()> {
    let (args, names) = (bench.args, bench.names);
    say("year: generating the 2021 scenario");
    let scenario = tokio::task::spawn_blocking(|| Report2021::generate(DEFAULT_SEED))
        .await?
        .context("generating the 2021 scenario")?;
    let scenario = Arc::new(scenario);
    let composition = scenario.composition();
    let (events, distinct) = (composition.events, composition.distinct_events);
    let overrides: Vec<(String, String)> = [
        ("EGOV__KAFKA__CURATED_TOPIC", &names.year_curated),
        ("EGOV__KAFKA__DLQ_TOPIC", &names.year_dlq),
        ("EGOV__KAFKA__TRANSFORM_GROUP", &names.year_transform_group),
        ("EGOV__KAFKA__LOAD_GROUP", &names.year_load_group),
        ("EGOV__CLICKHOUSE__DATABASE", &names.year_db),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.clone()))
    .collect();
    let (process, address) = bench
        .start_egov_with(
            "run",
            &names.year_raw,
            &overrides,
            "egov-year.log",
            "year: starting ",
        )
        .await?;
    bench.ch.quiesce(Duration::from_secs(30)).await;
    say(format!(
        "year: pushing {events} events ({distinct} distinct) to egov run, {} requests in flight",
        args.clients
    ));
    let batches = scenario.batches(args.batch, false);
    let options = PushOptions {
        concurrency: args.clients,
        total_events: Some(events),
        ..PushOptions::default()
    };
    let cpu = process.cpu_secs();
    let started = Instant::now();
    let stats = push(
        &Target::local(format!("http://{address}")),
        batches,
        &options,
    )
    .await?;
    let push_s = started.elapsed().as_secs_f64();
    let sql = format!(
        "SELECT uniqExact(system, unit_code, event_id) FROM `{}`.events",
        names.year_db
    );
    let visible_s = loop {
        let count = bench.ch.number(None, &sql).await.unwrap_or(0);
        if count >= distinct {
            break started.elapsed().as_secs_f64();
        }
        if started.elapsed() > TIMEOUT {
            anyhow::bail!("year: {count} of {distinct} events visible after {TIMEOUT:?}");
        }
        tokio::time::sleep(POLL).await;
    };
    let cpu_us_per_event = (process.cpu_secs() - cpu) * 1e6 / events as f64;
    let rss_mib_max = process.stop().await?.hwm_kib as f64 / 1024.0;
    say(format!(
        "year: pushed in {push_s:.1} s ({} retries), all visible after {visible_s:.1} s; egov run peak RSS {rss_mib_max:.0} MiB",
        stats.retries
    ));
    let results = &mut bench.results;
    results.ingest_retries += stats.retries;
    results.province_year_s = visible_s;
    results.rss_mib_max = results.rss_mib_max.max(rss_mib_max);
    results.year = Some(Year {
        events,
        distinct_events: distinct,
        push_s,
        visible_s,
        rss_mib_max,
        cpu_us_per_event,
    });
    Ok(())
}
