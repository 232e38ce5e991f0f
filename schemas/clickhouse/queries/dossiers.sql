-- Dossiers per unit (with its level) for the local dates {from}..{to}
-- (contract section 5), from the rollup `dossier_days` (007_dossier_days_packed.sql,
-- 008_dossier_days_plain.sql).
-- {dossier_states} is every dossier's state as known at the end of the period:
-- dossier_states.sql for the whole period (`month` 0), or dossier_month_states.sql
-- for the whole period and each calendar month of it (`month` 1, 2, …, each
-- month cut to the period, its own period_from and period_to), so the figures
-- are defined here once for both. A state is a fold of the dossier's days (min, max, OR of the days'
-- states), the same whatever the order or repetition of events. The flag bits
-- are those of the rollup: 1 received, 2 closed, 4 refused or withdrawn,
-- 8 resolved, 16 supplement received; flags_before is the OR of the flags of the
-- days before period_from. receipt (first_receipt) is time * 2^17 + due_days * 2
-- + online; supplement (last_supplement) is time * 2^16 + due_days; a receipt's
-- local date is its time's day in UTC+7 (25,200,000 ms ahead of UTC). The outer
-- query counts states per unit (a level's figures are the sums of its units'),
-- the unit being `unit_ref` (008_dossier_days_plain.sql) until the last step
-- names it: carrying a dossier's unit code through the grouping per dossier
-- cost more than the rest of the counting.
-- {from}, {to} and the codes of {unit_filter} are bound values.
SELECT
    month,
    level,
    unit_code,
    received,
    carried_over,
    resolved_early,
    resolved_on_time,
    resolved_late,
    pending_in_time,
    pending_overdue,
    online
FROM
(
    SELECT
        month,
        dossier_unit_ref AS unit_ref,
        countIf(received_date >= period_from) AS received,
        countIf(received_date < period_from AND open_at_from) AS carried_over,
        countIf(counted AND resolved AND resolved_date < due_date) AS resolved_early,
        countIf(counted AND resolved AND resolved_date = due_date) AS resolved_on_time,
        countIf(counted AND resolved AND resolved_date > due_date) AS resolved_late,
        countIf(counted AND NOT resolved AND (due_date > period_to OR paused)) AS pending_in_time,
        countIf(counted AND NOT resolved AND due_date <= period_to AND NOT paused) AS pending_overdue,
        countIf(received_date >= period_from AND online) AS online
    FROM
    (
        SELECT
            month,
            period_from,
            period_to,
            dossier_unit_ref,
            toDate('1970-01-01') + intDiv(intDiv(receipt, 131072) + 25200000, 86400000) AS received_date,
            bitAnd(receipt, 1) = 1 AS online,
            bitAnd(flags_before, 2) = 0 AS open_at_from,
            bitAnd(kinds, 4) != 0 AS closed_other,
            bitAnd(kinds, 8) != 0 AS resolved,
            resolved_date,
            toDate('1970-01-01') + if(bitAnd(kinds, 16) != 0, toUInt16(bitAnd(supplement, 65535)), toUInt16(bitAnd(intDiv(receipt, 2), 65535))) AS due_date,
            requested_ms > intDiv(supplement, 65536) AS paused,
            (received_date >= period_from OR open_at_from) AND NOT closed_other AS counted
        FROM
        (
{dossier_states}
        )
        WHERE bitAnd(kinds, 1) != 0
    )
    GROUP BY month, unit_ref
) AS counts
ALL INNER JOIN
(
    SELECT unit_ref, level, unit_code
    FROM {database}.dossier_days
    WHERE local_date <= toDate({to})
      AND {unit_filter}
    GROUP BY unit_ref, level, unit_code
) AS units USING unit_ref
ORDER BY month, level, unit_code
