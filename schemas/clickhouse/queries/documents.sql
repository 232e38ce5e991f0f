-- Documents per group (level or unit) over the local dates {from}..{to}
-- (contract section 5). A document is a distinct (unit_code, document_id), so
-- a resent event, merged or not, never changes a figure.
SELECT
    {group} AS grp,
    uniqExactIf(unit_code, entity_id, event_type = 'document.received') AS incoming,
    uniqExactIf(unit_code, entity_id, event_type = 'document.issued') AS outgoing,
    uniqExactIf(unit_code, entity_id, event_type = 'document.issued' AND signed = 1) AS outgoing_signed
FROM {database}.events
WHERE system = 'documents'
  AND local_date >= toDate('{from}') AND local_date <= toDate('{to}')
  AND {unit_filter}
GROUP BY grp
ORDER BY grp
