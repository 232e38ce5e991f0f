-- Dossiers per unit (with its level) for the local dates {from}..{to}
-- (contract section 5): the inner query folds every dossier's events, as known
-- at the end of {to}, into its state; the outer one counts states per unit (a
-- level's figures are the sums of its units'). Every fold (min, max, argMax,
-- count > 0) gives the same answer whatever the order or repetition of events.
-- {from}, {to} and the codes of {unit_filter} are bound values.
SELECT
    level,
    unit_code,
    countIf(received_date >= toDate({from})) AS received,
    countIf(received_date < toDate({from}) AND open_at_from) AS carried_over,
    countIf(counted AND resolved AND resolved_date < due_date) AS resolved_early,
    countIf(counted AND resolved AND resolved_date = due_date) AS resolved_on_time,
    countIf(counted AND resolved AND resolved_date > due_date) AS resolved_late,
    countIf(counted AND NOT resolved AND (due_date > toDate({to}) OR paused)) AS pending_in_time,
    countIf(counted AND NOT resolved AND due_date <= toDate({to}) AND NOT paused) AS pending_overdue,
    countIf(received_date >= toDate({from}) AND channel = 'online') AS online
FROM
(
    SELECT
        level,
        unit_code,
        entity_id,
        minIf(local_date, event_type = 'dossier.received') AS received_date,
        argMinIf(channel, occurred_ms, event_type = 'dossier.received') AS channel,
        countIf(event_type IN ('dossier.resolved', 'dossier.refused', 'dossier.withdrawn')
                AND local_date < toDate({from})) = 0 AS open_at_from,
        countIf(event_type IN ('dossier.refused', 'dossier.withdrawn')) > 0 AS closed_other,
        countIf(event_type = 'dossier.resolved') > 0 AS resolved,
        minIf(local_date, event_type = 'dossier.resolved') AS resolved_date,
        if(countIf(event_type = 'dossier.supplement_received') > 0,
           argMaxIf(ifNull(due_date, toDate('1970-01-01')), occurred_ms, event_type = 'dossier.supplement_received'),
           argMinIf(ifNull(due_date, toDate('1970-01-01')), occurred_ms, event_type = 'dossier.received')) AS due_date,
        maxIf(occurred_ms, event_type = 'dossier.supplement_requested')
            > maxIf(occurred_ms, event_type = 'dossier.supplement_received') AS paused,
        (received_date >= toDate({from}) OR open_at_from) AND NOT closed_other AS counted
    FROM {database}.events
    WHERE system = 'onestop'
      AND local_date <= toDate({to})
      AND {unit_filter}
    GROUP BY level, unit_code, entity_id
    HAVING countIf(event_type = 'dossier.received') > 0
)
GROUP BY level, unit_code
ORDER BY level, unit_code
