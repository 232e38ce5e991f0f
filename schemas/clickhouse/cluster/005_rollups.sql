-- Cluster mode (clickhouse.cluster): the rollups of 006_rollups.sql, with the
-- same columns and views (read its comments: why every aggregate is
-- idempotent, what a row holds). Each rollup is a replicated table on every
-- server, `<name>_local`, filled by a materialized view on that server's
-- `events_local` (a view fires on the replica an insert reaches; the rollup's
-- rows then replicate like any part), and `<name>`, a Distributed table over
-- them that the queries read: a dossier's days may sit on several shards, and
-- the queries' GROUP BY merges their states across shards. The backfill reads
-- and writes through the Distributed tables, once, from the server egov
-- migrate talks to.
-- Runs on ClickHouse 18.16 and on current releases.

-- Documents: the distinct document ids per unit, day, event type and signed
-- flag. A period's incoming documents are the union of its days' sets, so a
-- document received on two days still counts once.
CREATE TABLE IF NOT EXISTS {database}.documents_by_day_local ON CLUSTER {cluster}
(
    unit_code String,
    level String,
    local_date Date,
    event_type String,
    signed UInt8,
    documents AggregateFunction(uniqExact, String)
)
ENGINE = ReplicatedAggregatingMergeTree('{zookeeper}/documents_by_day_local/{shard}', '{replica}')
PARTITION BY toYYYYMM(local_date)
ORDER BY (unit_code, level, local_date, event_type, signed);

CREATE TABLE IF NOT EXISTS {database}.documents_by_day ON CLUSTER {cluster} AS {database}.documents_by_day_local
ENGINE = Distributed({cluster}, {database}, documents_by_day_local, cityHash64(unit_code, local_date));

-- Dossiers: per dossier and day, what the day's events say about the
-- dossier's lifecycle (queries/dossiers.sql folds the days up to {to}).
-- dossier_key is a 128-bit hash of (level, unit_code, dossier_id), which the
-- query groups by: about twice as fast as grouping by the three strings, and
-- no collision is to be expected below 10^18 dossiers. flags ORs the kinds of
-- event the day had: 1 received, 2 closed (resolved, refused or withdrawn),
-- 4 refused or withdrawn, 8 resolved, 16 supplement received. Then the first
-- received event's date, online flag and due date (keyed on its time), the
-- first resolution's date, the latest supplement received (time, new due date)
-- and the latest supplement request. A day without that kind of event holds a
-- sentinel that loses every min/max against a real value. Every state is of
-- fixed size (no strings), which keeps merging them cheap.
CREATE TABLE IF NOT EXISTS {database}.dossier_days_local ON CLUSTER {cluster}
(
    dossier_key FixedString(16),
    unit_code String,
    level String,
    local_date Date,
    flags AggregateFunction(groupBitOr, UInt8),
    first_received_date AggregateFunction(min, Date),
    received_online AggregateFunction(argMin, UInt8, Int64),
    received_due AggregateFunction(argMin, Date, Int64),
    first_resolved_date AggregateFunction(min, Date),
    supplement_received_ms AggregateFunction(max, Int64),
    supplement_due AggregateFunction(argMax, Date, Int64),
    supplement_requested_ms AggregateFunction(max, Int64)
)
ENGINE = ReplicatedAggregatingMergeTree('{zookeeper}/dossier_days_local/{shard}', '{replica}')
PARTITION BY toYYYYMM(local_date)
ORDER BY (unit_code, level, dossier_key, local_date);

CREATE TABLE IF NOT EXISTS {database}.dossier_days ON CLUSTER {cluster} AS {database}.dossier_days_local
ENGINE = Distributed({cluster}, {database}, dossier_days_local, cityHash64(unit_code, dossier_key));

-- The latest event per unit, source system and day (scorecard: last_event_at, silent).
CREATE TABLE IF NOT EXISTS {database}.last_event_by_day_local ON CLUSTER {cluster}
(
    unit_code String,
    system String,
    local_date Date,
    last_ms AggregateFunction(max, Int64)
)
ENGINE = ReplicatedAggregatingMergeTree('{zookeeper}/last_event_by_day_local/{shard}', '{replica}')
PARTITION BY toYear(local_date)
ORDER BY (unit_code, system, local_date);

CREATE TABLE IF NOT EXISTS {database}.last_event_by_day ON CLUSTER {cluster} AS {database}.last_event_by_day_local
ENGINE = Distributed({cluster}, {database}, last_event_by_day_local, cityHash64(unit_code, system));

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.documents_by_day_mv ON CLUSTER {cluster} TO {database}.documents_by_day_local AS
SELECT
    unit_code,
    level,
    local_date,
    event_type,
    signed,
    uniqExactState(entity_id) AS documents
