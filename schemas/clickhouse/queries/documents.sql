-- Documents per unit (with its level) over the local dates {from}..{to}
-- (contract section 5), from the rollup `documents_by_day` (006_rollups.sql).
-- A document is a distinct (unit_code, document_id): the union of the days'
-- sets of ids, so a resent event, or a document seen on two days, never
-- changes a figure, and the figures of a level are the sums of its units'
-- (egov report sums them, egov scorecard shows them).
-- `month` is 0, the whole period; when the figures are per month too, a day
-- also counts in its calendar month, `month` 1, 2, … (day_month.sql).
-- {from}, {to} and the codes of {unit_filter} are bound values.
SELECT
    {month} AS month,
    level,
    unit_code,
    uniqExactMergeIf(documents, event_type = 'document.received') AS incoming,
    uniqExactMergeIf(documents, event_type = 'document.issued') AS outgoing,
    uniqExactMergeIf(documents, event_type = 'document.issued' AND signed = 1) AS outgoing_signed
FROM {database}.documents_by_day
WHERE local_date >= toDate({from}) AND local_date <= toDate({to})
  AND {unit_filter}
GROUP BY month, level, unit_code
ORDER BY month, level, unit_code
