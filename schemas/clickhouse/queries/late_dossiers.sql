-- The late dossiers of one unit for the local dates {from}..{to} (the unit
-- page of `egov dashboard`): exactly those that dossiers.sql counts as
-- resolved_late or pending_overdue, by the same fold (contract section 5.4)
-- applied here to the unit's events as known at the end of {to} (dossiers.sql
-- reads the rollup dossier_days, which has no ids or procedures), with their
-- procedure, dates and working days late. Working days are Monday to Friday that are not
-- in `holidays` (as in the dossier_state view): those after the due date up to
-- the resolution's date, or up to {to} for a dossier still open then. The
-- latest first, at most 200 rows (the page says so). {unit_filter} is the one
-- unit, a prefix of the key of `events` with `system`; {from}, {to} and the
-- code are bound values. Inner columns are named apart from the output ones
-- so that no alias refers to itself.
WITH (SELECT groupArray(date) FROM {database}.holidays) AS holiday_dates
SELECT
    dossier_id,
    procedure,
    toString(received_on) AS received_date,
    toString(due_on) AS due_date,
    if(resolved, toString(resolved_on), '') AS resolved_date,
    toUInt32(arrayCount(d -> toDayOfWeek(d) < 6 AND NOT has(holiday_dates, d),
                        arrayMap(i -> due_on + i + 1,
                                 range(toUInt32(greatest(toInt32(if(resolved, resolved_on, toDate({to})))
                                                         - toInt32(due_on), 0)))))) AS working_days_late
FROM
(
    SELECT
        entity_id AS dossier_id,
        minIf(local_date, event_type = 'dossier.received') AS received_on,
        argMinIf(procedure_code, occurred_ms, event_type = 'dossier.received') AS procedure,
        countIf(event_type IN ('dossier.resolved', 'dossier.refused', 'dossier.withdrawn')
                AND local_date < toDate({from})) = 0 AS open_at_from,
        countIf(event_type IN ('dossier.refused', 'dossier.withdrawn')) > 0 AS closed_other,
        countIf(event_type = 'dossier.resolved') > 0 AS resolved,
        minIf(local_date, event_type = 'dossier.resolved') AS resolved_on,
        if(countIf(event_type = 'dossier.supplement_received') > 0,
           argMaxIf(ifNull(due_date, toDate('1970-01-01')), occurred_ms, event_type = 'dossier.supplement_received'),
           argMinIf(ifNull(due_date, toDate('1970-01-01')), occurred_ms, event_type = 'dossier.received')) AS due_on,
        maxIf(occurred_ms, event_type = 'dossier.supplement_requested')
            > maxIf(occurred_ms, event_type = 'dossier.supplement_received') AS paused,
        (received_on >= toDate({from}) OR open_at_from) AND NOT closed_other AS counted
    FROM {database}.events
    WHERE system = 'onestop'
      AND local_date <= toDate({to})
      AND {unit_filter}
    GROUP BY entity_id
    HAVING countIf(event_type = 'dossier.received') > 0
)
WHERE counted
  AND ((resolved AND resolved_on > due_on)
       OR (NOT resolved AND due_on <= toDate({to}) AND NOT paused))
ORDER BY working_days_late DESC, due_on, dossier_id
LIMIT 200
