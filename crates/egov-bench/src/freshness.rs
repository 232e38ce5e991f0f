//! Freshness: at a fixed share of the measured ingest rate, open loop, from
//! an event's 200 to the first ClickHouse poll that shows its row; then the
//! memory of `egov run`, which served every round before.

use crate::bench::Bench;
use crate::ch::ClickHouse;
use crate::events::{self, Batch, Generator, SEQ_DIGITS};
use crate::ingest::Sender;
use crate::report::PhaseRss;
use crate::say;
use crate::throughput::Pipeline;
use anyhow::Context;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Freshness at `fresh_load` times the measured ingest rate, then the
/// memory of the process, which it stops.
pub async fn phase(bench: &mut Bench<'_>, pipeline: Pipeline) -> anyhow::Result<()> {
    let (args, names, ch) = (bench.args, bench.names, &bench.ch);
    let Pipeline {
        process,
        sender,
        expected,
        ready_at,
        ingest_phase,
    } = pipeline;
    let distinct = ch
        .number(
            Some(&names.pipeline_db),
            "SELECT uniqExact(event_id) FROM events",
        )
        .await?;
    anyhow::ensure!(
        distinct == expected,
        "{distinct} distinct events in ClickHouse, {expected} sent"
    );
    ch.quiesce(Duration::from_secs(30)).await;
    let rate = bench.results.ingest_events_per_s * args.fresh_load;
    let fresh_events = ((rate * args.fresh_secs as f64) as usize)
        .clamp(args.batch, args.fresh_max_events.max(args.batch));
    let prefix = format!("bench-{}-f-", names.id);
    let fresh_batches: Vec<_> = Generator::new(&bench.catalogue, prefix.clone(), 3)
        .batches(fresh_events, args.batch)
        .into_iter()
        .map(events::Batch::body_only)
        .collect();
    say(format!(
        "freshness: {fresh_events} events offered at {rate:.0} events/s"
    ));
    let fresh_start = process.since_start();
    let freshness = measure(
        &sender,
        ch,
        &names.pipeline_db,
        &prefix,
        Arc::new(fresh_batches),
        args.batch,
        rate,
        Duration::from_millis(args.poll_ms),
    )
    .await?;
    let fresh_phase = (fresh_start, process.since_start());
    say(format!(
        "freshness: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} of {} events seen)",
        freshness.p50_ms,
        freshness.p99_ms,
        freshness.max_ms,
        freshness.events_seen,
        freshness.events
    ));
    let results = &mut bench.results;
    results.ingest_retries += sender.retries() as u64;
    let memory = process.stop().await?;
    results.rss_mib_max = memory.hwm_kib as f64 / 1024.0;
    results.rss_mib_by_phase = PhaseRss {
        start: memory.max_rss_kib(Duration::ZERO, ready_at) as f64 / 1024.0,
        ingest_and_drain: memory.max_rss_kib(ingest_phase.0, ingest_phase.1) as f64 / 1024.0,
        freshness: memory.max_rss_kib(fresh_phase.0, fresh_phase.1) as f64 / 1024.0,
    };
    results.freshness = Some(freshness);
    say(format!(
        "egov run stopped; peak RSS (VmHWM) {:.0} MiB",
        results.rss_mib_max
    ));
    Ok(())
}

/// What the freshness phase measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Freshness {
    pub offered_events_per_s: f64,
    pub achieved_events_per_s: f64,
    pub events: u64,
    pub events_seen: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub min_ms: f64,
    pub mean_ms: f64,
    pub poll_ms: u64,
    pub polls: u64,
}

/// Per batch: when it was sent (wall clock ms), when its 200 came, and when
/// how many of its rows were first seen in ClickHouse.
#[derive(Debug, Default, Clone)]
struct Track {
    sent_wall_ms: Option<i64>,
    accepted: Option<Instant>,
    seen: u64,
    visible: Vec<(Instant, u64)>,
}

