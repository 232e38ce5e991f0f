-- Every accepted event, once per (system, event_id) after merges. Figures never
-- depend on merges having happened: analytics count distinct documents and
-- dossiers, and `FINAL` or `uniqExact(event_id)` give exact event counts.
-- Runs on ClickHouse 18.16 and on current releases (no DateTime64, no JSON functions).
CREATE TABLE IF NOT EXISTS {database}.events
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
ORDER BY (system, event_id)
