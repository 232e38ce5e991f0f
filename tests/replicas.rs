//! Load's view of ClickHouse replication (`egov_load::replicas`), against real
//! servers: on the local single server there is nothing to report.

use egov_tests::{clickhouse_query, unique_settings};

#[tokio::test]
async fn a_single_server_has_no_replicas_to_report() -> anyhow::Result<()> {
    let settings = unique_settings("replicas_single")?;
    let database = settings.clickhouse.database.clone();
    let mut server = settings.clone();
    server.clickhouse.database = "default".into();
    clickhouse_query(&server, &format!("CREATE DATABASE `{database}`")).await?;
    clickhouse_query(
        &settings,
        "CREATE TABLE t (x UInt8) ENGINE = MergeTree ORDER BY x",
    )
    .await?;
    let client = egov_load::ch::query_client(&settings.clickhouse)?;
    let rows = egov_load::replicas::measure(&client, &database).await;
    clickhouse_query(&server, &format!("DROP DATABASE `{database}`")).await?;
    assert_eq!(rows?, vec![]);
    Ok(())
}
