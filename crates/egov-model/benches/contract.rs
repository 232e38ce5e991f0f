//! Per-event cost of what ingest does to every event: parse it, validate it
//! against contract v1 (`Contract::validate`: JSON Schemas + catalogue), and
//! serialise it again for Kafka; and of load's decoding of a curated event.
//! `cargo bench -p egov-model --bench contract`

use chrono::Utc;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use egov_model::catalogue::Catalogue;
use egov_model::contract::Contract;
use egov_model::model::CuratedEvent;
use serde_json::Value;
use std::hint::black_box;

/// Events as the bench binary sends them (realistic units and payloads),
/// shared with transform's bench (`benches/events.json`), by event type.
fn events() -> Vec<(String, Value)> {
    let events: Vec<Value> = serde_json::from_str(include_str!("events.json"))
        .unwrap_or_else(|e| panic!("benches/events.json: {e}"));
    events
        .into_iter()
        .map(|event| {
            (
                event["event_type"].as_str().unwrap_or_default().to_owned(),
                event,
            )
        })
        .collect()
}

fn contract(c: &mut Criterion) {
    let contract = Contract::v1().unwrap_or_else(|e| panic!("contract: {e}"));
    let catalogue = Catalogue::embedded().unwrap_or_else(|e| panic!("catalogue: {e}"));
    let now = Utc::now();
    let mut group = c.benchmark_group("contract");
    group.throughput(Throughput::Elements(1));
    for (name, event) in events() {
        let bytes = serde_json::to_vec(&event).unwrap_or_default();
        assert!(contract.validate(&event, now, &catalogue).is_ok(), "{name}");
        group.bench_with_input(BenchmarkId::new("validate", &name), &event, |b, event| {
            b.iter(|| contract.validate(black_box(event), now, &catalogue).is_ok())
        });
        let text = String::from_utf8(bytes.clone()).unwrap_or_default();
        group.bench_with_input(BenchmarkId::new("check", &name), &text, |b, text| {
            b.iter(|| contract.check(black_box(text), now, &catalogue).is_ok())
        });
        group.bench_with_input(BenchmarkId::new("parse", &name), &bytes, |b, bytes| {
            b.iter(|| serde_json::from_slice::<Value>(black_box(bytes)).is_ok())
        });
        group.bench_with_input(BenchmarkId::new("serialise", &name), &event, |b, event| {
            b.iter(|| serde_json::to_vec(black_box(event)).map(|v| v.len()))
        });
    }
    group.finish();
}

fn curated_decode(c: &mut Criterion) {
    // What transform writes for a commune dossier (see curate's tests).
    let curated = br#"{"system":"onestop","event_id":"bench-0a1b2c3d-i-000012346","event_type":"dossier.received","occurred_ms":1620609120000,"local_date":18757,"unit_code":"08707","level":"commune","district_code":"243","entity_id":"08707-210510-0042","channel":"online","procedure_code":"1.001612","signed":false,"due_ms":1621245600000,"due_date":18764,"payload":"{\"applicant_type\":\"business\",\"channel\":\"online\",\"dossier_id\":\"08707-210510-0042\",\"due_at\":\"2021-05-17T17:00:00+07:00\",\"field_code\":\"dau_tu\",\"procedure_code\":\"1.001612\",\"service_level\":4}","ingested_ms":1620609121000}"#;
    assert!(serde_json::from_slice::<CuratedEvent>(curated).is_ok());
    let mut group = c.benchmark_group("curated");
    group.throughput(Throughput::Elements(1));
    group.bench_function("decode", |b| {
        b.iter(|| serde_json::from_slice::<CuratedEvent>(black_box(curated)).is_ok())
    });
    group.finish();
}

criterion_group!(benches, contract, curated_decode);
criterion_main!(benches);