FROM {database}.events_local
WHERE system = 'documents'
GROUP BY unit_code, level, local_date, event_type, signed;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.dossier_days_mv ON CLUSTER {cluster} TO {database}.dossier_days_local AS
SELECT
    sipHash128(concat(level, '\0', unit_code, '\0', entity_id)) AS dossier_key,
    unit_code,
    level,
    local_date,
    groupBitOrState(toUInt8(multiIf(
        event_type = 'dossier.received', 1,
        event_type = 'dossier.resolved', 2 + 8,
        event_type IN ('dossier.refused', 'dossier.withdrawn'), 2 + 4,
        event_type = 'dossier.supplement_received', 16,
        0))) AS flags,
    minState(if(event_type = 'dossier.received', local_date, toDate('2100-01-01'))) AS first_received_date,
    argMinState(toUInt8(channel = 'online'), if(event_type = 'dossier.received', occurred_ms, toInt64(9223372036854775807))) AS received_online,
    argMinState(ifNull(due_date, toDate('1970-01-01')), if(event_type = 'dossier.received', occurred_ms, toInt64(9223372036854775807))) AS received_due,
    minState(if(event_type = 'dossier.resolved', local_date, toDate('2100-01-01'))) AS first_resolved_date,
    maxState(if(event_type = 'dossier.supplement_received', occurred_ms, toInt64(0))) AS supplement_received_ms,
    argMaxState(ifNull(due_date, toDate('1970-01-01')), if(event_type = 'dossier.supplement_received', occurred_ms, toInt64(-9223372036854775807))) AS supplement_due,
    maxState(if(event_type = 'dossier.supplement_requested', occurred_ms, toInt64(0))) AS supplement_requested_ms
FROM {database}.events_local
WHERE system = 'onestop'
GROUP BY dossier_key, unit_code, level, local_date;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.last_event_by_day_mv ON CLUSTER {cluster} TO {database}.last_event_by_day_local AS
SELECT
    unit_code,
    system,
    local_date,
    maxState(occurred_ms) AS last_ms
FROM {database}.events_local
GROUP BY unit_code, system, local_date;

-- The backfill: the same rows from the events stored before the views (each
-- SELECT is its view's, repeated so that this file runs as it is in any client;
-- egov-tools' migrate tests keep them equal).
INSERT INTO {database}.documents_by_day
SELECT
    unit_code,
    level,
    local_date,
    event_type,
    signed,
    uniqExactState(entity_id) AS documents
FROM {database}.events
WHERE system = 'documents'
GROUP BY unit_code, level, local_date, event_type, signed;

INSERT INTO {database}.dossier_days
SELECT
    sipHash128(concat(level, '\0', unit_code, '\0', entity_id)) AS dossier_key,
    unit_code,
    level,
    local_date,
    groupBitOrState(toUInt8(multiIf(
        event_type = 'dossier.received', 1,
        event_type = 'dossier.resolved', 2 + 8,
        event_type IN ('dossier.refused', 'dossier.withdrawn'), 2 + 4,
        event_type = 'dossier.supplement_received', 16,
        0))) AS flags,
    minState(if(event_type = 'dossier.received', local_date, toDate('2100-01-01'))) AS first_received_date,
    argMinState(toUInt8(channel = 'online'), if(event_type = 'dossier.received', occurred_ms, toInt64(9223372036854775807))) AS received_online,
    argMinState(ifNull(due_date, toDate('1970-01-01')), if(event_type = 'dossier.received', occurred_ms, toInt64(9223372036854775807))) AS received_due,
    minState(if(event_type = 'dossier.resolved', local_date, toDate('2100-01-01'))) AS first_resolved_date,
    maxState(if(event_type = 'dossier.supplement_received', occurred_ms, toInt64(0))) AS supplement_received_ms,
    argMaxState(ifNull(due_date, toDate('1970-01-01')), if(event_type = 'dossier.supplement_received', occurred_ms, toInt64(-9223372036854775807))) AS supplement_due,
    maxState(if(event_type = 'dossier.supplement_requested', occurred_ms, toInt64(0))) AS supplement_requested_ms
FROM {database}.events
WHERE system = 'onestop'
GROUP BY dossier_key, unit_code, level, local_date;

INSERT INTO {database}.last_event_by_day
SELECT
    unit_code,
    system,
    local_date,
    maxState(occurred_ms) AS last_ms
FROM {database}.events
GROUP BY unit_code, system, local_date
