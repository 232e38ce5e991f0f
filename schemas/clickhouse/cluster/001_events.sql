-- Cluster mode (clickhouse.cluster): `events` of 005_events_by_unit.sql as a
-- replicated table on every server, `events_local`, one ZooKeeper path per
-- shard ({shard} and {replica} are each server's <macros>), and `events`, a
-- Distributed table over them with the same columns, which load inserts into and
-- every query reads. Rows are sharded by a hash of the replacing key, so a resent
-- event always lands on the shard that holds its first copy and `FINAL`,
-- `uniqExact` and the distinct counts of the report stay exact.
-- {zookeeper} is /clickhouse/tables/<database>; egov migrate fills it in.
-- Runs on ClickHouse 18.16 and on current releases.
CREATE TABLE IF NOT EXISTS {database}.events_local ON CLUSTER {cluster}
(
    system String,
    event_id String,
    event_type String,
    occurred_at DateTime('UTC'),
    occurred_ms Int64,
    local_date Date,
    unit_code String,
    level String,
    district_code String,
    entity_id String,
    channel String,
    procedure_code String,
    signed UInt8,
    due_ms Nullable(Int64),
    due_date Nullable(Date),
    payload String,
    ingested_ms UInt64
)
ENGINE = ReplicatedReplacingMergeTree('{zookeeper}/events_local/{shard}', '{replica}', ingested_ms)
PARTITION BY toYYYYMM(local_date)
ORDER BY (system, unit_code, event_id);

CREATE TABLE IF NOT EXISTS {database}.events ON CLUSTER {cluster} AS {database}.events_local
ENGINE = Distributed({cluster}, {database}, events_local, cityHash64(system, unit_code, event_id))
