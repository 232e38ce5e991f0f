-- Every dossier's state as known at the end of the period {from}..{to} (month
-- 0) and at the end of each calendar month of it (month 1 the month of {from},
-- each cut to the period), in one pass over its days up to {to}: the part
-- `{dossier_states}` of dossiers.sql (which defines the columns and the
-- figures) when the figures are per month. Each dossier's days are collected
-- with their month (day_month.sql: 0 before {from}); then, for month k, the
-- days of months up to k (all of them for month 0) fold into the state at its
-- end, and those before k (before month 1 for month 0) into flags_before, as
-- the query for that period alone folds the days up to its end and before its
-- first day. Only the months a dossier can count in are expanded: from the
-- month of its receipt (received by the month's end) to the later of the
-- month it closed in (open on the month's first day until then) and that of
-- its last receipt (received in the month), a receipt's time being on its
-- day's local date (007_dossier_days_packed.sql); month 0 always. A dossier's
-- day may be in several rows (008_dossier_days_plain.sql): each is a bucket of
-- its month, and they fold as one.
        SELECT
            month,
            if(month = 0, toDate({from}), greatest(toDate({from}), addMonths(toStartOfMonth(toDate({from})), month - 1))) AS period_from,
            if(month = 0, toDate({to}), least(toDate({to}), addMonths(toStartOfMonth(toDate({from})), month) - 1)) AS period_to,
            dossier_unit_ref,
            if(month = 0, toUInt32(toRelativeMonthNum(toDate({to})) - toRelativeMonthNum(toDate({from})) + 1), month) AS last_bucket,
            greatest(month, 1) AS first_bucket,
            arrayReduce('groupBitOr', arrayFilter((x, b) -> b <= last_bucket, bucket_flags, buckets)) AS kinds,
            arrayReduce('groupBitOr', arrayFilter((x, b) -> b < first_bucket, bucket_flags, buckets)) AS flags_before,
            arrayReduce('min', arrayFilter((x, b) -> b <= last_bucket, bucket_receipts, buckets)) AS receipt,
            arrayReduce('min', arrayFilter((x, b) -> b <= last_bucket, bucket_resolved, buckets)) AS resolved_date,
            arrayReduce('max', arrayFilter((x, b) -> b <= last_bucket, bucket_supplements, buckets)) AS supplement,
            arrayReduce('max', arrayFilter((x, b) -> b <= last_bucket, bucket_requested, buckets)) AS requested_ms
        FROM
        (
            SELECT
                any(unit_ref) AS dossier_unit_ref,
                groupArray({day_month}) AS buckets,
                groupArray(flags) AS bucket_flags,
                groupArray(first_receipt) AS bucket_receipts,
                groupArray(first_resolved_date) AS bucket_resolved,
                groupArray(last_supplement) AS bucket_supplements,
                groupArray(supplement_requested_ms) AS bucket_requested,
                arrayReduce('min', arrayFilter((b, f) -> bitAnd(f, 1) != 0, buckets, bucket_flags)) AS first_received,
                arrayReduce('max', arrayFilter((b, f) -> bitAnd(f, 1) != 0, buckets, bucket_flags)) AS last_received,
                arrayReduce('min', arrayPushBack(arrayFilter((b, f) -> bitAnd(f, 2) != 0, buckets, bucket_flags), toUInt32(4294967295))) AS first_closed,
                toUInt32(toRelativeMonthNum(toDate({to})) - toRelativeMonthNum(toDate({from})) + 1) AS month_count,
                arrayPushFront(arrayFilter(k -> k >= first_received AND k <= greatest(first_closed, last_received),
                    arrayMap(i -> toUInt32(i + 1), range(month_count))), toUInt32(0)) AS months
            FROM {database}.dossier_days
            WHERE local_date <= toDate({to})
              AND {unit_filter}
            GROUP BY dossier_key
        )
        ARRAY JOIN months AS month
