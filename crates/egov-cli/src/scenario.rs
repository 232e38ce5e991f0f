//! Scenario generators: event streams pushed through the HTTP API the way a
//! source system would, retrying 503 answers after `Retry-After`.

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::time::Duration;

#[derive(Debug, Subcommand)]
pub enum ScenarioCommand {
    /// A small fixed sample of both systems (the demo's). Its event ids are
    /// fixed, so pushing it again changes no figure.
    Sample(Target),
}

#[derive(Debug, Args)]
pub struct Target {
    /// Base URL of the ingest service.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    #[arg(long, default_value = "local-documents", env = "EGOV_DOCUMENTS_TOKEN")]
    documents_token: String,
    #[arg(long, default_value = "local-onestop", env = "EGOV_ONESTOP_TOKEN")]
    onestop_token: String,
}

pub async fn run(command: ScenarioCommand) -> anyhow::Result<()> {
    match command {
        ScenarioCommand::Sample(target) => {
            let client = reqwest::Client::new();
            let documents = push(
                &client,
                &target.url,
                &target.documents_token,
                &sample_documents(),
            )
            .await?;
            let dossiers = push(
                &client,
                &target.url,
                &target.onestop_token,
                &sample_dossiers(),
            )
            .await?;
            println!("sample pushed: documents system accepted {documents} events, one-stop system accepted {dossiers} events");
            Ok(())
        }
    }
}

/// Posts `events` as one JSON array; returns how many were accepted.
pub async fn push(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    events: &[Value],
) -> anyhow::Result<u64> {
    let endpoint = format!("{}/v1/events", url.trim_end_matches('/'));
    for attempt in 1..=10u32 {
        let response = client
            .post(&endpoint)
            .bearer_auth(token)
            .json(events)
            .send()
            .await
            .with_context(|| format!("POST {endpoint}"))?;
        let status = response.status();
        if status == reqwest::StatusCode::SERVICE_UNAVAILABLE {
            let wait = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(1);
            eprintln!("ingest answered 503 (attempt {attempt}); retrying in {wait}s");
            tokio::time::sleep(Duration::from_secs(wait)).await;
            continue;
        }
        let body: Value = response
            .json()
            .await
            .with_context(|| format!("reading the answer of {endpoint}"))?;
        if !status.is_success() {
            bail!("ingest answered {status}: {body}");
        }
        if body["rejected"].as_u64().unwrap_or(0) > 0 {
            bail!("ingest rejected events: {}", body["errors"]);
        }
        return Ok(body["accepted"].as_u64().unwrap_or(0));
    }
    bail!("ingest stayed unavailable after 10 attempts")
}

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
