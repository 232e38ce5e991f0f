//! `egov scorecard` through the whole pipeline: random scenarios (shuffled,
//! duplicated, out of order) plus a unit that stops sending events, one whose
//! dossiers are all resolved late and one that never sends anything. The
//! scorecard's units sum to `egov report`'s figures per level and in total,
//! each unit's figures equal an independent computation for that unit alone,
//! and silence, flags and null rates are where they belong.

use egov_analytics::scorecard::{self, Flag, Scorecard, ScorecardRequest};
use egov_analytics::ReportRequest;
use egov_model::{Catalogue, Level};
use egov_runtime::config::ScorecardSection;
use egov_scenario::random::STANDARD_PERIOD;
use egov_tests::scorecard::assert_sums_equal_report;
use egov_tests::Pipeline;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

/// Sends documents until 10 September 2021, then nothing (silent by the 30th).
const SILENT_UNIT: &str = "08830";
/// Resolves every dossier a week after its due date (flagged), and sent a
/// document on 29 September (not silent).
const LATE_UNIT: &str = "08848";
/// Never sends anything.
const QUIET_UNIT: &str = "08851";

fn event(id: String, event_type: &str, occurred_at: String, unit: &str, payload: Value) -> Value {
    json!({
        "event_id": id,
        "event_type": event_type,
        "occurred_at": occurred_at,
        "unit_code": unit,
        "schema_version": 1,
        "payload": payload,
    })
}

fn crafted_events() -> Vec<Value> {
    let mut events = Vec::new();
    for day in 1..=10 {
        events.push(event(
            format!("scorecard:silent:{day}"),
            "document.issued",
            format!("2021-09-{day:02}T10:00:00+07:00"),
            SILENT_UNIT,
            json!({"document_id": format!("VB-S-{day}"), "signed": true}),
        ));
    }
    for n in 1..=4 {
        let dossier = format!("HS-LATE-{n}");
        events.push(event(
            format!("scorecard:late:rcv:{n}"),
            "dossier.received",
            format!("2021-06-{:02}T08:00:00+07:00", n),
            LATE_UNIT,
            json!({"dossier_id": dossier, "procedure_code": "1.001234", "channel": "direct",
                   "due_at": format!("2021-06-{:02}T17:00:00+07:00", 8 + n)}),
        ));
        events.push(event(
            format!("scorecard:late:done:{n}"),
            "dossier.resolved",
            format!("2021-06-{:02}T10:00:00+07:00", 15 + n),
            LATE_UNIT,
            json!({"dossier_id": dossier}),
        ));
    }
    events.push(event(
        "scorecard:late:doc".into(),
        "document.received",
        "2021-09-29T09:00:00+07:00".into(),
        LATE_UNIT,
        json!({"document_id": "VB-L-1", "channel": "paper"}),
    ));
    events
}

