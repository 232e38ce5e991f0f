-- The latest event per unit and source system dated on or before the local
-- date {to} (egov scorecard: `last_event_at` and `silent`). {to} is a bound value.
SELECT
    unit_code,
    system,
    max(occurred_ms) AS last_ms
FROM {database}.events
WHERE local_date <= toDate({to})
GROUP BY unit_code, system
ORDER BY unit_code, system
