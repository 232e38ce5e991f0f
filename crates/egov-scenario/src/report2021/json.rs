//! The JSON of an event, as contract v1 has it: typed per kind of event and
//! written by serde, batch by batch.

use super::plan::{Applicant, DocChannel, DossierChannel, Ev, Kind};
use super::samplers::{level_slot, mix};
use super::Report2021;
use crate::clock::{self, local_day, Day};
use crate::procedures::PROCEDURES;
use crate::units::UnitInfo;
use egov_model::Level;
use serde::{Serialize, Serializer};
use std::fmt;

/// Who sends incoming documents, per level of the receiving unit.
pub(super) fn senders(units: &[UnitInfo]) -> [Vec<String>; 3] {
    let ministries = [
        "Văn phòng Chính phủ",
        "Bộ Thông tin và Truyền thông",
        "Bộ Nội vụ",
        "Bộ Tài chính",
        "Bộ Kế hoạch và Đầu tư",
        "Bộ Y tế",
        "Bộ Tài nguyên và Môi trường",
        "Bộ Giáo dục và Đào tạo",
        "Tỉnh ủy Vĩnh Phúc",
        "Ban Chỉ đạo phòng, chống dịch COVID-19 tỉnh",
    ];
    let agencies: Vec<String> = units
        .iter()
        .filter(|u| u.kind == "agency")
        .map(|u| u.name.clone())
        .collect();
    let committees: Vec<String> = units
        .iter()
        .filter(|u| u.level == Level::District)
        .map(|u| format!("Ủy ban nhân dân {}", u.name))
        .collect();
    let province = "Ủy ban nhân dân tỉnh Vĩnh Phúc".to_owned();
    let mut p: Vec<String> = ministries.iter().map(|s| (*s).to_owned()).collect();
    p.extend(agencies.iter().cloned());
    p.extend(committees.iter().take(4).cloned());
    p.push(province.clone());
    let mut d = vec![province.clone(), province.clone()];
    d.extend(agencies.iter().cloned());
    d.push("Tỉnh ủy Vĩnh Phúc".to_owned());
    let mut c = vec![province];
    c.extend(committees);
    c.extend(agencies.iter().take(8).cloned());
    [p, d, c]
}

/// Text made by one of the byte writers of [`clock`].
fn write_text(f: &mut fmt::Formatter<'_>, write: impl FnOnce(&mut Vec<u8>)) -> fmt::Result {
    let mut buf = Vec::with_capacity(32);
    write(&mut buf);
    f.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?)
}

/// Serialises a value as the string its `Display` writes.
macro_rules! serialize_as_text {
    ($($ty:ty),*) => {$(
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }
    )*};
}
serialize_as_text!(LocalTime, DueAt, EntityId<'_>, EventId<'_>);

/// An instant in local time, RFC 3339: `2021-03-04T09:15:00+07:00`.
struct LocalTime(i64);

impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_text(f, |out| clock::write_local_rfc3339(out, self.0))
    }
}

/// A due day: the end of office hours (17:00 local) of that day.
struct DueAt(Day);

impl fmt::Display for DueAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_text(f, |out| clock::write_date(out, self.0))?;
        f.write_str("T17:00:00+07:00")
    }
}

/// A document's or a dossier's id, as the source systems number them.
enum EntityId<'a> {
    /// `UNIT-VBDEN-YYYY-NNNNNN` (incoming) or `UNIT-VBDI-YYYY-NNNNNN`.
    Document {
        unit: &'a str,
        incoming: bool,
        year: i32,
        seq: u32,
    },
    /// `UNIT-YYMMDD-NNNN`, the day of receipt.
    Dossier {
        unit: &'a str,
        received: Day,
        seq: u16,
    },
    /// An entity the plan does not have (never happens).
    Missing,
}

