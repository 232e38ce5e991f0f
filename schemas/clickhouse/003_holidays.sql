-- Public holidays of civil servants (seeds/holidays.csv); `egov migrate` replaces its rows on every run.
CREATE TABLE IF NOT EXISTS {database}.holidays
(
    date Date,
    name String
)
ENGINE = MergeTree
ORDER BY date
