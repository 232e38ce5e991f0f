-- Every dossier's state as known at the end of {to} (its days up to then),
-- for the whole period {from}..{to}: the part `{dossier_states}` of
-- dossiers.sql, which defines the columns and the figures.
        SELECT
            {month} AS month,
            toDate({from}) AS period_from,
            toDate({to}) AS period_to,
            any(level) AS dossier_level,
            any(unit_code) AS dossier_unit,
            groupBitOrMerge(flags) AS kinds,
            groupBitOrMergeIf(flags, local_date < toDate({from})) AS flags_before,
            minMerge(first_receipt) AS receipt,
            minMerge(first_resolved_date) AS resolved_date,
            maxMerge(last_supplement) AS supplement,
            maxMerge(supplement_requested_ms) AS requested_ms
        FROM {database}.dossier_days
        WHERE local_date <= toDate({to})
          AND {unit_filter}
        GROUP BY dossier_key
