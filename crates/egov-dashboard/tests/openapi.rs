//! `schemas/dashboard-openapi.json` is kept equal to the code: its paths are
//! the router's API paths, and what each answers (built from the types the
//! handlers serialise) is valid against the schema it documents.

use chrono::{NaiveDate, Utc};
use egov_analytics::figures::{contract_example, Period};
use egov_analytics::LateDossier;
use egov_dashboard::pages::late::LateList;
use egov_dashboard::pages::pipeline::{DeadLetters, GroupLag, Lag, MinuteCount, PipelineData};
use egov_dashboard::pages::unit::{PeriodFigures, UnitData, UnitInfo};
use egov_dashboard::{API, OPENAPI_JSON};
use egov_model::Level;
use egov_runtime::stall::Stage;
use serde_json::{json, Value};
use std::collections::BTreeSet;

fn openapi() -> anyhow::Result<Value> {
    Ok(serde_json::from_str(OPENAPI_JSON)?)
}

fn validator(name: &str) -> anyhow::Result<jsonschema::Validator> {
    let doc = openapi()?;
    let schema = json!({
        "$ref": format!("#/components/schemas/{name}"),
        "components": doc["components"],
    });
    Ok(jsonschema::validator_for(&schema)?)
}

/// Validates `value` against `#/components/schemas/{name}` of the document.
fn check(name: &str, value: &Value) -> anyhow::Result<()> {
    let validator = validator(name)?;
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{name}: {errors:?}\n{value:#}");
    Ok(())
}

fn day(m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2021, m, d).unwrap_or_default()
}

#[test]
fn the_documented_paths_are_the_routes() -> anyhow::Result<()> {
    let doc = openapi()?;
    assert_eq!(doc["openapi"], "3.1.0");
    let documented: BTreeSet<String> = doc["paths"]
        .as_object()
        .map(|paths| paths.keys().cloned().collect())
        .unwrap_or_default();
    let served: BTreeSet<String> = API.iter().map(|p| (*p).to_owned()).collect();
    assert_eq!(documented, served);
    Ok(())
}

#[test]
fn the_answers_match_their_schemas() -> anyhow::Result<()> {
    let report = contract_example();
    check("Report", &serde_json::to_value(&report)?)?;

    let figures = |from, to| PeriodFigures {
        period: Period { from, to },
        documents: report.documents.total,
        dossiers: report.dossiers.total,
    };
    let unit = UnitData {
        unit: UnitInfo {
            code: "08707".into(),
            name: "Phường Tích Sơn".into(),
            level: Level::Commune,
            kind: "commune".into(),
            district_code: Some("243".into()),
            parent_code: Some("243".into()),
        },
        figures: figures(day(1, 1), day(3, 31)),
        months: vec![
            figures(day(1, 1), day(1, 31)),
            figures(day(2, 1), day(2, 28)),
        ],
        late_dossiers: LateList::new(
            vec![
                LateDossier {
                    dossier_id: "H1".into(),
                    procedure_code: "1.001".into(),
                    received: day(3, 1),
                    due: day(3, 5),
                    resolved: None,
                    working_days_late: 10,
                },
                LateDossier {
                    dossier_id: "H2".into(),
                    procedure_code: "1.002".into(),
                    received: day(3, 1),
                    due: day(3, 5),
                    resolved: Some(day(3, 9)),
                    working_days_late: 2,
                },
            ],
            &report.dossiers.total,
        ),
    };
    let unit_json = serde_json::to_value(&unit)?;
    check("Unit", &unit_json)?;
    assert_eq!(
        unit_json["late_dossiers"]["total"], 3,
        "resolved_late + pending_overdue"
    );
    assert_eq!(
        unit_json["late_dossiers"]["dossiers"][0]["resolved"],
        Value::Null
    );
    assert_eq!(
        unit_json["late_dossiers"]["dossiers"][1]["resolved"],
        "2021-03-09"
    );
    let mut wrong = unit_json.clone();
    wrong["late_dossiers"]["dossiers"][0]["working_days_late"] = json!(-1);
    assert!(!validator("Unit")?.is_valid(&wrong));

    let pipeline = PipelineData {
        at: Utc::now(),
        events_per_minute: vec![MinuteCount {
            minute: Utc::now(),
            documents: 3,
            onestop: 0,
        }],
        last_insert: Some(Utc::now()),
        last_ingested: None,
        consumer_lag: vec![
            GroupLag {
                stage: Stage::Transform,
                group: "egov-transform".into(),
                topic: "egov.raw.v1".into(),
                lag: Lag {
                    lag: Some(0),
                    error: None,
                },
            },
            GroupLag {
                stage: Stage::Load,
                group: "egov-load".into(),
                topic: "egov.curated.v1".into(),
                lag: Lag {
                    lag: None,
                    error: Some("kafka: timed out".into()),
                },
            },
        ],
        dead_letters: DeadLetters {
            topic: "egov.dlq.v1".into(),
            messages: Some(2),
            error: None,
        },
    };
    check("Pipeline", &serde_json::to_value(&pipeline)?)?;

    let scorecard = egov_analytics::scorecard::build(
        &egov_analytics::ScorecardRequest {
            from: day(1, 1),
            to: day(3, 31),
            level: None,
        },
        &egov_model::Catalogue::embedded()?,
        &Default::default(),
        &Default::default(),
        &Default::default(),
    );
    check("Scorecard", &serde_json::to_value(&scorecard)?)?;

    let error = egov_dashboard::DashboardError::BadRequest("no".into());
    check(
        "Error",
        &json!({"error": error.code(), "message": error.to_string()}),
    )?;
    // And the schemas do refuse what they do not describe.
    assert!(!validator("Error")?.is_valid(&json!({"error": "nope", "message": ""})));
    let mut wrong = serde_json::to_value(&report)?;
    wrong["dossiers"]["total"]["on_time_rate"] = json!("90%");
    assert!(!validator("Report")?.is_valid(&wrong));
    Ok(())
}
