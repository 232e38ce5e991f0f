-- {day_month}: the number of the calendar month a row's local_date falls in,
-- 1 for the month of {from}, 0 before {from}; the figures per month count by it
-- (documents.sql, dossier_month_states.sql).
toUInt32(if(local_date < toDate({from}), 0, toRelativeMonthNum(local_date) - toRelativeMonthNum(toDate({from})) + 1))
