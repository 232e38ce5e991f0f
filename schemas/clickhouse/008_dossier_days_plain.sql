-- dossier_days a third time: the same rows (a dossier's day), the same five
-- states (007_dossier_days_packed.sql says what each holds), but as plain
-- numbers in a plain MergeTree, and with `unit_ref`, a 64-bit number for the
-- unit (sipHash64 of level and code).
--
-- Why: the year's dossier query (queries/dossiers.sql) groups about 550,000
-- rows into 270,000 dossiers. On AggregatingMergeTree every state of every row
-- is first rebuilt from its stored form, and `any(unit_code)` copies a string
-- per dossier; those two were a third of the query's ClickHouse CPU. Plain
-- columns are read as they are, and the query keeps the unit as `unit_ref`,
-- naming it once per unit at the end (dossiers.sql).
--
-- Rows are not merged into one per dossier and day any more: each insert
-- adds its own rows (the view groups one insert's events per dossier and day).
-- Every state is a min, a max or an OR, so a dossier's day in two rows folds
-- exactly as in one, and the query groups per dossier anyway. The rows are
-- bounded by the one-stop events: 587,000 for 2021's 809,000 one-stop events
-- as the benchmark loads them, against 546,000 merged.
--
-- Upgrading from 007: as 007 did, the old view and table go, the new ones are
-- created (the view first) and backfilled from `events`; the dossier figures
-- are incomplete while the backfill runs (0.9 s for a province-year, 809,000
-- one-stop events, on the quiet 2-core test machine). Runs on 18.16 and
-- current releases.
DROP TABLE IF EXISTS {database}.dossier_days_mv;

DROP TABLE IF EXISTS {database}.dossier_days;

CREATE TABLE IF NOT EXISTS {database}.dossier_days
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
ENGINE = MergeTree
PARTITION BY toYYYYMM(local_date)
ORDER BY (unit_code, level, dossier_key, local_date);

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.dossier_days_mv TO {database}.dossier_days AS
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
GROUP BY dossier_key, unit_code, level, local_date;

-- The backfill: the view's SELECT over the events already stored (repeated so
-- that this file runs as it is in any client; egov-tools' migrate tests keep
-- the two equal).
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
