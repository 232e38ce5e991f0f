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
use serde_json::json;
use std::hint::black_box;

fn raw_events() -> Vec<(&'static str, Vec<u8>)> {
    let events = [
        (
            "document.received",
            json!({
                "event_id": "bench-0a1b2c3d-i-000012345",
                "event_type": "document.received",
                "occurred_at": "2021-03-15T08:30:00+07:00",
                "unit_code": "08707",
                "schema_version": 1,
                "payload": {
                    "document_id": "VBD-08707-000012345",
                    "sender": "Ủy ban nhân dân huyện Tam Dương",
                    "channel": "provincial_axis",
                    "due_at": "2021-03-25T17:00:00+07:00",
                    "priority": 1
                }
            }),
        ),
        (
            "dossier.received",
            json!({
                "event_id": "bench-0a1b2c3d-i-000012346",
                "event_type": "dossier.received",
                "occurred_at": "2021-05-10T08:12:00+07:00",
                "unit_code": "243",
                "schema_version": 1,
                "payload": {
                    "dossier_id": "243-210510-0042",
                    "procedure_code": "1.001612",
                    "field_code": "dau_tu",
                    "channel": "online",
                    "service_level": 4,
                    "applicant_type": "business",
                    "due_at": "2021-05-17T17:00:00+07:00"
                }
            }),
        ),
    ];
    events
        .into_iter()
        .map(|(name, event)| (name, serde_json::to_vec(&event).unwrap_or_default()))
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
        group.bench_with_input(BenchmarkId::new("curate", name), &raw, |b, raw| {
            b.iter(|| curate(Some(black_box(raw)), meta, &contract, &catalogue).is_ok())
        });
        group.bench_with_input(BenchmarkId::new("curate_sealed", name), &raw, |b, raw| {
            b.iter(|| curate(Some(black_box(raw)), sealed, &contract, &catalogue).is_ok())
        });
        group.bench_with_input(BenchmarkId::new("encode", name), &curated, |b, event| {
            b.iter(|| serde_json::to_vec(black_box(event)).map(|v| v.len()))
        });
    }
    group.finish();
}

criterion_group!(benches, transform);
criterion_main!(benches);
