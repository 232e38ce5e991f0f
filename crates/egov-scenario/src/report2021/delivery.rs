//! Delivery: the natural order in which the events reach the API, with late
//! synchronisations, units offline for a week, and resends.

use super::Builder;
use crate::clock::{self, instant, local_day, ymd};
use egov_model::Level;
use rand::Rng;

impl Builder<'_> {
    /// The natural order: by arrival, with late synchronisations, a few units
    /// offline for a week, and resends.
    pub(super) fn deliver(&mut self) {
        let mut rng = self.rng(400);
        for ev in &mut self.events {
            if ev.deliver == ev.at {
                let lag = if ev.kind.is_document() { 90 } else { 300 };
                ev.deliver = ev.at + rng.random_range(0..lag);
            }
            if rng.random_bool(0.012) {
                ev.deliver = ev.at + rng.random_range(3_600..14 * 86_400);
            }
        }
        // Five communes offline for a week each, synchronised on Sunday evening.
        let communes: Vec<u16> = self
            .units
            .iter()
            .enumerate()
            .filter(|(_, u)| u.level == Level::Commune)
            .map(|(i, _)| i as u16)
            .collect();
        let mut offline = Vec::new();
        for _ in 0..5 {
            if let Some(unit) = communes.get(rng.random_range(0..communes.len().max(1))) {
                let monday = clock::day_of(ymd(2021, 3, 1)) + 7 * rng.random_range(0..30);
                offline.push((*unit, monday));
            }
        }
        let docs = &self.docs;
        let dossiers = &self.dossiers;
        for ev in &mut self.events {
            let unit = if ev.kind.is_document() {
                docs.get(ev.entity as usize).map(|d| d.unit)
            } else {
                dossiers.get(ev.entity as usize).map(|d| d.unit)
            };
            let day = local_day(ev.at);
            for (u, monday) in &offline {
                if unit == Some(*u) && (*monday..*monday + 7).contains(&day) {
                    ev.deliver = instant(*monday + 6, 20 * 3600) + rng.random_range(0..4 * 3600);
                }
            }
        }
        for (i, ev) in self.events.iter_mut().enumerate() {
            ev.uid = i as u32;
        }
        let distinct = self.events.len();
        self.composition.distinct_events = distinct as u64;
        self.composition.delayed_events = self
            .events
            .iter()
            .filter(|e| e.deliver - e.at > 3_600)
            .count() as u64;
        for ev in self.events.iter().take(distinct) {
            *self
                .composition
                .events_by_type
                .entry(ev.kind.event_type().as_str().to_owned())
                .or_default() += 1;
        }
        // Resends: the same event again, in a later batch.
        for i in 0..distinct {
            if rng.random_bool(0.015) {
                let mut copy = self.events[i];
                copy.copy = 1;
                copy.deliver += rng.random_range(300..5 * 86_400);
                self.events.push(copy);
                if rng.random_bool(0.15) {
                    copy.copy = 2;
                    copy.deliver += rng.random_range(3_600..20 * 86_400);
                    self.events.push(copy);
                }
            }
        }
        self.composition.resent_copies = (self.events.len() - distinct) as u64;
        self.composition.events = self.events.len() as u64;
        self.events
            .sort_unstable_by_key(|e| (e.deliver, e.uid, e.copy));
    }
}
