-- {month} of the queries when they count per calendar month (dossiers.sql,
-- documents.sql): the number of the month a row's local_date falls in, 1 for
-- the month of {from}, 0 before {from}. Over the whole period {month} is 0.
toUInt32(if(local_date < toDate({from}), 0, toRelativeMonthNum(local_date) - toRelativeMonthNum(toDate({from})) + 1))
