//! Realistic contract-v1 events of both systems, generated in memory before a
//! phase starts so that the clients spend no time making them. Units are real
//! codes of the unit catalogue; event ids are unique per run and phase and end
//! in a zero-padded sequence number, so ClickHouse can map a row back to the
//! request (batch) it came in.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use egov_model::time::vietnam;
use egov_model::{Catalogue, System};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

/// Digits of the sequence number at the end of every event id.
pub const SEQ_DIGITS: usize = 9;

/// One event as ingest would write it to Kafka: its key and its JSON.
#[derive(Debug, Clone)]
pub struct Event {
    pub key: String,
    pub event_id: String,
    pub json: Vec<u8>,
}

/// One request: events of a single system, and the body that carries them.
#[derive(Debug, Clone)]
pub struct Batch {
    pub system: System,
    /// How many events the body holds.
    pub count: usize,
    /// The events one by one (emptied by [`Batch::body_only`]).
    pub events: Vec<Event>,
    /// The JSON array of `events`.
    pub body: Vec<u8>,
}

const SENDERS: [&str; 6] = [
    "Bộ Nội vụ",
    "Văn phòng Chính phủ",
    "Ủy ban nhân dân tỉnh Vĩnh Phúc",
    "Sở Tài chính tỉnh Vĩnh Phúc",
    "Ủy ban nhân dân huyện Tam Dương",
    "Bảo hiểm xã hội tỉnh Vĩnh Phúc",
];
const DOCUMENT_CHANNELS: [&str; 4] = ["national_axis", "provincial_axis", "email", "paper"];
const PROCEDURES: [(&str, &str); 5] = [
    ("1.001612", "dau_tu"),
    ("2.000794", "ho_tich"),
    ("1.004227", "dat_dai"),
    ("2.001023", "chung_thuc"),
    ("1.003000", "xay_dung"),
];
const DOSSIER_CHANNELS: [&str; 3] = ["direct", "online", "postal"];
const APPLICANTS: [&str; 3] = ["citizen", "business", "organization"];

impl Batch {
    /// Keeps only the body, for phases that send requests and nothing else.
    pub fn body_only(mut self) -> Self {
        self.events = Vec::new();
        self
    }
}

pub struct Generator {
    units: Vec<String>,
    rng: StdRng,
    prefix: String,
    next_seq: u64,
    now: DateTime<Utc>,
}

impl Generator {
    /// Events whose ids start with `prefix` (then the sequence number).
    pub fn new(catalogue: &Catalogue, prefix: String, seed: u64) -> Self {
        let units = catalogue
            .units()
            .filter(|u| u.valid_to.is_none())
            .map(|u| u.code.clone())
            .collect();
        Self {
            units,
            rng: StdRng::seed_from_u64(seed),
            prefix,
            next_seq: 0,
            now: Utc::now(),
        }
    }

    /// `events` events in requests of `batch_size`, alternately of the
    /// document system and of the one-stop system.
    pub fn batches(&mut self, events: usize, batch_size: usize) -> Vec<Batch> {
        let batch_size = batch_size.max(1);
        let mut batches = Vec::with_capacity(events.div_ceil(batch_size));
        let mut left = events;
        while left > 0 {
            let n = left.min(batch_size);
            let system = if batches.len() % 2 == 0 {
                System::Documents
            } else {
                System::Onestop
            };
            let mut list = Vec::with_capacity(n);
            let mut body = Vec::with_capacity(n * 450);
            body.push(b'[');
            for i in 0..n {
                let event = self.event(system);
                if i > 0 {
                    body.push(b',');
                }
                body.extend_from_slice(&event.json);
                list.push(event);
            }
            body.push(b']');
            batches.push(Batch {
                system,
                count: n,
                events: list,
                body,
            });
            left -= n;
        }
        batches
    }

