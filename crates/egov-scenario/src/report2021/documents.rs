//! Documents: exactly the report's incoming, outgoing and signed documents
//! per level in the documents window, the weeks around it, and the edge cases
//! at its boundaries.

use super::plan::{DocChannel, DocPlan, Kind};
use super::samplers::{geometric, level_slot, office_second, Picker};
use super::targets::{DOCUMENTS_WINDOW, DOCUMENT_TARGETS};
use super::Builder;
use crate::clock::{self, instant, local_day, ymd, Day};
use crate::ScenarioError;
use egov_model::Level;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

impl Builder<'_> {
    pub(super) fn doc_channel(
        &self,
        rng: &mut ChaCha8Rng,
        level: Level,
        working: bool,
    ) -> DocChannel {
        let u = rng.random::<f64>();
        let electronic_only = !working;
        match level {
            Level::Province => match u {
                u if u < 0.35 => DocChannel::NationalAxis,
                u if u < 0.85 => DocChannel::ProvincialAxis,
                u if u < 0.92 || electronic_only => DocChannel::Email,
                _ => DocChannel::Paper,
            },
            Level::District => match u {
                u if u < 0.05 => DocChannel::NationalAxis,
                u if u < 0.76 => DocChannel::ProvincialAxis,
                u if u < 0.84 || electronic_only => DocChannel::Email,
                _ => DocChannel::Paper,
            },
            Level::Commune => match u {
                u if u < 0.75 => DocChannel::ProvincialAxis,
                u if u < 0.85 || electronic_only => DocChannel::Email,
                _ => DocChannel::Paper,
            },
        }
    }

    pub(super) fn doc_time(&self, rng: &mut ChaCha8Rng, day: Day, channel: DocChannel) -> i64 {
        let electronic = channel != DocChannel::Paper;
        if electronic && (!self.cal.is_working(day) || rng.random_bool(0.06)) {
            // Documents on the axes arrive at any hour.
            instant(day, rng.random_range(0..86_400))
        } else {
            instant(day, office_second(rng))
        }
    }

    pub(super) fn add_doc(
        &mut self,
        unit: u16,
        incoming: bool,
        channel: DocChannel,
        first_at: i64,
    ) -> u32 {
        let index = self.docs.len() as u32;
        self.docs.push(DocPlan {
            first_at,
            unit,
            incoming,
            channel,
            seq: 0,
        });
        index
    }

    pub(super) fn maybe_completed(&mut self, rng: &mut ChaCha8Rng, doc: u32, received_at: i64) {
        if rng.random_bool(0.08) {
            let day = self
                .cal
                .add_working(local_day(received_at), geometric(rng, 5.0, 40));
            if let Some(at) = self.time_after(rng, day, received_at) {
                self.push(Kind::DocumentCompleted, at, doc, 0);
            }
        }
    }

    pub(super) fn incoming_doc(&mut self, rng: &mut ChaCha8Rng, level: Level, unit: u16, day: Day) {
        let channel = self.doc_channel(rng, level, self.cal.is_working(day));
        let at = self.doc_time(rng, day, channel);
        let doc = self.add_doc(unit, true, channel, at);
        self.push(Kind::DocumentReceived, at, doc, 0);
        self.maybe_completed(rng, doc, at);
    }

    pub(super) fn outgoing_doc(
        &mut self,
        rng: &mut ChaCha8Rng,
        unit: u16,
        day: Day,
        signed: bool,
    ) -> (u32, i64) {
        let channel = if signed {
            match rng.random::<f64>() {
                u if u < 0.25 => DocChannel::NationalAxis,
                u if u < 0.85 => DocChannel::ProvincialAxis,
                _ => DocChannel::Email,
            }
        } else if rng.random_bool(0.8) {
            DocChannel::Paper
        } else {
            DocChannel::Email
        };
        let at = instant(day, office_second(rng));
        let doc = self.add_doc(unit, false, channel, at);
        self.push(Kind::DocumentIssued { signed }, at, doc, 0);
        (doc, at)
    }

    pub(super) fn documents(&mut self) -> Result<(), ScenarioError> {
        let (from, to) = (
            clock::day_of(DOCUMENTS_WINDOW.from),
            clock::day_of(DOCUMENTS_WINDOW.to),
        );
        let (before_from, after_to) = (
            clock::day_of(ymd(2020, 12, 24)),
            clock::day_of(ymd(2021, 12, 31)),
        );
        for (level, incoming, outgoing, signed) in DOCUMENT_TARGETS {
            let mut rng = self.rng(100 + level_slot(level) as u64);
            let of_level = || {
                self.units
                    .iter()
                    .enumerate()
                    .filter(move |(_, u)| u.level == level)
            };
            let receivers = Picker::new(of_level().map(|(i, u)| (i as u16, u.weight)));
            let issuers = Picker::new(of_level().map(|(i, u)| {
                (
                    i as u16,
                    if u.code == "26" {
                        u.weight * 1.8
                    } else {
                        u.weight
                    },
                )
            }));
            let no_unit = || ScenarioError::Plan(format!("no unit at level {level}"));
            let mass = self.doc_days.mass(from, to);
            let before = self.doc_days.mass(before_from, from - 1) / mass;
            let after = self.doc_days.mass(to + 1, after_to) / mass;

            // Incoming, in the window.
            for i in 0..incoming {
                let unit = receivers.pick(&mut rng).ok_or_else(no_unit)?;
                if i < 8 {
                    // New Year's night on the national axis: 1 January locally,
                    // still 31 December in UTC.
                    let at = instant(from, rng.random_range(0..7 * 3600));
                    let channel = if level == Level::Province {
                        DocChannel::NationalAxis
                    } else {
                        DocChannel::Email
                    };
                    let doc = self.add_doc(unit, true, channel, at);
                    self.push(Kind::DocumentReceived, at, doc, 0);
                    continue;
                }
                if i < 13 {
                    // Registered in the last days of 2020 and again in January.
                    let first = self
                        .pick_working(&mut rng, clock::day_of(ymd(2020, 12, 28)), from - 1)
                        .unwrap_or(from - 1);
                    let second = self
                        .pick_working(&mut rng, from, from + 7)
                        .unwrap_or(from + 3);
                    let at = instant(first, office_second(&mut rng));
                    let doc = self.add_doc(unit, true, DocChannel::ProvincialAxis, at);
                    self.push(Kind::DocumentReceived, at, doc, 0);
                    let again = instant(second, office_second(&mut rng));
                    self.push(Kind::DocumentReceived, again, doc, 1);
                    continue;
                }
                let day = self.doc_days.sample(&mut rng, from, to).unwrap_or(from);
                let before_len = self.events.len();
                self.incoming_doc(&mut rng, level, unit, day);
                if rng.random_bool(0.002) {
                    // Registered twice (the second registration a few days later).
                    let again = self.cal.add_working(day, rng.random_range(1..4));
                    if let Some(first) = self.events.get(before_len).copied() {
                        if again <= to {
                            let at = instant(again, office_second(&mut rng));
                            self.push(Kind::DocumentReceived, at, first.entity, 1);
                        }
                    }
                }
            }

            // Outgoing, in the window: exactly `signed` of them signed.
            let unsigned_total = (outgoing - signed) as usize;
            let mut unsigned = vec![false; outgoing as usize];
            for flag in unsigned.iter_mut().take(10) {
                *flag = true;
            }
            for i in rand::seq::index::sample(
                &mut rng,
                outgoing as usize - 10,
                unsigned_total.saturating_sub(10),
            ) {
                unsigned[i + 10] = true;
            }
            for (i, is_unsigned) in unsigned.iter().enumerate() {
                let unit = issuers.pick(&mut rng).ok_or_else(no_unit)?;
                if i < 5 {
                    // Signed and issued in December 2020, issued again unsigned in
                    // January: outgoing in 2021, but not signed in 2021.
                    let first = self
                        .pick_working(&mut rng, clock::day_of(ymd(2020, 12, 28)), from - 1)
                        .unwrap_or(from - 1);
                    let (doc, _) = self.outgoing_doc(&mut rng, unit, first, true);
                    let second = self
                        .pick_working(&mut rng, from, from + 7)
                        .unwrap_or(from + 3);
                    let at = instant(second, office_second(&mut rng));
                    self.push(Kind::DocumentIssued { signed: false }, at, doc, 1);
                    continue;
                }
                if i < 10 {
                    // Issued unsigned in December, signed after the cut-off.
                    let first = self.pick_working(&mut rng, to - 7, to).unwrap_or(to);
                    let (doc, _) = self.outgoing_doc(&mut rng, unit, first, false);
                    let second = self
                        .pick_working(&mut rng, to + 1, to + 9)
                        .unwrap_or(to + 1);
                    let at = instant(second, office_second(&mut rng));
                    self.push(Kind::DocumentIssued { signed: true }, at, doc, 1);
                    continue;
                }
                let day = self.doc_days.sample(&mut rng, from, to).unwrap_or(from);
                let signed = !is_unsigned;
                let variant = rng.random::<f64>();
                let again = self.cal.add_working(day, rng.random_range(1..4));
                if signed && variant < 0.003 && again <= to {
                    // First issued on paper, then the digitally signed version.
                    let (doc, _) = self.outgoing_doc(&mut rng, unit, day, false);
                    let at = instant(again, office_second(&mut rng));
                    self.push(Kind::DocumentIssued { signed: true }, at, doc, 1);
                } else if signed && variant < 0.004 && again <= to {
                    // Issued twice (a corrected version).
                    let (doc, _) = self.outgoing_doc(&mut rng, unit, day, true);
                    let at = instant(again, office_second(&mut rng));
                    self.push(Kind::DocumentIssued { signed: true }, at, doc, 1);
                } else {
                    self.outgoing_doc(&mut rng, unit, day, signed);
                }
            }

            // The weeks around the window.
            let signed_share = f64::from(signed) / f64::from(outgoing);
            for (lo, hi, share) in [(before_from, from - 1, before), (to + 1, after_to, after)] {
                let n_in = (f64::from(incoming) * share).round() as u32;
                let n_out = (f64::from(outgoing) * share).round() as u32;
                for _ in 0..n_in {
                    let unit = receivers.pick(&mut rng).ok_or_else(no_unit)?;
                    let day = self.doc_days.sample(&mut rng, lo, hi).unwrap_or(lo);
                    self.incoming_doc(&mut rng, level, unit, day);
                }
                for _ in 0..n_out {
                    let unit = issuers.pick(&mut rng).ok_or_else(no_unit)?;
                    let day = self.doc_days.sample(&mut rng, lo, hi).unwrap_or(lo);
                    let signed = rng.random_bool(signed_share);
                    self.outgoing_doc(&mut rng, unit, day, signed);
                }
            }
            // The night after the cut-off: 16 December locally, 15 December in UTC.
            for _ in 0..8 {
                let unit = receivers.pick(&mut rng).ok_or_else(no_unit)?;
                let at = instant(to + 1, rng.random_range(0..7 * 3600));
                let doc = self.add_doc(unit, true, DocChannel::Email, at);
                self.push(Kind::DocumentReceived, at, doc, 0);
            }
        }
        self.number_documents();
        Ok(())
    }

    /// Numbers documents per unit, direction and year in time order.
    pub(super) fn number_documents(&mut self) {
        let mut order: Vec<u32> = (0..self.docs.len() as u32).collect();
        let docs = &self.docs;
        order.sort_unstable_by_key(|i| {
            let d = &docs[*i as usize];
            (d.unit, d.incoming, d.first_at, *i)
        });
        let mut last = (u16::MAX, false, 0);
        let mut seq = 0u32;
        for i in order {
            let d = &mut self.docs[i as usize];
            let key = (d.unit, d.incoming, clock::year_of(local_day(d.first_at)));
            if key != last {
                last = key;
                seq = 0;
            }
            seq += 1;
            d.seq = seq;
        }
    }

    pub(super) fn document_composition(&mut self) {
        let (from, to) = (
            clock::day_of(DOCUMENTS_WINDOW.from),
            clock::day_of(DOCUMENTS_WINDOW.to),
        );
        for doc in &self.docs {
            let level = self
                .units
                .get(usize::from(doc.unit))
                .map_or(Level::Province, |u| u.level);
            let inside = (from..=to).contains(&local_day(doc.first_at));
            let key = match (doc.incoming, inside) {
                (true, true) => "incoming_first_in_window",
                (true, false) => "incoming_first_outside_window",
                (false, true) => "outgoing_first_in_window",
                (false, false) => "outgoing_first_outside_window",
            };
            *self
                .composition
                .documents
                .entry(level.as_str().to_owned())
                .or_default()
                .entry(key.to_owned())
                .or_default() += 1;
        }
    }
}
