//! Request bodies: events of one source system serialised as a JSON array.

use egov_model::System;
use serde_json::Value;
use std::collections::HashSet;

/// Default events per request.
pub const DEFAULT_BATCH_SIZE: usize = 2_000;

/// One request body: a JSON array of events of one source system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub system: System,
    /// Events in the body.
    pub events: usize,
    /// The JSON array (gzip-compressed when `gzipped`).
    pub body: Vec<u8>,
    pub gzipped: bool,
}

impl Batch {
    fn start(system: System) -> Self {
        Self {
            system,
            events: 0,
            body: b"[".to_vec(),
            gzipped: false,
        }
    }

    fn finish(mut self) -> Self {
        self.body.push(b']');
        self
    }

    /// The events of the body, parsed (for tests and diagnostics).
    pub fn to_values(&self) -> Result<Vec<Value>, std::io::Error> {
        let text = if self.gzipped {
            use std::io::Read;
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(self.body.as_slice()).read_to_end(&mut out)?;
            out
        } else {
            self.body.clone()
        };
        serde_json::from_slice(&text).map_err(std::io::Error::other)
    }

    /// Compresses the body with gzip (for `Content-Encoding: gzip`).
    pub fn gzip(mut self) -> Result<Self, std::io::Error> {
        if self.gzipped {
            return Ok(self);
        }
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(
            Vec::with_capacity(self.body.len() / 6),
            flate2::Compression::fast(),
        );
        encoder.write_all(&self.body)?;
        self.body = encoder.finish()?;
        self.gzipped = true;
        Ok(self)
    }
}

/// The system an event type belongs to (`document.*` or `dossier.*`).
pub fn system_of(event_type: &str) -> System {
    if event_type.starts_with("document.") {
        System::Documents
    } else {
        System::Onestop
    }
}

/// Splits a stream of serialised events into batches per system, keeping the
/// order within each system. An event whose identity is already in the open
/// batch of its system (a resend) closes that batch first: the ingest API
/// refuses the same `event_id` twice in one request.
#[derive(Debug)]
pub struct Batcher<K> {
    batch_size: usize,
    open: [Option<(Batch, HashSet<K>)>; 2],
}

fn slot(system: System) -> usize {
    match system {
        System::Documents => 0,
        System::Onestop => 1,
    }
}

impl<K: std::hash::Hash + Eq> Batcher<K> {
    pub fn new(batch_size: usize) -> Self {
        Self {
            batch_size: batch_size.max(1),
            open: [None, None],
        }
    }

    /// Adds one event written by `write`; returns the batches that are full.
    pub fn push(
        &mut self,
        system: System,
        identity: K,
        write: impl FnOnce(&mut Vec<u8>),
    ) -> Vec<Batch> {
        let mut done = Vec::new();
        let open = &mut self.open[slot(system)];
        if open
            .as_ref()
            .is_some_and(|(_, ids)| ids.contains(&identity))
        {
            if let Some((batch, _)) = open.take() {
                done.push(batch.finish());
            }
        }
        let (batch, ids) = open.get_or_insert_with(|| {
            (
                Batch::start(system),
                HashSet::with_capacity(self.batch_size),
            )
        });
        if batch.events > 0 {
            batch.body.push(b',');
        }
        write(&mut batch.body);
        batch.events += 1;
        ids.insert(identity);
        if batch.events >= self.batch_size {
            if let Some((batch, _)) = open.take() {
                done.push(batch.finish());
            }
        }
        done
    }

    /// The batches still open.
    pub fn flush(&mut self) -> Vec<Batch> {
        self.open
            .iter_mut()
            .filter_map(|open| open.take().map(|(batch, _)| batch.finish()))
            .collect()
    }
}

/// Batches of JSON events (sample and random scenarios); an event's identity
/// is its system and `event_id`.
pub fn batches_of_values(events: &[Value], batch_size: usize) -> Vec<Batch> {
    let mut batcher = Batcher::<String>::new(batch_size);
    let mut out = Vec::new();
    for event in events {
        let event_type = event
            .get("event_type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let id = event
            .get("event_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        out.extend(batcher.push(system_of(event_type), id.to_owned(), |body| {
            // Writing a Value into a Vec cannot fail.
            serde_json::to_writer(body, event).ok();
        }));
    }
    out.extend(batcher.flush());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn batches_split_per_system_and_never_repeat_an_id() -> anyhow::Result<()> {
        let e = |id: &str, t: &str| json!({"event_id": id, "event_type": t});
        let events = vec![
            e("a", "document.received"),
            e("b", "dossier.received"),
            e("a", "document.received"),
            e("c", "document.issued"),
            e("d", "document.issued"),
            e("e", "document.issued"),
        ];
        let batches = batches_of_values(&events, 3);
        let shapes: Vec<(System, usize)> = batches.iter().map(|b| (b.system, b.events)).collect();
        assert_eq!(
            shapes,
            vec![
                (System::Documents, 1),
                (System::Documents, 3),
                (System::Documents, 1),
                (System::Onestop, 1)
            ]
        );
        let all: Vec<Value> = batches
            .iter()
            .map(|b| b.to_values())
            .collect::<Result<Vec<_>, _>>()?
            .concat();
        assert_eq!(all.len(), events.len());
        let gz = batches[1].clone().gzip()?;
        assert!(gz.gzipped);
        assert_eq!(gz.to_values()?, batches[1].to_values()?);
        Ok(())
    }
}
