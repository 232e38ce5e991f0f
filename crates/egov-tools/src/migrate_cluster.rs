//! `egov migrate` with `clickhouse.cluster`: the schema of a sharded, replicated
//! ClickHouse (`schemas/clickhouse/cluster/`), every statement `ON CLUSTER`, so
//! that every server has the replicated local tables and the `Distributed` ones
//! over them. The migrations applied are recorded once for the cluster, in a
//! `schema_migrations` table replicated to every server.

use crate::migrate::{apply_pending, statements, MigrateError, MIGRATIONS};
use egov_runtime::clickhouse::{ident, query_client, server_client};
use egov_runtime::config::ClickHouseConfig;
use tracing::info;

/// The cluster's migrations in order. `dossier_state` is the single-server view
/// as it is (it reads `events`, here the `Distributed` table), created on every
/// server.
pub const CLUSTER_MIGRATIONS: [(&str, &str); 7] = [
    (
        "cluster_001_events",
        include_str!("../../../schemas/clickhouse/cluster/001_events.sql"),
    ),
    (
        "cluster_002_units",
        include_str!("../../../schemas/clickhouse/cluster/002_units.sql"),
    ),
    (
        "cluster_003_holidays",
        include_str!("../../../schemas/clickhouse/cluster/003_holidays.sql"),
    ),
    ("cluster_004_dossier_state", MIGRATIONS[3].1),
    (
        "cluster_005_rollups",
        include_str!("../../../schemas/clickhouse/cluster/005_rollups.sql"),
    ),
    (
        "cluster_006_dossier_days_packed",
        include_str!("../../../schemas/clickhouse/cluster/006_dossier_days_packed.sql"),
    ),
    (
        "cluster_007_dossier_days_plain",
        include_str!("../../../schemas/clickhouse/cluster/007_dossier_days_plain.sql"),
    ),
];

/// The statements of one cluster migration: `{cluster}` and `{zookeeper}` (the
/// database's ZooKeeper prefix) filled in, and `ON CLUSTER` added to a `CREATE`
/// shared with single-server mode. Both names are validated identifiers
/// ([`ClickHouseConfig::validate`]).
pub fn cluster_statements(sql: &str, database: &str, cluster: &str) -> Vec<String> {
    statements(sql, database)
        .into_iter()
        .map(|s| {
            let s = s
                .replace("{cluster}", cluster)
                .replace("{zookeeper}", &format!("/clickhouse/tables/{database}"));
            on_cluster(&s, cluster)
        })
        .collect()
}

fn on_cluster(statement: &str, cluster: &str) -> String {
    if statement.contains(" ON CLUSTER ") {
        return statement.to_owned();
    }
    for prefix in ["CREATE VIEW IF NOT EXISTS ", "CREATE TABLE IF NOT EXISTS "] {
        if let Some(rest) = statement.strip_prefix(prefix) {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            return format!(
                "{prefix}{} ON CLUSTER {cluster}{}",
                &rest[..end],
                &rest[end..]
            );
        }
    }
    statement.to_owned()
}

/// The replicated `schema_migrations` of `database` on every server of
/// `cluster`, its ZooKeeper path bound.
fn schema_migrations(
    client: &clickhouse::Client,
    database: &str,
    cluster: &str,
) -> clickhouse::query::Query {
    client
        .query(&format!(
            "CREATE TABLE IF NOT EXISTS {}.schema_migrations ON CLUSTER {cluster} \
             (version String, applied_at DateTime) \
             ENGINE = ReplicatedReplacingMergeTree(?, '{{replica}}') ORDER BY version",
            ident(database)
        ))
        .bind(format!("/clickhouse/tables/{database}/schema_migrations"))
}

