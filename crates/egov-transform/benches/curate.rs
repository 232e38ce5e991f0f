//! Per-event cost of transform's pure step, `curate`: read the raw bytes once,
//! check them against the contract (unsealed) or only the rules after the
//! schemas (sealed by ingest), look the unit up, compute local dates; and the
//! JSON encoding of the result that transform produces.
//! `cargo bench -p egov-transform --bench curate`

use chrono::Utc;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use egov_model::catalogue::Catalogue;
use egov_model::contract::Contract;
use egov_transform::curate::{curate, RawMeta};
use std::hint::black_box;

/// The events of egov-model's contract bench (`benches/events.json` there),
/// as ingest wrote them to the raw topic, by event type.
fn raw_events() -> Vec<(String, Vec<u8>)> {
    let events: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("../../egov-model/benches/events.json"))
            .unwrap_or_else(|e| panic!("egov-model/benches/events.json: {e}"));
    events
        .into_iter()
        .map(|event| {
            let name = event["event_type"].as_str().unwrap_or_default().to_owned();
            (name, serde_json::to_vec(&event).unwrap_or_default())
        })
        .collect()
}

fn transform(c: &mut Criterion) {
    let contract = Contract::v1().unwrap_or_else(|e| panic!("contract: {e}"));
    let catalogue = Catalogue::embedded().unwrap_or_else(|e| panic!("catalogue: {e}"));
    let meta = RawMeta {
        received_at: Utc::now(),
        sealed: false,
    };
    let sealed = RawMeta {
        sealed: true,
        ..meta
    };
    let mut group = c.benchmark_group("transform");
    group.throughput(Throughput::Elements(1));
    for (name, raw) in raw_events() {
        let curated = curate(Some(&raw), meta, &contract, &catalogue)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        group.bench_with_input(BenchmarkId::new("curate", &name), &raw, |b, raw| {
            b.iter(|| curate(Some(black_box(raw)), meta, &contract, &catalogue).is_ok())
        });
        group.bench_with_input(BenchmarkId::new("curate_sealed", &name), &raw, |b, raw| {
            b.iter(|| curate(Some(black_box(raw)), sealed, &contract, &catalogue).is_ok())
        });
        group.bench_with_input(BenchmarkId::new("encode", &name), &curated, |b, event| {
            b.iter(|| serde_json::to_vec(black_box(event)).map(|v| v.len()))
        });
    }
    group.finish();
}

criterion_group!(benches, transform);
criterion_main!(benches);
