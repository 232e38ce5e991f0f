//! Throughput, in rounds: the events produced straight to Kafka with ingest's
//! producer (the raw-produce ceiling), `egov ingest` alone over HTTP, and
//! `egov run` over HTTP until every row is in ClickHouse. Every round sends
//! events of its own; the figures are the medians of the rounds.

use crate::bench::Bench;
use crate::egov::{status_kib, EgovProcess};
use crate::events::{self, Generator};
use crate::report::{cpu_jiffies, median, Round};
use crate::{ingest, produce, say};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `egov run` after the rounds, kept running for the freshness phase.
pub struct Pipeline {
    pub process: EgovProcess,
    pub sender: ingest::Sender,
    /// Events sent to it so far (all distinct).
    pub expected: u64,
    /// From its start until it was ready.
    pub ready_at: Duration,
    /// Since its start: the rounds of ingest and drain.
    pub ingest_phase: (Duration, Duration),
}

/// The phases `raw`, `alone` and `run`, whichever are asked for.
pub async fn phase(bench: &mut Bench<'_>) -> anyhow::Result<Option<Pipeline>> {
    let (args, names) = (bench.args, bench.names);
    say(format!(
        "generating {} rounds of {} events",
        args.rounds, args.events
    ));
    // Every round its own event ids: the pipeline's table must count each once.
    let rounds: Vec<Arc<Vec<events::Batch>>> = (0..args.rounds)
        .map(|r| {
            Arc::new(
                Generator::new(
                    &bench.catalogue,
                    format!("bench-{}-i{r}-", names.id),
                    10 + r as u64,
                )
                .batches(args.events, args.batch),
            )
        })
        .collect();
    bench.results.event_bytes =
        events::mean_event_bytes(rounds.first().map_or(&[], |b| b.as_slice()));
    // One request per client before the first timed round of each client:
    // connections, producer and caches warm.
    let warm_up = Generator::new(&bench.catalogue, format!("bench-{}-w-", names.id), 4)
        .batches(args.clients * args.batch, args.batch);
    let warm_events = (args.clients * args.batch) as u64;

    // The processes under test; each is started once and serves every round.
    let raw = if args.wants("raw") {
        Some(produce::RawProducer::new(&bench.settings.kafka, &names.produce, &warm_up).await?)
    } else {
        None
    };
    let mut alone = None;
    if args.wants("alone") {
        let (process, address) = bench
            .start_egov("ingest", &names.ingest_only, "egov-ingest.log", "starting ")
            .await?;
        let sender = ingest::Sender::new(&address, args.clients)?;
        ingest::max_rate(&sender, &warm_up, Arc::new(Vec::new()), args.clients).await?;
        alone = Some((process, sender));
    }
    let mut pipeline = None;
    if args.wants("run") {
        let (process, address) = bench
            .start_egov("run", &names.raw, "egov-run.log", "starting ")
            .await?;
        let ready_at = process.since_start();
        tokio::time::sleep(Duration::from_secs(2)).await;
        bench.results.rss_mib_idle = status_kib(process.pid, "VmRSS").unwrap_or(0) as f64 / 1024.0;
        let sender = ingest::Sender::new(&address, args.clients)?;
        ingest::max_rate(&sender, &warm_up, Arc::new(Vec::new()), args.clients).await?;
        pipeline = Some(Pipeline {
            process,
            sender,
            expected: warm_events,
            ready_at,
            ingest_phase: (Duration::MAX, Duration::ZERO),
        });
    }

    for (r, batches) in rounds.iter().enumerate() {
        let mut round = Round::default();
        say(format!("round {}: starting", r + 1));
        let n = args.events as f64;
        if let Some(raw) = &raw {
            bench.ch.quiesce(Duration::from_secs(30)).await;
            let elapsed = raw
                .run(&names.produce, batches.clone(), args.clients)
                .await?;
            round.raw_produce_events_per_s = n / elapsed.as_secs_f64();
        }
        if let Some((process, sender)) = &alone {
            let cpu = process.cpu_secs();
            let elapsed = ingest::max_rate(sender, &[], batches.clone(), args.clients).await?;
            round.ingest_only_events_per_s = n / elapsed.as_secs_f64();
            round.ingest_cpu_us_per_event = (process.cpu_secs() - cpu) * 1e6 / n;
        }
        if let Some(pipeline) = &mut pipeline {
            bench.ch.quiesce(Duration::from_secs(30)).await;
            let from = pipeline.process.since_start();
            let cpu = pipeline.process.cpu_secs();
            let machine = cpu_jiffies();
            let elapsed =
                ingest::max_rate(&pipeline.sender, &[], batches.clone(), args.clients).await?;
            let started = Instant::now() - elapsed;
            round.ingest_events_per_s = n / elapsed.as_secs_f64();
            pipeline.expected += args.events as u64;
            let drained = bench
                .ch
                .wait_rows(
                    &names.pipeline_db,
                    "events",
                    pipeline.expected,
                    started,
                    Duration::from_millis(200),
                    Duration::from_secs(600),
                )
                .await?;
            round.pipeline_rows_per_s = n / drained.all_rows.as_secs_f64();
            round.run_cpu_us_per_event = (pipeline.process.cpu_secs() - cpu) * 1e6 / n;
            if let (Some((busy0, _)), Some((busy1, _))) = (machine, cpu_jiffies()) {
                round.machine_cpu_us_per_event = (busy1 - busy0) as f64 / 100.0 * 1e6 / n;
            }
            pipeline.ingest_phase = (
                pipeline.ingest_phase.0.min(from),
                pipeline.process.since_start(),
            );
        }
        say(format!(
            "round {}: raw produce {:.0}/s, egov ingest alone {:.0}/s, egov run ingest {:.0}/s (all in ClickHouse at {:.0} rows/s)",
            r + 1,
            round.raw_produce_events_per_s,
            round.ingest_only_events_per_s,
            round.ingest_events_per_s,
            round.pipeline_rows_per_s
        ));
        bench.results.rounds.push(round);
    }
    drop(rounds);
    let results = &mut bench.results;
    let of = |f: fn(&Round) -> f64| median(&results.rounds.iter().map(f).collect::<Vec<_>>());
    results.raw_produce_events_per_s = of(|r| r.raw_produce_events_per_s);
    results.ingest_only_events_per_s = of(|r| r.ingest_only_events_per_s);
    results.ingest_events_per_s = of(|r| r.ingest_events_per_s);
    results.pipeline_rows_per_s = of(|r| r.pipeline_rows_per_s);
    results.cpu_us_per_event.ingest = of(|r| r.ingest_cpu_us_per_event);
    results.cpu_us_per_event.run = of(|r| r.run_cpu_us_per_event);
    results.cpu_us_per_event.machine = of(|r| r.machine_cpu_us_per_event);
    if let Some((process, sender)) = alone.take() {
        results.ingest_retries += sender.retries() as u64;
        results.ingest_only_rss_mib_max = process.stop().await?.hwm_kib as f64 / 1024.0;
    }
    Ok(pipeline)
}
