-- Cluster mode: the unit catalogue of 002_units.sql, one replicated table whose
-- replicas are every server of the cluster (so a query on any server joins its
-- own copy). `egov migrate` replaces its rows on every run through one server.
CREATE TABLE IF NOT EXISTS {database}.units ON CLUSTER {cluster}
(
    code String,
    level String,
    kind String,
    name String,
    parent_code String,
    district_code String,
    valid_from Date,
    valid_to Nullable(Date)
)
ENGINE = ReplicatedMergeTree('{zookeeper}/units', '{replica}')
ORDER BY code
