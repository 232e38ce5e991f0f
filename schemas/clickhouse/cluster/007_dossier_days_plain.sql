-- Cluster mode (clickhouse.cluster): 008_dossier_days_plain.sql on every
-- server (read its comments: plain columns and `unit_ref`, and why). As in
-- 005_rollups.sql here, `dossier_days_local` is a replicated table on every
-- server, filled by a view on that server's `events_local`, and `dossier_days`
-- a Distributed table over them that the query reads. The old view and tables
-- go first; the new replicated table has a ZooKeeper path of its own
-- (`dossier_days_plain`), so nothing the old one left there is in its way.
-- The backfill reads and writes through the Distributed tables, once.
-- Runs on ClickHouse 18.16 and on current releases.
DROP TABLE IF EXISTS {database}.dossier_days_mv ON CLUSTER {cluster};

DROP TABLE IF EXISTS {database}.dossier_days ON CLUSTER {cluster};

DROP TABLE IF EXISTS {database}.dossier_days_local ON CLUSTER {cluster};

CREATE TABLE IF NOT EXISTS {database}.dossier_days_local ON CLUSTER {cluster}
(
    dossier_key FixedString(16),
    unit_ref UInt64,
    unit_code String,
    level String,
    local_date Date,
    flags UInt8,
    first_receipt UInt64,
    first_resolved_date Date,
    last_supplement Int64,
    supplement_requested_ms Int64
)
ENGINE = ReplicatedMergeTree('{zookeeper}/dossier_days_plain/{shard}', '{replica}')
PARTITION BY toYYYYMM(local_date)
ORDER BY (unit_code, level, dossier_key, local_date);

CREATE TABLE IF NOT EXISTS {database}.dossier_days ON CLUSTER {cluster} AS {database}.dossier_days_local
ENGINE = Distributed({cluster}, {database}, dossier_days_local, cityHash64(unit_code, dossier_key));

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.dossier_days_mv ON CLUSTER {cluster} TO {database}.dossier_days_local AS
SELECT
    sipHash128(concat(level, '\0', unit_code, '\0', entity_id)) AS dossier_key,
    sipHash64(concat(level, '\0', unit_code)) AS unit_ref,
    unit_code,
    level,
    local_date,
    groupBitOr(toUInt8(multiIf(
        event_type = 'dossier.received', 1,
        event_type = 'dossier.resolved', 2 + 8,
        event_type IN ('dossier.refused', 'dossier.withdrawn'), 2 + 4,
        event_type = 'dossier.supplement_received', 16,
        0))) AS flags,
    min(if(event_type = 'dossier.received',
        toUInt64(occurred_ms) * 131072 + toUInt64(toUInt16(ifNull(due_date, toDate('1970-01-01')))) * 2 + toUInt64(channel = 'online'),
        toUInt64(18446744073709551615))) AS first_receipt,
    min(if(event_type = 'dossier.resolved', local_date, toDate('2100-01-01'))) AS first_resolved_date,
    max(if(event_type = 'dossier.supplement_received',
        occurred_ms * 65536 + toInt64(toUInt16(ifNull(due_date, toDate('1970-01-01')))),
        toInt64(0))) AS last_supplement,
    max(if(event_type = 'dossier.supplement_requested', occurred_ms, toInt64(0))) AS supplement_requested_ms
FROM {database}.events_local
WHERE system = 'onestop'
GROUP BY dossier_key, unit_code, level, local_date;

INSERT INTO {database}.dossier_days
SELECT
    sipHash128(concat(level, '\0', unit_code, '\0', entity_id)) AS dossier_key,
    sipHash64(concat(level, '\0', unit_code)) AS unit_ref,
    unit_code,
    level,
    local_date,
    groupBitOr(toUInt8(multiIf(
        event_type = 'dossier.received', 1,
        event_type = 'dossier.resolved', 2 + 8,
        event_type IN ('dossier.refused', 'dossier.withdrawn'), 2 + 4,
        event_type = 'dossier.supplement_received', 16,
        0))) AS flags,
    min(if(event_type = 'dossier.received',
        toUInt64(occurred_ms) * 131072 + toUInt64(toUInt16(ifNull(due_date, toDate('1970-01-01')))) * 2 + toUInt64(channel = 'online'),
        toUInt64(18446744073709551615))) AS first_receipt,
    min(if(event_type = 'dossier.resolved', local_date, toDate('2100-01-01'))) AS first_resolved_date,
    max(if(event_type = 'dossier.supplement_received',
        occurred_ms * 65536 + toInt64(toUInt16(ifNull(due_date, toDate('1970-01-01')))),
        toInt64(0))) AS last_supplement,
    max(if(event_type = 'dossier.supplement_requested', occurred_ms, toInt64(0))) AS supplement_requested_ms
FROM {database}.events
WHERE system = 'onestop'
GROUP BY dossier_key, unit_code, level, local_date