/// Creates the database and every table on every server of `cluster`, the
/// migrations not applied yet in order; the catalogue and the holidays are
/// loaded by the caller (their tables replicate to every server).
pub async fn migrate_cluster(
    config: &ClickHouseConfig,
    cluster: &str,
) -> Result<usize, MigrateError> {
    let err = |migration: &str| {
        let migration = migration.to_owned();
        move |source| MigrateError::ClickHouse { migration, source }
    };
    let database = &config.database;
    server_client(config)
        .map_err(err("client"))?
        .query(&format!(
            "CREATE DATABASE IF NOT EXISTS {} ON CLUSTER {cluster}",
            ident(database)
        ))
        .execute()
        .await
        .map_err(err("create database"))?;
    let client = query_client(config).map_err(err("client"))?;
    schema_migrations(&client, database, cluster)
        .execute()
        .await
        .map_err(err("schema_migrations"))?;
    let newly = apply_pending(
        &client,
        "SELECT version FROM schema_migrations FINAL",
        &CLUSTER_MIGRATIONS,
        |sql| cluster_statements(sql, database, cluster),
    )
    .await?;
    info!(cluster, migrations = newly, "cluster migrations applied");
    Ok(newly)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(sql: &str) -> &str {
        let start = sql.find("(\n").unwrap_or(0);
        let end = sql[start..].find("\n)").map_or(sql.len(), |e| start + e);
        &sql[start..end]
    }

    #[test]
    fn every_statement_runs_on_the_cluster() {
        let all: Vec<String> = CLUSTER_MIGRATIONS
            .iter()
            .flat_map(|(_, sql)| cluster_statements(sql, "egov_t", "egov"))
            .collect();
        // 005: three replicated rollups, a Distributed table and a view each,
        // and three backfills through the Distributed tables.
        // 006 and 007: dossier_days again (three drops, the two tables, the view,
        // the backfill).
        assert_eq!(all.len(), 5 + 9 + 3 + 7 + 7);
        for statement in &all {
            if statement.starts_with("INSERT INTO `egov_t`.") {
                assert!(!statement.contains("_local"), "{statement}");
                continue;
            }
            assert!(statement.contains(" ON CLUSTER egov"), "{statement}");
            assert!(!statement.contains("{database}") && !statement.contains("{zookeeper}"));
            assert!(!statement.contains("{cluster}"));
        }
        assert!(all[0].contains("'/clickhouse/tables/egov_t/events_local/{shard}', '{replica}'"));
        assert!(all[1].contains(
            "Distributed(egov, `egov_t`, events_local, cityHash64(system, unit_code, event_id))"
        ));
        assert!(all[4]
            .starts_with("CREATE VIEW IF NOT EXISTS `egov_t`.dossier_state ON CLUSTER egov AS"));
    }

    #[test]
    fn cluster_tables_have_the_single_server_columns() {
        // `events` as 005 rebuilt it, the units and the holidays.
        let single = |name: &str| {
            MIGRATIONS
                .iter()
                .find(|(n, _)| *n == name)
                .map_or("", |(_, sql)| columns(sql))
        };
        assert_eq!(
            columns(CLUSTER_MIGRATIONS[0].1),
            single("005_events_by_unit")
        );
        assert_eq!(columns(CLUSTER_MIGRATIONS[1].1), single("002_units"));
        assert_eq!(columns(CLUSTER_MIGRATIONS[2].1), single("003_holidays"));
    }

    #[test]
    fn the_zookeeper_path_of_schema_migrations_is_bound() -> anyhow::Result<()> {
        let client = clickhouse::Client::default();
        let sql = schema_migrations(&client, "egov", "prod")
            .sql_display()
            .to_string();
        assert_eq!(
            sql,
            "CREATE TABLE IF NOT EXISTS `egov`.schema_migrations ON CLUSTER prod \
             (version String, applied_at DateTime) \
             ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/egov/schema_migrations', '{replica}') \
             ORDER BY version"
        );
        Ok(())
    }

    #[test]
    fn cluster_rollups_are_the_single_server_rollups() {
        // 006 → cluster 005 (three rollups), 007 → cluster 006 and 008 → cluster
        // 007 (dossier_days again): the same columns, views and backfills; only
        // the table names, the engines and `ON CLUSTER` differ.
        assert_mirrors(
            MIGRATIONS[5].1,
            CLUSTER_MIGRATIONS[4].1,
            &["documents_by_day", "dossier_days", "last_event_by_day"],
        );
        assert_mirrors(MIGRATIONS[6].1, CLUSTER_MIGRATIONS[5].1, &["dossier_days"]);
        assert_mirrors(MIGRATIONS[7].1, CLUSTER_MIGRATIONS[6].1, &["dossier_days"]);
    }

    fn assert_mirrors(single: &str, cluster: &str, names: &[&str]) {
        let single = statements(single, "egov_t");
        let cluster = cluster_statements(cluster, "egov_t", "egov");
        let body = |statement: &str, from: &str| -> String {
            statement
                .split_once(from)
                .map_or(String::new(), |(_, rest)| rest.to_owned())
        };
        for name in names {
            let create = |all: &[String], table: &str| -> Option<String> {
                let prefix = format!("CREATE TABLE IF NOT EXISTS `egov_t`.{table}");
                all.iter()
                    .find(|s| {
                        s.strip_prefix(&prefix)
                            .is_some_and(|rest| rest.starts_with(char::is_whitespace))
                    })
                    .cloned()
            };
            let local = create(&cluster, &format!("{name}_local")).unwrap_or_default();
            let table = create(&single, name).unwrap_or_default();
            assert!(!table.is_empty() && !local.is_empty(), "{name}");
            assert_eq!(columns(&local), columns(&table), "{name}");
            let view = |all: &[String]| -> String {
                all.iter()
                    .find(|s| s.contains(&format!(".{name}_mv ")) && s.starts_with("CREATE"))
                    .map(|s| body(s, " AS\n"))
                    .unwrap_or_default()
            };
            let single_view = view(&single);
            assert!(
                single_view.contains("FROM `egov_t`.events\n"),
                "{single_view}"
            );
            assert_eq!(
                view(&cluster),
                single_view.replace("FROM `egov_t`.events\n", "FROM `egov_t`.events_local\n")
            );
        }
        let backfills = |all: &[String]| -> Vec<String> {
            all.iter()
                .filter(|s| s.starts_with("INSERT"))
                .cloned()
                .collect()
        };
        assert_eq!(backfills(&cluster), backfills(&single));
        assert_eq!(backfills(&single).len(), names.len());
        // What the single server drops, the cluster drops on every server.
        let drops = |all: &[String]| -> Vec<String> {
            all.iter()
                .filter(|s| s.starts_with("DROP"))
                .map(|s| s.replace(" ON CLUSTER egov", ""))
                .filter(|s| !s.ends_with("_local"))
                .collect()
        };
        assert_eq!(drops(&cluster), drops(&single));
    }
}
