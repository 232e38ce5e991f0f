-- Cluster mode: the public holidays of 003_holidays.sql on every server (one
-- replicated table whose replicas are all servers).
CREATE TABLE IF NOT EXISTS {database}.holidays ON CLUSTER {cluster}
(
    date Date,
    name String
)
ENGINE = ReplicatedMergeTree('{zookeeper}/holidays', '{replica}')
ORDER BY date
