//! The demo's small fixed sample of both systems. Its event ids are fixed, so
//! pushing it again changes no figure.

use serde_json::{json, Value};

fn event(
    event_id: String,
    event_type: &str,
    occurred_at: &str,
    unit_code: &str,
    payload: Value,
) -> Value {
    json!({
        "event_id": event_id,
        "event_type": event_type,
        "occurred_at": occurred_at,
        "unit_code": unit_code,
        "schema_version": 1,
        "payload": payload,
    })
}

/// Incoming and outgoing documents at each level.
pub fn sample_documents() -> Vec<Value> {
    let units = [
        ("000.00.01.H62", "province"),
        ("243", "district"),
        ("08707", "commune"),
    ];
    let mut events = Vec::new();
    for (u, (unit, level)) in units.iter().enumerate() {
        for n in 0..4 {
            let day = 10 + u + n;
            events.push(event(
                format!("sample:doc-in:{level}:{n}"),
                "document.received",
                &format!("2021-03-{day:02}T09:15:00+07:00"),
                unit,
                json!({"document_id": format!("VB-DEN-{level}-{n}"), "sender": "UBND tỉnh Vĩnh Phúc", "channel": "national_axis"}),
            ));
        }
        for n in 0..3 {
            events.push(event(
                format!("sample:doc-out:{level}:{n}"),
                "document.issued",
                &format!("2021-03-{:02}T14:30:00+07:00", 20 + n),
                unit,
                json!({"document_id": format!("VB-DI-{level}-{n}"), "signed": n != 2, "signature": {"personal": true, "organization": n != 2}}),
            ));
        }
    }
    events
}

/// Dossiers received at each level, most resolved early or on time, one late,
/// one still pending.
pub fn sample_dossiers() -> Vec<Value> {
    let units = [
        ("000.00.02.H62", "province"),
        ("244", "district"),
        ("08734", "commune"),
    ];
    let mut events = Vec::new();
    for (unit, level) in units {
        for n in 0..4 {
            let dossier_id = format!("HS-{level}-{n}");
            events.push(event(
                format!("sample:dossier-in:{level}:{n}"),
                "dossier.received",
                &format!("2021-05-{:02}T08:00:00+07:00", 3 + n),
                unit,
                json!({"dossier_id": dossier_id, "procedure_code": "1.001234", "channel": if n == 0 { "online" } else { "direct" }, "service_level": 3, "applicant_type": "citizen", "due_at": format!("2021-05-{:02}T17:00:00+07:00", 10 + n)}),
            ));
            if n < 3 {
                // n = 2 is resolved a day after its due date.
                let resolved_day = if n == 2 { 13 } else { 8 + n };
                events.push(event(
                    format!("sample:dossier-done:{level}:{n}"),
                    "dossier.resolved",
                    &format!("2021-05-{resolved_day:02}T10:00:00+07:00"),
                    unit,
                    json!({"dossier_id": dossier_id}),
                ));
            }
        }
    }
    events
}
