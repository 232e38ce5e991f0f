-- The latest event per unit and source system dated on or before the local
-- date {to} (egov scorecard: `last_event_at` and `silent`), from the rollup
-- `last_event_by_day` (006_rollups.sql). {to} is a bound value.
SELECT
    unit_code,
    system,
    maxMerge(last_ms) AS last_ms
FROM {database}.last_event_by_day
WHERE local_date <= toDate({to})
GROUP BY unit_code, system
ORDER BY unit_code, system
