//! The dashboard's read-only ClickHouse user (`dashboard.clickhouse_user`,
//! `dashboard.clickhouse_password`), created by `egov migrate` where the server
//! manages users with SQL: a current release with access control. The user may
//! read the pipeline's database and `system.parts` (the dashboard's cache and
//! pipeline page), with `readonly = 1` as its own setting. The password goes to
//! ClickHouse only as its SHA-256 (`IDENTIFIED WITH sha256_hash`) and is never
//! logged. Every run sets the password and grants again, so a changed password
//! in the configuration reaches the server.
//!
//! ClickHouse 18.16 has no SQL users (no `CREATE USER`, no `system.users`):
//! there `egov migrate` logs how to define the user in `users.xml` instead
//! (see README, Dashboard).

use crate::migrate::MigrateError;
use egov_runtime::clickhouse::{has_sql_users, ident, query_client};
use egov_runtime::config::{ClickHouseConfig, DashboardSection};
use sha2::{Digest, Sha256};
use tracing::{info, warn};

/// What `egov migrate` did about the read-only user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadOnlyUser {
    /// Created, or brought up to date (password, setting, grants).
    Ensured { user: String },
    /// `dashboard.clickhouse_password` (or the user's name) is empty: the
    /// dashboard reads as `clickhouse.user`, with `readonly=1` on its queries.
    NotConfigured,
    /// The server has no SQL user management (ClickHouse 18.16).
    NoSqlUsers { user: String },
}

/// The password's SHA-256 in hex, as `IDENTIFIED WITH sha256_hash BY` takes it.
pub fn sha256_hex(password: &str) -> String {
    Sha256::digest(password.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `schemas/clickhouse/access/dashboard_user.sql`.
pub const DASHBOARD_USER_SQL: &str =
    include_str!("../../../schemas/clickhouse/access/dashboard_user.sql");

/// The statements of [`DASHBOARD_USER_SQL`], in order; each `?` is the
/// password's hash, bound. With a cluster, on every server of it.
pub fn statements(user: &str, database: &str, cluster: Option<&str>) -> Vec<String> {
    let on_cluster = cluster.map_or_else(String::new, |c| format!(" ON CLUSTER {}", ident(c)));
    let code: Vec<&str> = DASHBOARD_USER_SQL
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect();
    code.join("\n")
        .replace("{user}", &ident(user))
        .replace("{database}", &ident(database))
        .replace("{on_cluster}", &on_cluster)
        .split(';')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// What to write in `users.d/` of a server without SQL users (18.16) to define
/// the same user: `HASH` stands for the password's SHA-256 in hex
/// (`echo -n "$PASSWORD" | sha256sum`), `DASHBOARD_IP` for the dashboard's address.
pub fn users_xml(user: &str, database: &str) -> String {
    format!(
        "<yandex><profiles><{user}_readonly><readonly>1</readonly></{user}_readonly></profiles>\
         <users><{user}><password_sha256_hex>HASH</password_sha256_hex>\
         <networks><ip>DASHBOARD_IP</ip></networks><profile>{user}_readonly</profile><quota>default</quota>\
         <allow_databases><database>{database}</database><database>system</database></allow_databases>\
         </{user}></users></yandex>"
    )
}

/// Creates or updates the read-only user where the server allows it, and
/// says (in the log and the answer) what it did.
pub async fn ensure(
    config: &ClickHouseConfig,
    dashboard: &DashboardSection,
) -> Result<ReadOnlyUser, MigrateError> {
    let err = |source| MigrateError::ClickHouse {
        migration: "dashboard read-only user".into(),
        source,
    };
    let user = dashboard.clickhouse_user.as_str();
    if !dashboard.has_read_only_user() {
        info!(
            user,
            "dashboard.clickhouse_password is not set: no read-only user created; egov dashboard reads as clickhouse.user with readonly=1 on every query"
        );
        return Ok(ReadOnlyUser::NotConfigured);
    }
    if !has_sql_users(config).await.map_err(err)? {
        warn!(
            user,
            users_xml = %users_xml(user, &config.database),
            "this ClickHouse has no SQL user management (18.16): egov migrate cannot create the read-only user; define it in a users.d/ file as users_xml shows (HASH: the SHA-256 of dashboard.clickhouse_password in hex), see README, Dashboard; until then egov dashboard reads as clickhouse.user with readonly=1 on every query"
        );
        return Ok(ReadOnlyUser::NoSqlUsers {
            user: user.to_owned(),
        });
    }
    let hash = sha256_hex(dashboard.clickhouse_password.expose());
    let client = query_client(config).map_err(err)?;
    for statement in statements(user, &config.database, config.cluster.as_deref()) {
        let query = client.query(&statement);
        let query = if statement.contains('?') {
            query.bind(hash.as_str())
        } else {
            query
        };
        query.execute().await.map_err(err)?;
    }
    info!(
        user,
        database = %config.database,
        "dashboard read-only user up to date (readonly=1, SELECT on the database and system.parts)"
    );
    Ok(ReadOnlyUser::Ensured {
        user: user.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_quote_names_and_bind_the_hash() {
        let all = statements("egov_dashboard", "egov", None);
        assert_eq!(
            all,
            [
                "CREATE USER IF NOT EXISTS `egov_dashboard` IDENTIFIED WITH sha256_hash BY ? SETTINGS readonly = 1",
                "ALTER USER `egov_dashboard` IDENTIFIED WITH sha256_hash BY ? SETTINGS readonly = 1",
                "GRANT SELECT ON `egov`.* TO `egov_dashboard`",
                "GRANT SELECT ON system.parts TO `egov_dashboard`",
            ]
        );
        let odd = statements("a`b", "db", Some("prod"));
        assert!(odd[0].starts_with("CREATE USER IF NOT EXISTS `a\\`b` ON CLUSTER `prod` "));
        assert!(odd[2].starts_with("GRANT ON CLUSTER `prod` SELECT ON `db`.*"));
    }

    #[test]
    fn the_hash_is_sha256_hex_and_users_xml_names_no_secret() {
        // echo -n password | sha256sum
        assert_eq!(
            sha256_hex("password"),
            "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
        );
        let xml = users_xml("egov_dashboard", "egov");
        assert!(xml.contains("<password_sha256_hex>HASH</password_sha256_hex>"));
        assert!(xml.contains("<readonly>1</readonly>"));
        assert!(xml.contains("<profile>egov_dashboard_readonly</profile>"));
        assert!(xml.contains("<database>egov</database>"));
    }
}
