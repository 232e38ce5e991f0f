//! The names of everything a run creates (topics, consumer groups,
//! databases), unique to the run, and their removal at the end.

use crate::ch::ClickHouse;
use egov_runtime::config::Settings;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use std::time::Duration;

/// Names of everything the run creates.
#[derive(Debug, Clone)]
pub struct Names {
    pub id: String,
    pub raw: String,
    pub curated: String,
    pub dlq: String,
    pub produce: String,
    pub ingest_only: String,
    pub abuse: String,
    pub load_topic: String,
    pub engine_topic: String,
    pub transform_group: String,
    pub load_group: String,
    pub pipeline_db: String,
    pub rounds: usize,
}

impl Names {
    pub fn new(rounds: usize) -> Self {
        let id = format!(
            "{:x}{:04x}",
            chrono::Utc::now().timestamp(),
            rand::random::<u16>()
        );
        let topic = |what: &str| format!("bench.{id}.{what}");
        Self {
            raw: topic("raw"),
            curated: topic("curated"),
            dlq: topic("dlq"),
            produce: topic("produce"),
            ingest_only: topic("ingest-only"),
            abuse: topic("abuse"),
            load_topic: topic("load"),
            engine_topic: topic("engine"),
            transform_group: topic("transform"),
            load_group: topic("pipeline-load"),
            pipeline_db: format!("egov_bench_{id}"),
            rounds,
            id,
        }
    }

    pub fn topics(&self) -> Vec<&str> {
        vec![
            &self.raw,
            &self.curated,
            &self.dlq,
            &self.produce,
            &self.ingest_only,
            &self.abuse,
            &self.load_topic,
            &self.engine_topic,
        ]
    }

    pub fn load_group_of(&self, round: usize) -> String {
        format!("bench.{}.load{round}", self.id)
    }

    pub fn engine_group_of(&self, round: usize) -> String {
        format!("bench.{}.engine{round}", self.id)
    }

    pub fn load_db(&self, round: usize) -> String {
        format!("egov_bench_{}_load{round}", self.id)
    }

    pub fn engine_db(&self, round: usize) -> String {
        format!("egov_bench_{}_engine{round}", self.id)
    }

    pub fn groups(&self) -> Vec<String> {
        let mut groups = vec![self.transform_group.clone(), self.load_group.clone()];
        for round in 0..self.rounds {
            groups.push(self.load_group_of(round));
            groups.push(self.engine_group_of(round));
        }
        groups
    }

    pub fn databases(&self) -> Vec<String> {
        let mut databases = vec![self.pipeline_db.clone()];
        for round in 0..self.rounds {
            databases.push(self.load_db(round));
            databases.push(self.engine_db(round));
        }
        databases
    }
}

/// Drops the run's databases, then deletes its topics and consumer groups.
pub async fn cleanup(settings: &Settings, names: &Names) -> anyhow::Result<()> {
    let ch = ClickHouse::new(&settings.clickhouse)?;
    for database in names.databases() {
        anyhow::ensure!(
            database.starts_with("egov_bench_"),
            "not a bench database: {database}"
        );
        ch.execute(&format!(
            "DROP DATABASE IF EXISTS {}",
            egov_runtime::clickhouse::ident(&database)
        ))
        .await?;
    }
    let admin: AdminClient<DefaultClientContext> =
        egov_runtime::kafka::client_config(&settings.kafka).create()?;
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    admin.delete_topics(&names.topics(), &options).await?;
    // A group is deletable once its members are gone; ClickHouse's may take a moment.
    for _ in 0..10 {
        let groups = names.groups();
        let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
        let results = admin.delete_groups(&groups, &options).await?;
        if results.iter().all(|r| match r {
            Ok(_) => true,
            Err((_, code)) => *code == rdkafka::types::RDKafkaErrorCode::GroupIdNotFound,
        }) {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(())
}
