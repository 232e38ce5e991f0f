-- Every dossier's state as of now, folded from its events in any order (one
-- row per unit_code + dossier_id). The report computes the same fold as of the
-- end of its period (queries/dossiers.sql); this view is for analysts.
-- working_days_late: working days (Monday-Friday, not a public holiday) after
-- the due date until the resolution, or until today for an open overdue dossier.
CREATE VIEW IF NOT EXISTS {database}.dossier_state AS
WITH
    toDate(toTimeZone(now(), 'Asia/Ho_Chi_Minh')) AS today_local,
    (SELECT groupArray(date) FROM {database}.holidays) AS holiday_dates
SELECT
    unit_code,
    dossier_id,
    level,
    district_code,
    received_date,
    channel,
    procedure_code,
    due_date,
    resolved,
    resolved_date,
    returned,
    refused,
    withdrawn,
    paused,
    multiIf(refused, 'refused',
            withdrawn, 'withdrawn',
            resolved AND resolved_date < due_date, 'resolved_early',
            resolved AND resolved_date = due_date, 'resolved_on_time',
            resolved, 'resolved_late',
            paused, 'paused',
            due_date < today_local, 'overdue',
            'in_time') AS status,
    if(refused OR withdrawn OR (NOT resolved AND paused), 0,
       arrayCount(d -> toDayOfWeek(d) < 6 AND NOT has(holiday_dates, d),
                  arrayMap(i -> due_date + i + 1,
                           range(toUInt32(greatest(toInt32(if(resolved, resolved_date, today_local)) - toInt32(due_date), 0)))))) AS working_days_late
FROM
(
    SELECT
        unit_code,
        entity_id AS dossier_id,
        any(level) AS level,
        any(district_code) AS district_code,
        minIf(local_date, event_type = 'dossier.received') AS received_date,
        argMinIf(channel, occurred_ms, event_type = 'dossier.received') AS channel,
        argMinIf(procedure_code, occurred_ms, event_type = 'dossier.received') AS procedure_code,
        if(countIf(event_type = 'dossier.supplement_received') > 0,
           argMaxIf(ifNull(due_date, toDate('1970-01-01')), occurred_ms, event_type = 'dossier.supplement_received'),
           argMinIf(ifNull(due_date, toDate('1970-01-01')), occurred_ms, event_type = 'dossier.received')) AS due_date,
        countIf(event_type = 'dossier.resolved') > 0 AS resolved,
        minIf(local_date, event_type = 'dossier.resolved') AS resolved_date,
        countIf(event_type = 'dossier.returned') > 0 AS returned,
        countIf(event_type = 'dossier.refused') > 0 AS refused,
        countIf(event_type = 'dossier.withdrawn') > 0 AS withdrawn,
        maxIf(occurred_ms, event_type = 'dossier.supplement_requested')
            > maxIf(occurred_ms, event_type = 'dossier.supplement_received') AS paused
    FROM {database}.events
    WHERE system = 'onestop'
    GROUP BY unit_code, entity_id
    HAVING countIf(event_type = 'dossier.received') > 0
)