/// Offers `batches` at `events_per_s` (open loop: batch i leaves at
/// start + i × batch / rate, whatever the answers before it), and polls
/// ClickHouse every `poll` for the rows of every batch not yet complete. An
/// event's freshness is the start of the first poll that saw it minus the
/// time its request was answered 200: an upper bound, at most one poll
/// interval above the true value.
#[allow(clippy::too_many_arguments)]
async fn measure(
    sender: &Sender,
    ch: &ClickHouse,
    database: &str,
    prefix: &str,
    batches: Arc<Vec<Batch>>,
    batch_size: usize,
    events_per_s: f64,
    poll: Duration,
) -> anyhow::Result<Freshness> {
    let tracks = Arc::new(Mutex::new(vec![Track::default(); batches.len()]));
    let total: u64 = batches.iter().map(|b| b.count as u64).sum();
    let sizes: Vec<u64> = batches.iter().map(|b| b.count as u64).collect();
    let interval = Duration::from_secs_f64(batch_size as f64 / events_per_s.max(1.0));
    let started = Instant::now();
    let send = tokio::spawn({
        let (sender, batches, tracks) = (sender.clone(), batches.clone(), tracks.clone());
        async move {
            let mut requests = Vec::with_capacity(batches.len());
            for index in 0..batches.len() {
                tokio::time::sleep_until((started + interval * index as u32).into()).await;
                if let Ok(mut tracks) = tracks.lock() {
                    tracks[index].sent_wall_ms = Some(chrono::Utc::now().timestamp_millis());
                }
                let (sender, batches, tracks) = (sender.clone(), batches.clone(), tracks.clone());
                requests.push(tokio::spawn(async move {
                    sender.post(&batches[index]).await?;
                    let at = Instant::now();
                    if let Ok(mut tracks) = tracks.lock() {
                        tracks[index].accepted = Some(at);
                    }
                    Ok::<_, anyhow::Error>(())
                }));
            }
            let sent = started.elapsed();
            for request in requests {
                request.await.context("freshness client")??;
            }
            Ok::<_, anyhow::Error>(sent)
        }
    });
    let seq_start = prefix.len() + 1;
    let like = format!("{prefix}%");
    let mut polls = 0u64;
    let mut send_result = None;
    let mut send = Some(send);
    let deadline_after_send = Duration::from_secs(120);
    let mut sent_by: Option<Instant> = None;
    loop {
        let tick = Instant::now();
        if let Some(task) = send.as_ref() {
            if task.is_finished() {
                if let Some(task) = send.take() {
                    send_result = Some(task.await.context("freshness sender")??);
                    sent_by = Some(Instant::now());
                }
            }
        }
        // The oldest batch sent and not yet complete bounds what to look at.
        let (oldest_wall, oldest_index, incomplete) = {
            let tracks = tracks.lock().map_err(|_| anyhow::anyhow!("lock"))?;
            let mut oldest = None;
            let mut incomplete = 0usize;
            for (index, track) in tracks.iter().enumerate() {
                if track.seen < sizes[index] {
                    incomplete += 1;
                    if let (None, Some(wall)) = (oldest, track.sent_wall_ms) {
                        oldest = Some((wall, index));
                    }
                }
            }
            (oldest.map(|(w, _)| w), oldest.map(|(_, i)| i), incomplete)
        };
        if incomplete == 0 && send.is_none() {
            break;
        }
        if let Some(at) = sent_by {
            if at.elapsed() > deadline_after_send {
                eprintln!(
                    "egov-bench: {incomplete} batches still incomplete {deadline_after_send:?} after the last was sent"
                );
                break;
            }
        }
        if let (Some(wall), Some(index)) = (oldest_wall, oldest_index) {
            let first_seq = index * batch_size;
            let from = format!("{prefix}{first_seq:0width$}", width = SEQ_DIGITS);
            let at = Instant::now();
            let answer = ch
                .sql(
                    Some(database),
                    "SELECT intDiv(toUInt64(substring(event_id, ?)), ?) AS b, count() \
                     FROM events WHERE event_id >= ? AND event_id LIKE ? AND ingested_ms >= ? \
                     GROUP BY b",
                )
                .bind(seq_start as u64)
                .bind(batch_size as u64)
                .bind(from.as_str())
                .bind(like.as_str())
                .bind(wall - 2_000)
                .fetch_all::<(u64, u64)>()
                .await;
            polls += 1;
            match answer {
                Ok(rows) => {
                    let counts: HashMap<usize, u64> = rows
                        .into_iter()
                        .filter_map(|(b, n)| Some((usize::try_from(b).ok()?, n)))
                        .collect();
                    let mut tracks = tracks.lock().map_err(|_| anyhow::anyhow!("lock"))?;
                    for (b, n) in counts {
                        if let Some(track) = tracks.get_mut(b) {
                            if n > track.seen {
                                track.visible.push((at, n - track.seen));
                                track.seen = n;
                            }
                        }
                    }
                }
                Err(error) => eprintln!("egov-bench: freshness poll failed: {error:#}"),
            }
        }
        tokio::time::sleep_until((tick + poll).into()).await;
    }
    if let Some(task) = send.take() {
        send_result = Some(task.await.context("freshness sender")??);
    }
    let sent_in = send_result.unwrap_or_default();
    let tracks = tracks.lock().map_err(|_| anyhow::anyhow!("lock"))?;
    let mut latencies: Vec<f64> = Vec::with_capacity(total as usize);
    for track in tracks.iter() {
        let Some(accepted) = track.accepted else {
            continue;
        };
        for (at, n) in &track.visible {
            let ms = if *at >= accepted {
                (*at - accepted).as_secs_f64() * 1e3
            } else {
                -((accepted - *at).as_secs_f64() * 1e3)
            };
            latencies.extend(std::iter::repeat_n(ms, *n as usize));
        }
    }
    latencies.sort_by(f64::total_cmp);
    let seen = latencies.len() as u64;
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * latencies.len() as f64).ceil() as usize;
        latencies[rank.clamp(1, latencies.len()) - 1]
    };
    Ok(Freshness {
        offered_events_per_s: events_per_s,
        achieved_events_per_s: if sent_in.is_zero() {
            0.0
        } else {
            // The last batch leaves at (n-1) intervals; count n batches over n intervals.
            total as f64 / (sent_in + interval).as_secs_f64()
        },
        events: total,
        events_seen: seen,
        p50_ms: pct(50.0),
        p90_ms: pct(90.0),
        p99_ms: pct(99.0),
        max_ms: latencies.last().copied().unwrap_or(f64::NAN),
        min_ms: latencies.first().copied().unwrap_or(f64::NAN),
        mean_ms: if latencies.is_empty() {
            f64::NAN
        } else {
            latencies.iter().sum::<f64>() / latencies.len() as f64
        },
        poll_ms: poll.as_millis() as u64,
        polls,
    })
}
