use super::*;
use crate::clock::ymd;
use serde_json::json;

fn ev(id: &str, kind: &str, at: &str, unit: &str, payload: Value) -> Value {
    json!({"event_id": id, "event_type": kind, "occurred_at": at, "unit_code": unit, "payload": payload})
}

fn received(id: &str, at: &str, due: &str, channel: &str) -> Value {
    ev(
        &format!("{id}:rcv"),
        "dossier.received",
        at,
        "244",
        json!({"dossier_id": id, "procedure_code": "1.004227", "channel": channel, "due_at": due}),
    )
}

fn simple(id: &str, kind: &str, at: &str) -> Value {
    ev(
        &format!("{id}:{kind}:{at}"),
        &format!("dossier.{kind}"),
        at,
        "244",
        json!({"dossier_id": id}),
    )
}

fn report(events: &[Value], from: NaiveDate, to: NaiveDate) -> anyhow::Result<Report> {
    Ok(figures(events, from, to, None)?)
}

#[test]
fn documents_count_once_per_unit_and_id_with_local_dates() -> anyhow::Result<()> {
    let doc = |id: &str, kind: &str, at: &str, unit: &str, signed: Option<bool>| {
        let mut payload = json!({"document_id": "VB-1"});
        if let Some(s) = signed {
            payload["signed"] = json!(s);
        }
        ev(id, kind, at, unit, payload)
    };
    let events = vec![
        doc(
            "a",
            "document.received",
            "2021-03-01T09:00:00+07:00",
            "26",
            None,
        ),
        doc(
            "b",
            "document.received",
            "2021-03-02T09:00:00+07:00",
            "26",
            None,
        ),
        // Same id at another unit: another document.
        doc(
            "c",
            "document.received",
            "2021-03-02T09:00:00+07:00",
            "243",
            None,
        ),
        // 2021-03-31T18:00Z is 1 April locally: outside March.
        doc(
            "d",
            "document.received",
            "2021-03-31T18:00:00Z",
            "08707",
            None,
        ),
        doc(
            "e",
            "document.issued",
            "2021-03-05T09:00:00+07:00",
            "243",
            Some(false),
        ),
        doc(
            "f",
            "document.issued",
            "2021-03-06T09:00:00+07:00",
            "243",
            Some(true),
        ),
        doc(
            "g",
            "document.issued",
            "2021-03-05T09:00:00+07:00",
            "08707",
            Some(true),
        ),
        doc(
            "h",
            "document.issued",
            "2021-04-05T09:00:00+07:00",
            "08710",
            Some(true),
        ),
        doc(
            "i",
            "document.issued",
            "2021-03-07T09:00:00+07:00",
            "08710",
            Some(false),
        ),
        doc(
            "j",
            "document.completed",
            "2021-03-07T09:00:00+07:00",
            "08710",
            None,
        ),
    ];
    let r = report(&events, ymd(2021, 3, 1), ymd(2021, 3, 31))?;
    assert_eq!(r.documents.province.incoming, 1);
    assert_eq!(r.documents.district.incoming, 1);
    assert_eq!(r.documents.commune.incoming, 0);
    assert_eq!(
        (
            r.documents.district.outgoing,
            r.documents.district.outgoing_signed
        ),
        (1, 1)
    );
    assert_eq!(
        (
            r.documents.commune.outgoing,
            r.documents.commune.outgoing_signed
        ),
        (2, 1)
    );
    assert_eq!(r.documents.total.signed_rate, Some(2.0 / 3.0));
    assert_eq!(r.documents.province.signed_rate, None);
    Ok(())
}

