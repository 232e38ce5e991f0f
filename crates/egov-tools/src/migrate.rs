//! `egov migrate`: versioned, idempotent DDL from `schemas/clickhouse/`, and the
//! unit catalogue loaded into `units`.

use clickhouse::Row;
use egov_model::catalogue::Catalogue;
use egov_model::time::date_to_days;
use egov_runtime::clickhouse::{ident, query_client, server_client};
use egov_runtime::config::ClickHouseConfig;
use serde::Serialize;
use tracing::info;

/// The migrations in order; each statement is idempotent on its own.
pub const MIGRATIONS: [(&str, &str); 8] = [
    (
        "001_events",
        include_str!("../../../schemas/clickhouse/001_events.sql"),
    ),
    (
        "002_units",
        include_str!("../../../schemas/clickhouse/002_units.sql"),
    ),
    (
        "003_holidays",
        include_str!("../../../schemas/clickhouse/003_holidays.sql"),
    ),
    (
        "004_dossier_state",
        include_str!("../../../schemas/clickhouse/004_dossier_state.sql"),
    ),
    (
        "005_events_by_unit",
        include_str!("../../../schemas/clickhouse/005_events_by_unit.sql"),
    ),
    (
        "006_rollups",
        include_str!("../../../schemas/clickhouse/006_rollups.sql"),
    ),
    (
        "007_dossier_days_packed",
        include_str!("../../../schemas/clickhouse/007_dossier_days_packed.sql"),
    ),
    (
        "008_dossier_days_plain",
        include_str!("../../../schemas/clickhouse/008_dossier_days_plain.sql"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("clickhouse, migration {migration}: {source}")]
    ClickHouse {
        migration: String,
        source: clickhouse::error::Error,
    },
    #[error("{0}: a date outside ClickHouse's Date range")]
    DateRange(String),
    #[error("seeds/{0}")]
    Holidays(#[from] egov_model::calendar::CalendarError),
}

#[derive(Debug, Row, serde::Deserialize)]
struct AppliedRow {
    version: String,
}

#[derive(Debug, Row, Serialize)]
struct HolidayRow {
    date: u16,
    name: String,
}

#[derive(Debug, Row, Serialize)]
struct UnitRow {
    code: String,
    level: String,
    kind: String,
    name: String,
    parent_code: String,
    district_code: String,
    valid_from: u16,
    valid_to: Option<u16>,
}

/// The statements of one migration, for `database`.
pub fn statements(sql: &str, database: &str) -> Vec<String> {
    // Comments go first: they may contain `;`.
    let code: Vec<&str> = sql
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect();
    code.join("\n")
        .replace("{database}", &ident(database))
        .split(';')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Creates the database and every table, then replaces the catalogue rows.
/// With `clickhouse.cluster`, on every server of the cluster (see [`crate::migrate_cluster`]).
pub async fn migrate(config: &ClickHouseConfig, catalogue: &Catalogue) -> Result<(), MigrateError> {
    let newly = match &config.cluster {
        Some(cluster) => crate::migrate_cluster::migrate_cluster(config, cluster).await?,
        None => migrate_server(config).await?,
    };
    load_units(config, catalogue).await?;
    load_holidays(config).await?;
    info!(database = %config.database, migrations = MIGRATIONS.len(), newly_applied = newly, units = catalogue.len(), "clickhouse schema up to date");
    Ok(())
}

/// One server: the migrations not applied yet, in order; how many were applied.
async fn migrate_server(config: &ClickHouseConfig) -> Result<usize, MigrateError> {
    let err = |migration: &str| {
        let migration = migration.to_owned();
        move |source| MigrateError::ClickHouse { migration, source }
    };
    server_client(config)
        .map_err(err("client"))?
        .query(&format!(
            "CREATE DATABASE IF NOT EXISTS {}",
            ident(&config.database)
        ))
        .execute()
        .await
        .map_err(err("create database"))?;
    let client = query_client(config).map_err(err("client"))?;
    // Which migrations this database has had; each is applied once, in order.
    client
        .query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version String, applied_at DateTime) \
             ENGINE = ReplacingMergeTree ORDER BY version",
        )
        .execute()
        .await
        .map_err(err("schema_migrations"))?;
    apply_pending(
        &client,
        "SELECT version FROM schema_migrations",
        &MIGRATIONS,
        |sql| statements(sql, &config.database),
    )
    .await
}

/// Runs, in order, each migration that `applied_query` (the versions in
/// `schema_migrations`) does not list, and records it once it ran; one server
/// and a cluster differ only in the query and in how a migration's SQL becomes
/// statements. Returns how many were applied.
pub(crate) async fn apply_pending(
    client: &clickhouse::Client,
    applied_query: &str,
    migrations: &[(&str, &str)],
    statements_of: impl Fn(&str) -> Vec<String>,
) -> Result<usize, MigrateError> {
    let err = |migration: &str| {
        let migration = migration.to_owned();
        move |source| MigrateError::ClickHouse { migration, source }
    };
    let applied: std::collections::HashSet<String> = client
        .query(applied_query)
        .fetch_all::<AppliedRow>()
        .await
        .map_err(err("schema_migrations"))?
        .into_iter()
        .map(|row| row.version)
        .collect();
    let mut newly = 0;
    for (name, sql) in migrations
        .iter()
        .filter(|(name, _)| !applied.contains(*name))
    {
        for statement in statements_of(sql) {
            client
                .query(&statement)
                .execute()
                .await
                .map_err(err(name))?;
        }
        client
            .query("INSERT INTO schema_migrations (version, applied_at) SELECT ?, now()")
            .bind(*name)
            .execute()
            .await
            .map_err(err(name))?;
        info!(migration = name, "migration applied");
        newly += 1;
    }
    Ok(newly)
}

/// For the rows `egov migrate` replaces on every run: a replicated table (cluster
/// mode) would take the same rows inserted again after `TRUNCATE` for a block it has
/// seen and drop them, so its insert deduplication is off.
fn catalogue_client(config: &ClickHouseConfig) -> clickhouse::error::Result<clickhouse::Client> {
    Ok(egov_runtime::clickhouse::insert_client(config)?.with_setting("insert_deduplicate", "0"))
}

async fn load_units(config: &ClickHouseConfig, catalogue: &Catalogue) -> Result<(), MigrateError> {
    let err = |source| MigrateError::ClickHouse {
        migration: "units".into(),
        source,
    };
    let client = query_client(config).map_err(err)?;
    // ALTER ... DELETE is asynchronous on 18.16; emptying by dropping the
    // partition-less MergeTree's data via TRUNCATE works on every version.
    client
        .query("TRUNCATE TABLE units")
        .execute()
        .await
        .map_err(err)?;
    let mut insert = catalogue_client(config)
        .map_err(err)?
        .insert::<UnitRow>("units")
        .await
        .map_err(err)?;
    for unit in catalogue.units() {
        let day = |d| {
            date_to_days(d).ok_or_else(|| MigrateError::DateRange(format!("unit `{}`", unit.code)))
        };
        let row = UnitRow {
            code: unit.code.clone(),
            level: unit.level.as_str().to_owned(),
            kind: unit.kind.clone(),
            name: unit.name.clone(),
            parent_code: unit.parent_code.clone().unwrap_or_default(),
            district_code: unit.district_code.clone().unwrap_or_default(),
            valid_from: day(unit.valid_from)?,
            valid_to: unit.valid_to.map(day).transpose()?,
        };
        insert.write(&row).await.map_err(err)?;
    }
    insert.end().await.map_err(err)?;
    Ok(())
}

/// The rows of `seeds/holidays.csv`, as the `holidays` table holds them.
fn holidays() -> Result<Vec<HolidayRow>, MigrateError> {
    egov_model::calendar::holidays()?
        .into_iter()
        .map(|row| {
            Ok(HolidayRow {
                date: date_to_days(row.date)
                    .ok_or_else(|| MigrateError::DateRange(format!("holiday {}", row.date)))?,
                name: row.name,
            })
        })
        .collect()
}

async fn load_holidays(config: &ClickHouseConfig) -> Result<(), MigrateError> {
    let err = |source| MigrateError::ClickHouse {
        migration: "holidays".into(),
        source,
    };
    let rows = holidays()?;
    query_client(config)
        .map_err(err)?
        .query("TRUNCATE TABLE holidays")
        .execute()
        .await
        .map_err(err)?;
    let mut insert = catalogue_client(config)
        .map_err(err)?
        .insert::<HolidayRow>("holidays")
        .await
        .map_err(err)?;
    for row in &rows {
        insert.write(row).await.map_err(err)?;
    }
    insert.end().await.map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rollup_backfill_selects_what_its_view_selects() {
        // 006, 007 and 008 repeat each view's SELECT as its backfill so that the
        // file runs as it is in any client; the two must stay the same.
        for (sql, rollups) in [
            (MIGRATIONS[5].1, 3),
            (MIGRATIONS[6].1, 1),
            (MIGRATIONS[7].1, 1),
        ] {
            let all = statements(sql, "egov_t");
            let views: Vec<(&str, &str)> = all
                .iter()
                .filter_map(|s| {
                    let rest = s.strip_prefix("CREATE MATERIALIZED VIEW IF NOT EXISTS ")?;
                    let (_, rest) = rest.split_once(" TO ")?;
                    rest.split_once(" AS\n")
                })
                .collect();
            assert_eq!(views.len(), rollups);
            for (table, select) in views {
                let backfill = format!("INSERT INTO {table}\n{select}");
                assert!(all.contains(&backfill), "no backfill of {table}");
            }
        }
    }

    #[test]
    fn statements_are_split_and_qualified() {
        let all: Vec<String> = MIGRATIONS
            .iter()
            .flat_map(|(_, sql)| statements(sql, "egov_t"))
            .collect();
        // 005 rebuilds `events` in five statements; 006 makes three rollups, their
        // three views and three backfills; 007 and 008 each drop two and make
        // dossier_days again.
        assert_eq!(all.len(), MIGRATIONS.len() + 4 + 8 + 4 + 4);
        assert!(all[0].contains("CREATE TABLE IF NOT EXISTS `egov_t`.events"));
        assert!(all
            .iter()
            .any(|s| s.contains("ORDER BY (system, unit_code, event_id)")));
        assert!(all
            .iter()
            .all(|s| !s.contains("{database}") && !s.contains("--")));
    }

    #[test]
    fn holidays_parse() -> Result<(), MigrateError> {
        let rows = holidays()?;
        assert!(rows.len() >= 40, "{} holidays", rows.len());
        let national_day_2021 = chrono::NaiveDate::from_ymd_opt(2021, 9, 2).and_then(date_to_days);
        assert!(rows.iter().any(|r| Some(r.date) == national_day_2021));
        Ok(())
    }
}
