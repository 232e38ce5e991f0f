-- Dossiers per unit (with its level) for the local dates {from}..{to}
-- (contract section 5), from the rollup `dossier_days` (007_dossier_days_packed.sql):
-- the inner query folds every dossier's days up to the end of {to} into its
-- state as then known; the outer one counts states per unit (a level's figures
-- are the sums of its units'). Every fold (min, max, OR of the days' states)
-- gives the same answer whatever the order or repetition of events. The flag
-- bits are those of the rollup: 1 received, 2 closed, 4 refused or withdrawn,
-- 8 resolved, 16 supplement received. first_receipt is time * 2^17 + due_days
-- * 2 + online; last_supplement is time * 2^16 + due_days; a receipt's local
-- date is its time's day in UTC+7 (25,200,000 ms ahead of UTC).
-- {from}, {to} and the codes of {unit_filter} are bound values.
SELECT
    dossier_level AS level,
    dossier_unit AS unit_code,
    countIf(received_date >= toDate({from})) AS received,
    countIf(received_date < toDate({from}) AND open_at_from) AS carried_over,
    countIf(counted AND resolved AND resolved_date < due_date) AS resolved_early,
    countIf(counted AND resolved AND resolved_date = due_date) AS resolved_on_time,
    countIf(counted AND resolved AND resolved_date > due_date) AS resolved_late,
    countIf(counted AND NOT resolved AND (due_date > toDate({to}) OR paused)) AS pending_in_time,
    countIf(counted AND NOT resolved AND due_date <= toDate({to}) AND NOT paused) AS pending_overdue,
    countIf(received_date >= toDate({from}) AND online) AS online
FROM
(
    SELECT
        any(level) AS dossier_level,
        any(unit_code) AS dossier_unit,
        groupBitOrMerge(flags) AS kinds,
        minMerge(first_receipt) AS receipt,
        toDate('1970-01-01') + intDiv(intDiv(receipt, 131072) + 25200000, 86400000) AS received_date,
        bitAnd(receipt, 1) = 1 AS online,
        bitAnd(groupBitOrMergeIf(flags, local_date < toDate({from})), 2) = 0 AS open_at_from,
        bitAnd(kinds, 4) != 0 AS closed_other,
        bitAnd(kinds, 8) != 0 AS resolved,
        minMerge(first_resolved_date) AS resolved_date,
        maxMerge(last_supplement) AS supplement,
        toDate('1970-01-01') + if(bitAnd(kinds, 16) != 0, toUInt16(bitAnd(supplement, 65535)), toUInt16(bitAnd(intDiv(receipt, 2), 65535))) AS due_date,
        maxMerge(supplement_requested_ms) > intDiv(supplement, 65536) AS paused,
        (received_date >= toDate({from}) OR open_at_from) AND NOT closed_other AS counted
    FROM {database}.dossier_days
    WHERE local_date <= toDate({to})
      AND {unit_filter}
    GROUP BY dossier_key
    HAVING bitAnd(kinds, 1) != 0
)
GROUP BY level, unit_code
ORDER BY level, unit_code