    fn event(&mut self, system: System) -> Event {
        let seq = self.next_seq;
        self.next_seq += 1;
        let event_id = format!("{}{seq:0width$}", self.prefix, width = SEQ_DIGITS);
        let unit = self.units[self.rng.random_range(0..self.units.len())].clone();
        // Live traffic: something that happened within the last week.
        let occurred = self.now - Duration::seconds(self.rng.random_range(60..7 * 86_400));
        let local = occurred.with_timezone(&vietnam());
        let due = (local + Duration::days(self.rng.random_range(3..20)))
            .date_naive()
            .format("%Y-%m-%dT17:00:00+07:00")
            .to_string();
        let occurred_at = local.to_rfc3339_opts(SecondsFormat::Secs, false);
        let stamp = local.format("%y%m%d");
        let pick = self.rng.random_range(0..10);
        let (event_type, payload) = match system {
            System::Documents if pick < 7 => (
                "document.received",
                json!({
                    "document_id": format!("VBD-{unit}-{seq}"),
                    "sender": SENDERS[self.rng.random_range(0..SENDERS.len())],
                    "channel": DOCUMENT_CHANNELS[self.rng.random_range(0..DOCUMENT_CHANNELS.len())],
                    "due_at": due,
                    "priority": self.rng.random_range(0..4),
                }),
            ),
            System::Documents => {
                let signed = self.rng.random_bool(0.9);
                (
                    "document.issued",
                    json!({
                        "document_id": format!("VBDI-{unit}-{seq}"),
                        "signed": signed,
                        "signature": {"personal": signed, "organization": signed},
                        "channel": DOCUMENT_CHANNELS[self.rng.random_range(0..2)],
                    }),
                )
            }
            System::Onestop if pick < 7 => {
                let (procedure, field) = PROCEDURES[self.rng.random_range(0..PROCEDURES.len())];
                let service_level = [2, 3, 4][self.rng.random_range(0..3)];
                (
                    "dossier.received",
                    json!({
                        "dossier_id": format!("{unit}-{stamp}-{seq}"),
                        "procedure_code": procedure,
                        "field_code": field,
                        "channel": DOSSIER_CHANNELS[self.rng.random_range(0..DOSSIER_CHANNELS.len())],
                        "service_level": service_level,
                        "applicant_type": APPLICANTS[self.rng.random_range(0..APPLICANTS.len())],
                        "due_at": due,
                    }),
                )
            }
            System::Onestop => (
                "dossier.resolved",
                json!({"dossier_id": format!("{unit}-{stamp}-{seq}")}),
            ),
        };
        let value = json!({
            "event_id": event_id,
            "event_type": event_type,
            "occurred_at": occurred_at,
            "unit_code": unit,
            "schema_version": 1,
            "payload": payload,
        });
        // serde_json writes object keys sorted: the same bytes ingest produces
        // after parsing the request and serialising each event again.
        let json = serialise(&value);
        Event {
            key: format!("{system}:{event_id}"),
            event_id,
            json,
        }
    }
}

fn serialise(value: &Value) -> Vec<u8> {
    // A `Value` built by `json!` always serialises.
    serde_json::to_vec(value).unwrap_or_default()
}

/// Mean size in bytes of the events' JSON.
pub fn mean_event_bytes(batches: &[Batch]) -> f64 {
    let (count, bytes) = batches
        .iter()
        .flat_map(|b| &b.events)
        .fold((0usize, 0usize), |(n, s), e| (n + 1, s + e.json.len()));
    if count == 0 {
        0.0
    } else {
        bytes as f64 / count as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use egov_model::contract::Contract;

    #[test]
    fn generated_events_are_valid_and_batches_are_single_system() -> anyhow::Result<()> {
        let catalogue = Catalogue::embedded()?;
        let contract = Contract::v1()?;
        let mut generator = Generator::new(&catalogue, "bench-test-x-".into(), 7);
        let batches = generator.batches(1_001, 100);
        assert_eq!(batches.len(), 11);
        assert_eq!(batches[10].events.len(), 1);
        for batch in &batches {
            let body: Vec<Value> = serde_json::from_slice(&batch.body)?;
            assert_eq!(body.len(), batch.events.len());
            for (event, value) in batch.events.iter().zip(&body) {
                let valid = contract
                    .validate(value, Utc::now(), &catalogue)
                    .map_err(|v| anyhow::anyhow!("{v:?}"))?;
                assert_eq!(valid.event_type.system(), batch.system);
                assert_eq!(serde_json::to_vec(value)?, event.json);
            }
        }
        assert_eq!(batches[3].events[0].event_id, "bench-test-x-000000300");
        Ok(())
    }
}
