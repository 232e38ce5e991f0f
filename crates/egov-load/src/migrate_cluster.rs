//! `egov migrate` with `clickhouse.cluster`: the schema of a sharded, replicated
//! ClickHouse (`schemas/clickhouse/cluster/`), every statement `ON CLUSTER`, so
//! that every server has the replicated local tables and the `Distributed` ones
//! over them. The migrations applied are recorded once for the cluster, in a
//! `schema_migrations` table replicated to every server.

use crate::ch::{ident, query_client, server_client};
use crate::migrate::{apply_pending, statements, MigrateError, MIGRATIONS};
use egov_runtime::config::ClickHouseConfig;
use tracing::info;

/// The cluster's migrations in order. `dossier_state` is the single-server view
/// as it is (it reads `events`, here the `Distributed` table), created on every
/// server.
pub const CLUSTER_MIGRATIONS: [(&str, &str); 4] = [
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
    client
        .query(&format!(
            "CREATE TABLE IF NOT EXISTS {}.schema_migrations ON CLUSTER {cluster} \
             (version String, applied_at DateTime) \
             ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{database}/schema_migrations', '{{replica}}') \
             ORDER BY version",
            ident(database)
        ))
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
        assert_eq!(all.len(), 5);
        for statement in &all {
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
}
