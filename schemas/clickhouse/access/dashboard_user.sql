-- The dashboard's read-only user, for servers with SQL user management (not
-- 18.16): `egov migrate` runs these when dashboard.clickhouse_password is set
-- (crates/egov-tools/src/read_only_user.rs). {user}, {database} and
-- {on_cluster} (empty, or ON CLUSTER and the cluster) come from the
-- configuration, quoted; each `?` is the password's SHA-256 in hex, bound.
-- ALTER brings an existing user's password and setting up to date. The user
-- reads the database and system.parts (the dashboard's cache and pipeline
-- page), with readonly = 1 as its own setting.
CREATE USER IF NOT EXISTS {user}{on_cluster} IDENTIFIED WITH sha256_hash BY ? SETTINGS readonly = 1;
ALTER USER {user}{on_cluster} IDENTIFIED WITH sha256_hash BY ? SETTINGS readonly = 1;
GRANT{on_cluster} SELECT ON {database}.* TO {user};
GRANT{on_cluster} SELECT ON system.parts TO {user}