impl fmt::Display for EntityId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            EntityId::Document {
                unit,
                incoming,
                year,
                seq,
            } => {
                let direction = if incoming { "VBDEN" } else { "VBDI" };
                write!(f, "{unit}-{direction}-{year:04}-{seq:06}")
            }
            EntityId::Dossier {
                unit,
                received,
                seq,
            } => {
                write!(f, "{unit}-")?;
                write_text(f, |out| clock::write_yymmdd(out, received))?;
                write!(f, "-{seq:04}")
            }
            EntityId::Missing => Ok(()),
        }
    }
}

/// `ENTITY:TAGn`: the entity, the kind of event and its ordinal.
struct EventId<'a> {
    entity: EntityId<'a>,
    tag: &'static str,
    ordinal: u8,
}

impl fmt::Display for EventId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}{}", self.entity, self.tag, self.ordinal)
    }
}

/// The envelope of contract v1.
#[derive(Serialize)]
struct EventJson<'a> {
    event_id: EventId<'a>,
    event_type: &'static str,
    occurred_at: LocalTime,
    unit_code: &'a str,
    schema_version: u8,
    payload: Payload<'a>,
}

#[derive(Serialize)]
struct Signature {
    personal: bool,
    organization: bool,
}

/// The payload of each kind of event, fields in the order they are written.
#[derive(Serialize)]
#[serde(untagged)]
enum Payload<'a> {
    DocumentReceived {
        document_id: EntityId<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        sender: Option<&'a str>,
        channel: DocChannel,
        priority: u8,
        #[serde(skip_serializing_if = "Option::is_none")]
        due_at: Option<DueAt>,
    },
    DocumentIssued {
        document_id: EntityId<'a>,
        signed: bool,
        signature: Signature,
        channel: DocChannel,
    },
    Document {
        document_id: EntityId<'a>,
    },
    DossierReceived {
        dossier_id: EntityId<'a>,
        procedure_code: &'static str,
        field_code: &'static str,
        channel: DossierChannel,
        service_level: u8,
        applicant_type: Applicant,
        due_at: DueAt,
    },
    /// `dossier.supplement_received` (and a `dossier.received` whose
    /// procedure the plan does not have: never happens).
    DossierDue {
        dossier_id: EntityId<'a>,
        due_at: DueAt,
    },
    DossierClosed {
        dossier_id: EntityId<'a>,
        reason: &'static str,
    },
    Dossier {
        dossier_id: EntityId<'a>,
    },
}

impl Report2021 {
    /// The code of plan unit `unit` in province `province` (0-based).
    fn unit_code(&self, unit: u16, province: u16) -> &str {
        let index = usize::from(province) * self.units.len() + usize::from(unit);
        self.codes.get(index).map_or("", String::as_str)
    }

