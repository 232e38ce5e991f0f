//! Deletes the Kafka topics named on the command line: the cleanup of test
//! scripts (tests/api/schemathesis.sh). Only topics named `test.*` are
//! touched. Brokers and how to reach them from the configuration
//! (`EGOV_CONFIG`, `EGOV__KAFKA__*`; default 127.0.0.1:9092).

use anyhow::{bail, Context};
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use std::time::Duration;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let topics: Vec<String> = std::env::args().skip(1).collect();
    if let Some(topic) = topics.iter().find(|t| !t.starts_with("test.")) {
        bail!("refusing to delete `{topic}`: not a test topic (test.*)");
    }
    if topics.is_empty() {
        return Ok(());
    }
    let config = std::env::var_os("EGOV_CONFIG").map(std::path::PathBuf::from);
    let settings = egov_runtime::Settings::load(config.as_deref())?;
    let admin: AdminClient<DefaultClientContext> =
        egov_runtime::kafka::client_config(&settings.kafka).create()?;
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = admin
        .delete_topics(&names, &options)
        .await
        .context("deleting topics")?;
    for result in results {
        match result {
            Ok(topic) => println!("deleted topic {topic}"),
            Err((topic, code)) => eprintln!("topic {topic}: {code}"),
        }
    }
    Ok(())
}
