-- Documents per unit (with its level) over the local dates {from}..{to}
-- (contract section 5). A document is a distinct (unit_code, document_id), so
-- a resent event, merged or not, never changes a figure, and the figures of a
-- level are the sums of its units' (egov report sums them, egov scorecard
-- shows them). Grouped by unit, counting distinct document ids within the
-- group is exactly that (and hashes one string, not two: about 30% less CPU).
-- {from}, {to} and the codes of {unit_filter} are bound values.
SELECT
    level,
    unit_code,
    uniqExactIf(entity_id, event_type = 'document.received') AS incoming,
    uniqExactIf(entity_id, event_type = 'document.issued') AS outgoing,
    uniqExactIf(entity_id, event_type = 'document.issued' AND signed = 1) AS outgoing_signed
FROM {database}.events
WHERE system = 'documents'
  AND local_date >= toDate({from}) AND local_date <= toDate({to})
  AND {unit_filter}
GROUP BY level, unit_code
ORDER BY level, unit_code