#[test]
fn dossier_states_at_the_end_of_the_period() -> anyhow::Result<()> {
    let (from, to) = (ymd(2021, 3, 1), ymd(2021, 3, 31));
    let events = vec![
        // early, online
        received(
            "A",
            "2021-03-01T09:00:00+07:00",
            "2021-03-05T17:00:00+07:00",
            "online",
        ),
        simple("A", "resolved", "2021-03-04T09:00:00+07:00"),
        // on time, resolved twice: the first counts
        received(
            "B",
            "2021-03-01T09:00:00+07:00",
            "2021-03-05T17:00:00+07:00",
            "direct",
        ),
        simple("B", "resolved", "2021-03-05T16:00:00+07:00"),
        simple("B", "resolved", "2021-03-09T16:00:00+07:00"),
        // late
        received(
            "C",
            "2021-03-01T09:00:00+07:00",
            "2021-03-05T17:00:00+07:00",
            "direct",
        ),
        simple("C", "resolved", "2021-03-08T09:00:00+07:00"),
        // supplement moves the due date: on time
        received(
            "D",
            "2021-03-01T09:00:00+07:00",
            "2021-03-05T17:00:00+07:00",
            "direct",
        ),
        simple("D", "supplement_requested", "2021-03-02T09:00:00+07:00"),
        ev(
            "D:sr",
            "dossier.supplement_received",
            "2021-03-10T09:00:00+07:00",
            "244",
            json!({"dossier_id": "D", "due_at": "2021-03-15T17:00:00+07:00"}),
        ),
        simple("D", "resolved", "2021-03-15T09:00:00+07:00"),
        // pending overdue
        received(
            "E",
            "2021-03-01T09:00:00+07:00",
            "2021-03-05T17:00:00+07:00",
            "postal",
        ),
        // paused: pending in time even though its due date passed
        received(
            "F",
            "2021-03-01T09:00:00+07:00",
            "2021-03-05T17:00:00+07:00",
            "direct",
        ),
        simple("F", "supplement_requested", "2021-03-03T09:00:00+07:00"),
        // due after the period: pending in time
        received(
            "G",
            "2021-03-30T09:00:00+07:00",
            "2021-04-05T17:00:00+07:00",
            "online",
        ),
        // refused: received and in period only
        received(
            "H",
            "2021-03-01T09:00:00+07:00",
            "2021-03-05T17:00:00+07:00",
            "online",
        ),
        simple("H", "refused", "2021-03-02T09:00:00+07:00"),
        // carried over, resolved late in the period
        received(
            "I",
            "2021-02-20T09:00:00+07:00",
            "2021-02-26T17:00:00+07:00",
            "direct",
        ),
        simple("I", "resolved", "2021-03-02T09:00:00+07:00"),
        // resolved before the period: neither received nor carried over
        received(
            "J",
            "2021-02-20T09:00:00+07:00",
            "2021-02-26T17:00:00+07:00",
            "direct",
        ),
        simple("J", "resolved", "2021-02-25T09:00:00+07:00"),
        // received after the period: nothing
        received(
            "K",
            "2021-04-01T09:00:00+07:00",
            "2021-04-05T17:00:00+07:00",
            "direct",
        ),
        // no received event: nothing
        simple("L", "resolved", "2021-03-02T09:00:00+07:00"),
        // resolved after the period: pending overdue at its end
        received(
            "M",
            "2021-03-01T09:00:00+07:00",
            "2021-03-05T17:00:00+07:00",
            "direct",
        ),
        simple("M", "resolved", "2021-04-02T09:00:00+07:00"),
        // supplement received after the period does not count: still paused
        received(
            "N",
            "2021-03-01T09:00:00+07:00",
            "2021-03-05T17:00:00+07:00",
            "direct",
        ),
        simple("N", "supplement_requested", "2021-03-03T09:00:00+07:00"),
        ev(
            "N:sr",
            "dossier.supplement_received",
            "2021-03-31T17:30:00Z",
            "244",
            json!({"dossier_id": "N", "due_at": "2021-04-09T17:00:00+07:00"}),
        ),
    ];
    let r = report(&events, from, to)?;
    let d = &r.dossiers.district;
    assert_eq!(d.received, 10, "{d:?}");
    assert_eq!(d.carried_over, 1);
    assert_eq!(d.in_period, 11);
    assert_eq!(d.resolved_early, 1);
    assert_eq!(d.resolved_on_time, 2);
    assert_eq!(d.resolved_late, 2);
    assert_eq!(d.pending_overdue, 2);
    assert_eq!(d.pending_in_time, 3);
    assert_eq!(d.due, 7);
    assert_eq!(d.online, 3);
    assert_eq!(d.on_time_rate, Some(3.0 / 7.0));
    assert_eq!(r.dossiers.total, {
        let mut t = *d;
        t.finish();
        t
    });
    assert_eq!(r.dossiers.province.on_time_rate, None);
    Ok(())
}

#[test]
fn unit_filter_and_serialized_shape() -> anyhow::Result<()> {
    let events = vec![received(
        "A",
        "2021-03-01T09:00:00+07:00",
        "2021-03-05T17:00:00+07:00",
        "online",
    )];
    let only: HashSet<String> = ["000.00.02.H62".to_owned()].into();
    let mut reference = Reference::new()?;
    for e in &events {
        reference.add(e)?;
    }
    let filtered = reference.report(ymd(2021, 3, 1), ymd(2021, 3, 31), Some(&only));
    assert_eq!(filtered.dossiers.total.received, 0);
    let text = serde_json::to_value(&filtered)?;
    assert_eq!(
        text["period"],
        json!({"from": "2021-03-01", "to": "2021-03-31"})
    );
    assert_eq!(
        text["documents"]["province"],
        json!({"incoming": 0, "outgoing": 0, "outgoing_signed": 0, "signed_rate": null})
    );
    let keys: Vec<&str> = text["dossiers"]["total"]
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(keys.len(), 12);
    Ok(())
}

#[test]
fn bad_events_are_errors() -> anyhow::Result<()> {
    let mut reference = Reference::new()?;
    assert!(reference
        .add(&ev(
            "x",
            "dossier.received",
            "2021-03-01T09:00:00+07:00",
            "99999",
            json!({"dossier_id": "A"})
        ))
        .is_err());
    assert!(reference
        .add(&ev(
            "x",
            "dossier.resolved",
            "yesterday",
            "244",
            json!({"dossier_id": "A"})
        ))
        .is_err());
    assert!(reference.add_json(b"{\"event_type\": 1}").is_err());
    Ok(())
}