fn unit<'a>(card: &'a Scorecard, code: &str) -> anyhow::Result<&'a scorecard::UnitScore> {
    card.units
        .iter()
        .find(|u| u.code == code)
        .ok_or_else(|| anyhow::anyhow!("unit {code} is not in the scorecard"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scorecard_sums_to_the_report_and_marks_silent_late_and_empty_units() -> anyhow::Result<()>
{
    let catalogue = Catalogue::embedded()?;
    let settings = ScorecardSection::default();
    for seed in [4u64, 5] {
        let scenario = egov_scenario::random::random_scenario_with_window(seed, 1_500);
        let mut events = scenario.events.clone();
        events.extend(crafted_events());
        let pipeline = Pipeline::start(&format!("scorecard{seed}")).await?;
        pipeline
            .push_and_wait(&events, Duration::from_secs(60))
            .await?;
        let client = egov_runtime::clickhouse::query_client(&pipeline.settings.clickhouse)?;
        let database = &pipeline.settings.clickhouse.database;
        for (from, to) in [(scenario.from, scenario.to), STANDARD_PERIOD] {
            let request = ScorecardRequest {
                from,
                to,
                level: None,
            };
            // The report equals the independent computation (once the last
            // insert's rollup rows are in), and the scorecard sums to it.
            pipeline.wait_for_figures(&events, from, to).await?;
            let clickhouse = &pipeline.settings.clickhouse;
            let report = egov_analytics::report(
                clickhouse,
                &ReportRequest {
                    from,
                    to,
                    unit: None,
                },
            )
            .await?;
            let card =
                scorecard::scorecard(&client, database, &catalogue, &request, &settings).await?;
            assert_eq!(
                card.units.len(),
                catalogue.len(),
                "every unit, {from}..{to}"
            );
            assert_sums_equal_report(&card, &report)?;
            // Each unit's own figures: the independent computation for that unit alone.
            for score in &card.units {
                let only = HashSet::from([score.code.clone()]);
                let own = egov_scenario::reference::figures(&events, from, to, Some(&only))?;
                let own = serde_json::to_value(&own)?;
                let level = score.level.as_str();
                assert_eq!(
                    serde_json::to_value(score.documents)?,
                    own["documents"][level],
                    "documents of {}, seed {seed}, {from}..{to}",
                    score.code
                );
                assert_eq!(
                    serde_json::to_value(score.dossiers)?,
                    own["dossiers"][level],
                    "dossiers of {}, seed {seed}, {from}..{to}",
                    score.code
                );
            }
            // Nothing to rate: no rate, no rank, no flag, never silent.
            let quiet = unit(&card, QUIET_UNIT)?;
            let quiet_json = serde_json::to_value(quiet)?;
            for (section, rate) in [
                ("documents", "signed_rate"),
                ("dossiers", "on_time_rate"),
                ("dossiers", "online_share"),
            ] {
                assert_eq!(quiet_json[section][rate], Value::Null, "{section}.{rate}");
            }
            assert_eq!(quiet_json["rank"], Value::Null);
            assert_eq!(
                quiet_json["last_event_at"],
                json!({"documents": null, "onestop": null})
            );
            assert!(!quiet.silent && quiet.flags.is_empty());
            // Ranks within each level are 1.. in order, for the units with a rate.
            for level in Level::ALL {
                let ranks: Vec<u32> = card
                    .units
                    .iter()
                    .filter(|u| u.level == level)
                    .filter_map(|u| u.rank)
                    .collect();
                assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{level}: {ranks:?}");
                assert_eq!(ranks.first().copied().unwrap_or(1), 1, "{level}");
            }
        }
        let (from, to) = STANDARD_PERIOD;
        let request = ScorecardRequest {
            from,
            to,
            level: Some(Level::Commune),
        };
        let card = scorecard::scorecard(&client, database, &catalogue, &request, &settings).await?;
        assert!(card.units.iter().all(|u| u.level == Level::Commune));
        let silent = unit(&card, SILENT_UNIT)?;
        assert!(silent.silent, "{silent:?}");
        assert_eq!(
            serde_json::to_value(&silent.last_event_at)?,
            json!({"documents": "2021-09-10T10:00:00.000+07:00", "onestop": null})
        );
        let late = unit(&card, LATE_UNIT)?;
        assert_eq!(late.dossiers.resolved_late, 4);
        assert_eq!(late.dossiers.on_time_rate, Some(0.0));
        assert_eq!(late.flags, [Flag::LowOnTimeRate]);
        assert!(!late.silent, "{late:?}");
        // Ten days later the late unit has been quiet for long enough too.
        let later = ScorecardRequest {
            from,
            to: to + chrono::Days::new(7),
            level: Some(Level::Commune),
        };
        let card = scorecard::scorecard(&client, database, &catalogue, &later, &settings).await?;
        assert!(unit(&card, LATE_UNIT)?.silent);
        pipeline.stop().await?;
    }
    Ok(())
}

/// `egov migrate`'s read-only user for the dashboard: nothing without a
/// password; on ClickHouse 18.16 (no SQL users) not created, said so, and the
/// dashboard reads as `clickhouse.user` (read-only); on a server with SQL
/// users created, then dropped by the test.
#[tokio::test]
async fn the_dashboard_user_is_made_where_the_server_allows() -> anyhow::Result<()> {
    use egov_tools::read_only_user::{ensure, ReadOnlyUser};
    let settings = egov_tests::unique_settings("rouser")?;
    let mut dashboard = settings.dashboard.clone();
    dashboard.clickhouse_user = format!("egov_test_{}", uuid::Uuid::new_v4().simple());
    assert_eq!(
        ensure(&settings.clickhouse, &dashboard).await?,
        ReadOnlyUser::NotConfigured
    );
    dashboard.clickhouse_password = egov_runtime::config::Secret::new("s3cret");
    let has_users = egov_runtime::clickhouse::has_sql_users(&settings.clickhouse).await?;
    let version: String = egov_runtime::clickhouse::server_client(&settings.clickhouse)?
        .query("SELECT version()")
        .fetch_one()
        .await?;
    let outcome = ensure(&settings.clickhouse, &dashboard).await?;
    let reads_as = dashboard.clickhouse(&settings.clickhouse, has_users);
    assert!(reads_as.read_only);
    if has_users {
        let drop = format!("DROP USER IF EXISTS `{}`", dashboard.clickhouse_user);
        egov_runtime::clickhouse::server_client(&settings.clickhouse)?
            .query(&drop)
            .execute()
            .await?;
        assert_eq!(
            outcome,
            ReadOnlyUser::Ensured {
                user: dashboard.clickhouse_user.clone()
            }
        );
        assert_eq!(reads_as.user, dashboard.clickhouse_user);
    } else {
        assert!(version.starts_with("18."), "no SQL users on {version}");
        assert_eq!(
            outcome,
            ReadOnlyUser::NoSqlUsers {
                user: dashboard.clickhouse_user.clone()
            }
        );
        assert_eq!(reads_as.user, settings.clickhouse.user);
    }
    Ok(())
}
