//! Dossiers: per group (district and commune level, the Service Center)
//! exactly the report's numbers of each cohort and fate, each given a life
//! (see `lifecycle`); then their channels, with exactly the report's online
//! share, and their numbers.

use super::plan::{Applicant, DossierChannel, DossierPlan, Kind};
use super::samplers::{level_slot, Picker};
use super::targets::{Cohort, Fate, GroupSpec, FATES, LAST_RECEIPT, ONESTOP_WINDOW, ONLINE_SHARE};
use super::Builder;
use crate::clock::{self, local_day, Day};
use crate::procedures::{Tier, PROCEDURES};
use crate::units::SERVICE_CENTER;
use crate::ScenarioError;
use egov_model::Level;
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Dossier mode of choosing procedures: dossiers that stay open long are
/// more often of long procedures.
#[derive(Clone, Copy)]
pub(super) enum Mode {
    Plain,
    Duration,
    Long,
}

pub(super) struct Group {
    pub(super) spec: &'static GroupSpec,
    pub(super) from: Day,
    pub(super) to: Day,
    procedures: [Picker<(Level, u16)>; 3],
    units: [Picker<u16>; 3],
}

impl Group {
    pub(super) fn procedure(&self, rng: &mut ChaCha8Rng, mode: Mode) -> Option<(Level, u16)> {
        let slot = match mode {
            Mode::Plain => 0,
            Mode::Duration => 1,
            Mode::Long => 2,
        };
        self.procedures[slot].pick(rng)
    }

    pub(super) fn unit(&self, rng: &mut ChaCha8Rng, level: Level) -> Option<u16> {
        self.units[level_slot(level)].pick(rng)
    }
}

#[derive(Clone, Copy)]
pub(super) struct DossierMeta {
    pub(super) cohort: Cohort,
    pub(super) level: Level,
    pub(super) forced_online: bool,
}

