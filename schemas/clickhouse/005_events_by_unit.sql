-- An event is identified by (system, unit_code, event_id): the unit is part of
-- the replacing key, so an event sent for one unit can never replace an event
-- of another unit that has the same event_id (a token limited to some units
-- cannot change any figure of the others). Rebuilds `events` with that key:
-- a new table, every row copied, the two swapped, the old one dropped. Each
-- step can run again after a failure of a later one. Run it with no load
-- service writing (`egov run` migrates before it starts its services).
-- Runs on ClickHouse 18.16 and on current releases.
DROP TABLE IF EXISTS {database}.events_before_005;

CREATE TABLE IF NOT EXISTS {database}.events_005
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
ENGINE = ReplacingMergeTree(ingested_ms)
PARTITION BY toYYYYMM(local_date)
ORDER BY (system, unit_code, event_id);

INSERT INTO {database}.events_005 SELECT * FROM {database}.events;

RENAME TABLE {database}.events TO {database}.events_before_005, {database}.events_005 TO {database}.events;

DROP TABLE {database}.events_before_005