    fn entity_id(&self, ev: &Ev, province: u16) -> EntityId<'_> {
        if ev.kind.is_document() {
            self.docs
                .get(ev.entity as usize)
                .map_or(EntityId::Missing, |doc| EntityId::Document {
                    unit: self.unit_code(doc.unit, province),
                    incoming: doc.incoming,
                    year: clock::year_of(local_day(doc.first_at)),
                    seq: doc.seq,
                })
        } else {
            self.dossiers
                .get(ev.entity as usize)
                .map_or(EntityId::Missing, |dossier| EntityId::Dossier {
                    unit: self.unit_code(dossier.unit, province),
                    received: local_day(dossier.received_at),
                    seq: dossier.seq,
                })
        }
    }

    fn payload(&self, ev: &Ev, unit: u16, province: u16) -> Payload<'_> {
        let entity = || self.entity_id(ev, province);
        // Details that do not change a figure, drawn from the document's index.
        let h = mix(self.seed ^ (u64::from(ev.entity) << 20) ^ 0xd0c);
        let doc_channel = || {
            self.docs
                .get(ev.entity as usize)
                .map_or(DocChannel::Paper, |d| d.channel)
        };
        match ev.kind {
            Kind::DocumentReceived => {
                let level = self
                    .units
                    .get(usize::from(unit))
                    .map_or(Level::Province, |u| u.level);
                let senders = &self.senders[level_slot(level)];
                Payload::DocumentReceived {
                    document_id: entity(),
                    sender: senders
                        .get((h >> 24) as usize % senders.len().max(1))
                        .map(String::as_str),
                    channel: doc_channel(),
                    priority: match h % 100 {
                        0..70 => 0,
                        70..90 => 1,
                        90..98 => 2,
                        _ => 3,
                    },
                    due_at: ((h >> 8) % 100 < 40).then(|| {
                        DueAt(
                            self.calendar
                                .add_working(local_day(ev.at), 5 + ((h >> 16) % 11) as u32),
                        )
                    }),
                }
            }
            Kind::DocumentIssued { signed } => {
                let channel = doc_channel();
                Payload::DocumentIssued {
                    document_id: entity(),
                    signed,
                    signature: Signature {
                        personal: signed && (h >> 32) % 20 != 0,
                        organization: signed,
                    },
                    // An unsigned document goes on paper unless it was e-mailed.
                    channel: if !signed && channel != DocChannel::Email {
                        DocChannel::Paper
                    } else {
                        channel
                    },
                }
            }
            Kind::DocumentCompleted => Payload::Document {
                document_id: entity(),
            },
            Kind::Received { due } => {
                let dossier = self.dossiers.get(ev.entity as usize);
                let procedure = dossier.and_then(|d| PROCEDURES.get(usize::from(d.procedure)));
                match (dossier, procedure) {
                    (Some(d), Some(p)) => Payload::DossierReceived {
                        dossier_id: entity(),
                        procedure_code: p.code,
                        field_code: p.field,
                        channel: d.channel,
                        service_level: p.service_level,
                        applicant_type: d.applicant,
                        due_at: DueAt(due),
                    },
                    _ => Payload::DossierDue {
                        dossier_id: entity(),
                        due_at: DueAt(due),
                    },
                }
            }
            Kind::SupplementReceived { due } => Payload::DossierDue {
                dossier_id: entity(),
                due_at: DueAt(due),
            },
            Kind::Refused => Payload::DossierClosed {
                dossier_id: entity(),
                reason: "Hồ sơ không đủ điều kiện giải quyết theo quy định",
            },
            Kind::Withdrawn => Payload::DossierClosed {
                dossier_id: entity(),
                reason: "Người nộp hồ sơ có đơn xin rút hồ sơ",
            },
            Kind::SupplementRequested | Kind::Resolved | Kind::Returned => Payload::Dossier {
                dossier_id: entity(),
            },
        }
    }

    /// The code of the unit that sends `ev` in province `province` (0-based).
    pub(super) fn event_unit_code(&self, ev: &Ev, province: u16) -> &str {
        self.unit_code(self.plan_unit(ev), province)
    }

    /// The plan's index of the unit of `ev`'s document or dossier.
    fn plan_unit(&self, ev: &Ev) -> u16 {
        if ev.kind.is_document() {
            self.docs.get(ev.entity as usize).map_or(0, |d| d.unit)
        } else {
            self.dossiers.get(ev.entity as usize).map_or(0, |d| d.unit)
        }
    }

    /// Appends the event's JSON, as province `province` (0-based) sends
    /// it, to `out`: the same event in every province but for the unit codes
    /// (and so the ids, which start with them).
    pub(super) fn write_event(&self, ev: &Ev, province: u16, out: &mut Vec<u8>) {
        let unit = self.plan_unit(ev);
        let event = EventJson {
            event_id: EventId {
                entity: self.entity_id(ev, province),
                tag: ev.kind.tag(),
                ordinal: ev.ordinal,
            },
            event_type: ev.kind.event_type().as_str(),
            occurred_at: LocalTime(ev.at),
            unit_code: self.unit_code(unit, province),
            schema_version: 1,
            payload: self.payload(ev, unit, province),
        };
        // Serialising into a Vec cannot fail: every field is written infallibly.
        serde_json::to_writer(out, &event).ok();
    }
}