impl Builder<'_> {
    pub(super) fn group(&self, spec: &'static GroupSpec) -> Result<Group, ScenarioError> {
        let mut entries = [Vec::new(), Vec::new(), Vec::new()];
        for (tier, share) in spec.tiers {
            let total: f64 = PROCEDURES
                .iter()
                .filter(|p| p.tier == *tier)
                .map(|p| p.weight)
                .sum();
            let level = match tier {
                Tier::Center => Level::Province,
                Tier::District => Level::District,
                Tier::Commune => Level::Commune,
            };
            for (i, p) in PROCEDURES
                .iter()
                .enumerate()
                .filter(|(_, p)| p.tier == *tier)
            {
                let base = share * p.weight / total;
                let days = f64::from(p.days);
                entries[0].push(((level, i as u16), base));
                entries[1].push(((level, i as u16), base * (days + 1.0)));
                entries[2].push(((level, i as u16), base * (days + 3.0)));
            }
        }
        let [plain, duration, long] = entries;
        let picker_of = |level: Level| {
            Picker::new(
                self.units
                    .iter()
                    .enumerate()
                    .filter(|(_, u)| {
                        u.level == level && (level != Level::Province || u.code == SERVICE_CENTER)
                    })
                    .map(|(i, u)| (i as u16, u.weight)),
            )
        };
        let units = [
            picker_of(Level::Province),
            picker_of(Level::District),
            picker_of(Level::Commune),
        ];
        if units[0].items.is_empty() {
            return Err(ScenarioError::MissingUnit(SERVICE_CENTER.into()));
        }
        Ok(Group {
            spec,
            from: clock::day_of(ONESTOP_WINDOW.from),
            to: clock::day_of(spec.to),
            procedures: [Picker::new(plain), Picker::new(duration), Picker::new(long)],
            units,
        })
    }

    pub(super) fn add_dossier(
        &mut self,
        g: &Group,
        cohort: Cohort,
        fate: Fate,
        boundary: Option<Day>,
        rng: &mut ChaCha8Rng,
    ) -> Result<(), ScenarioError> {
        const ATTEMPTS: u32 = 2_000;
        for _ in 0..ATTEMPTS {
            let Some(draft) = self.try_dossier(g, cohort, fate, boundary, rng) else {
                continue;
            };
            let index = self.dossiers.len() as u32;
            self.dossiers.push(DossierPlan {
                received_at: draft.received_at,
                unit: draft.unit,
                procedure: draft.procedure,
                seq: 0,
                channel: DossierChannel::Direct,
                applicant: Applicant::Citizen,
            });
            self.meta.push(DossierMeta {
                cohort,
                level: draft.level,
                forced_online: draft.forced_online,
            });
            let resolved_at = draft
                .events
                .iter()
                .find(|e| e.kind == Kind::Resolved && e.ordinal == 0)
                .map(|e| e.at);
            // Late synchronisation: the receipt reaches the pipeline after the result.
            let late_sync = resolved_at
                .filter(|_| rng.random_bool(0.01))
                .map(|at| at + rng.random_range(3_600..3 * 86_400));
            for step in draft.events {
                self.push(step.kind, step.at, index, step.ordinal);
                if matches!(step.kind, Kind::Received { .. }) {
                    if let (Some(deliver), Some(ev)) = (late_sync, self.events.last_mut()) {
                        ev.deliver = deliver;
                        self.composition.received_after_resolved += 1;
                    }
                }
            }
            let key = format!("{}/{}", cohort.as_str(), fate.as_str());
            *self
                .composition
                .dossiers
                .entry(g.spec.name.to_owned())
                .or_default()
                .entry(key)
                .or_default() += 1;
            return Ok(());
        }
        Err(ScenarioError::Plan(format!(
            "no dossier of fate {fate:?} ({cohort:?}, {}) after {ATTEMPTS} attempts",
            g.spec.name
        )))
    }

    pub(super) fn dossier_group(
        &mut self,
        spec: &'static GroupSpec,
        index: u8,
    ) -> Result<(), ScenarioError> {
        let g = self.group(spec)?;
        let mut rng = self.rng(200 + u64::from(index));
        for (fate, (received, carried)) in FATES
            .iter()
            .zip(spec.received.iter().zip(spec.carried_over.iter()))
        {
            for i in 0..*received {
                // A few receipts online in the night of New Year's Day (still
                // 31 December in UTC).
                let boundary = (*fate == Fate::ResolvedEarly && i < 12).then_some(g.from);
                self.add_dossier(&g, Cohort::Received, *fate, boundary, &mut rng)?;
            }
            for _ in 0..*carried {
                self.add_dossier(&g, Cohort::CarriedOver, *fate, None, &mut rng)?;
            }
        }
        for _ in 0..spec.closed_2020 {
            self.add_dossier(&g, Cohort::Closed2020, Fate::Free, None, &mut rng)?;
        }
        // After the window, at the same pace.
        let received: u32 = spec.received.iter().sum();
        let pace = f64::from(received) / self.dossier_days.mass(g.from, g.to);
        let after = (pace
            * self
                .dossier_days
                .mass(g.to + 1, clock::day_of(LAST_RECEIPT)))
        .round() as u32;
        for i in 0..after {
            // A few online in the night after the cut-off (the cut-off day in UTC).
            let boundary = (i < 12).then_some(g.to + 1);
            self.add_dossier(&g, Cohort::After, Fate::Free, boundary, &mut rng)?;
        }
        Ok(())
    }

    /// Channels: exactly [`ONLINE_SHARE`] of the dossiers received in
    /// [`ONESTOP_WINDOW`] are online (more at the Center, fewer in communes);
    /// receipts on days off or outside office hours are online anyway.
    pub(super) fn channels(&mut self) -> Result<(), ScenarioError> {
        let mut rng = self.rng(300);
        let (f, t) = (
            clock::day_of(ONESTOP_WINDOW.from),
            clock::day_of(ONESTOP_WINDOW.to),
        );
        let in_window: Vec<bool> = self
            .dossiers
            .iter()
            .zip(&self.meta)
            .map(|(d, m)| {
                let day = local_day(d.received_at);
                m.cohort == Cohort::Received && (f..=t).contains(&day)
            })
            .collect();
        let count = |level: Level| {
            in_window
                .iter()
                .zip(&self.meta)
                .filter(|(w, m)| **w && m.level == level)
                .count() as f64
        };
        let (n_p, n_d, n_c) = (
            count(Level::Province),
            count(Level::District),
            count(Level::Commune),
        );
        let total = (ONLINE_SHARE * (n_p + n_d + n_c)).round();
        let province = (0.13 * n_p).round();
        let rest = total - province;
        let commune = (rest * n_c / (n_c + 1.4 * n_d)).round();
        let quotas = [province, rest - commune, commune];
        for level in Level::ALL {
            let quota = quotas[level_slot(level)] as usize;
            let mut forced = 0usize;
            let mut eligible = Vec::new();
            for (i, (w, m)) in in_window.iter().zip(&self.meta).enumerate() {
                if !*w || m.level != level {
                    continue;
                }
                if m.forced_online {
                    forced += 1;
                    self.dossiers[i].channel = DossierChannel::Online;
                } else if PROCEDURES
                    .get(usize::from(self.dossiers[i].procedure))
                    .is_some_and(|p| p.service_level >= 3)
                {
                    eligible.push(i);
                }
            }
            let wanted = quota.checked_sub(forced).ok_or_else(|| {
                ScenarioError::Plan(format!(
                    "{forced} dossiers at {level} level must be online, more than the quota of {quota}"
                ))
            })?;
            if wanted > eligible.len() {
                return Err(ScenarioError::Plan(format!(
                    "only {} dossiers at {level} level can be online, {wanted} needed",
                    eligible.len()
                )));
            }
            eligible.shuffle(&mut rng);
            for i in eligible.into_iter().take(wanted) {
                self.dossiers[i].channel = DossierChannel::Online;
            }
        }
        let outside_share = [0.13, 0.08, 0.055];
        for (i, (w, m)) in in_window.iter().zip(&self.meta).enumerate() {
            let d = &mut self.dossiers[i];
            let p = PROCEDURES.get(usize::from(d.procedure));
            if !*w
                && (m.forced_online
                    || (p.is_some_and(|p| p.service_level >= 3)
                        && rng.random_bool(outside_share[level_slot(m.level)])))
            {
                d.channel = DossierChannel::Online;
            }
            if d.channel != DossierChannel::Online && rng.random_bool(0.015) {
                d.channel = DossierChannel::Postal;
            }
            let (business, organization) = p.map_or((0.0, 0.0), |p| (p.business, p.organization));
            let u = rng.random::<f64>();
            d.applicant = if u < business {
                Applicant::Business
            } else if u < business + organization {
                Applicant::Organization
            } else {
                Applicant::Citizen
            };
            *self
                .composition
                .dossier_channels
                .entry(d.channel.as_str().to_owned())
                .or_default() += 1;
        }
        Ok(())
    }

    /// Numbers dossiers per unit and day of receipt, in receipt order.
    pub(super) fn number_dossiers(&mut self) {
        let mut order: Vec<u32> = (0..self.dossiers.len() as u32).collect();
        let dossiers = &self.dossiers;
        order.sort_unstable_by_key(|i| {
            let d = &dossiers[*i as usize];
            (d.unit, d.received_at, *i)
        });
        let mut last = (u16::MAX, 0);
        let mut seq = 0u16;
        for i in order {
            let d = &mut self.dossiers[i as usize];
            let key = (d.unit, local_day(d.received_at));
            if key != last {
                last = key;
                seq = 0;
            }
            seq = seq.saturating_add(1);
            d.seq = seq;
        }
    }
}
