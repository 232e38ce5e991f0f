-- The unit catalogue (seeds/units.csv); `egov migrate` replaces its rows on every run.
CREATE TABLE IF NOT EXISTS {database}.units
(
    code String,
    level String,
    kind String,
    name String,
    parent_code String,
    district_code String,
    valid_from Date,
    valid_to Nullable(Date)
)
ENGINE = MergeTree
ORDER BY code
