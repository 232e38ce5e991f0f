-- Every dossier's state as known at the end of {to} (its days up to then),
-- for the whole period {from}..{to}: the part `{dossier_states}` of
-- dossiers.sql, which defines the columns and the figures.
        SELECT
            {month} AS month,
            toDate({from}) AS period_from,
            toDate({to}) AS period_to,
            any(unit_ref) AS dossier_unit_ref,
            groupBitOr(flags) AS kinds,
            groupBitOrIf(flags, local_date < toDate({from})) AS flags_before,
            min(first_receipt) AS receipt,
            min(first_resolved_date) AS resolved_date,
            max(last_supplement) AS supplement,
            max(supplement_requested_ms) AS requested_ms
        FROM {database}.dossier_days
        WHERE local_date <= toDate({to})
          AND {unit_filter}
        GROUP BY dossier_key
