//! Settings as `EGOV__*` variables, for a process started by another (the
//! bench's and the tests' `egov` processes): the one mapping from settings to
//! variables, so that a child loads what its parent meant.

use super::Settings;

impl Settings {
    /// The `EGOV__*` variables under which [`Settings::load`] reads these
    /// settings' brokers, topics, consumer groups and partitions, ClickHouse
    /// (URL, user, password, database, CA file, cluster) and the services'
    /// listen addresses. Everything else keeps its default unless the caller
    /// adds variables after these (a later variable of the same name wins).
    pub fn to_env(&self) -> Vec<(String, String)> {
        let (kafka, clickhouse) = (&self.kafka, &self.clickhouse);
        let mut env = vec![
            ("EGOV__KAFKA__BROKERS", kafka.brokers.clone()),
            ("EGOV__KAFKA__RAW_TOPIC", kafka.raw_topic.clone()),
            ("EGOV__KAFKA__CURATED_TOPIC", kafka.curated_topic.clone()),
            ("EGOV__KAFKA__DLQ_TOPIC", kafka.dlq_topic.clone()),
            (
                "EGOV__KAFKA__TRANSFORM_GROUP",
                kafka.transform_group.clone(),
            ),
            ("EGOV__KAFKA__LOAD_GROUP", kafka.load_group.clone()),
            ("EGOV__KAFKA__PARTITIONS", kafka.partitions.to_string()),
            ("EGOV__CLICKHOUSE__URL", clickhouse.url.clone()),
            ("EGOV__CLICKHOUSE__USER", clickhouse.user.clone()),
            (
                "EGOV__CLICKHOUSE__PASSWORD",
                clickhouse.password.expose().to_owned(),
            ),
            ("EGOV__CLICKHOUSE__DATABASE", clickhouse.database.clone()),
            ("EGOV__INGEST__LISTEN", self.ingest.listen.clone()),
            ("EGOV__TRANSFORM__LISTEN", self.transform.listen.clone()),
            ("EGOV__LOAD__LISTEN", self.load.listen.clone()),
            ("EGOV__DASHBOARD__LISTEN", self.dashboard.listen.clone()),
        ];
        if let Some(ca_file) = &clickhouse.ca_file {
            env.push(("EGOV__CLICKHOUSE__CA_FILE", ca_file.display().to_string()));
        }
        if let Some(cluster) = &clickhouse.cluster {
            env.push(("EGOV__CLICKHOUSE__CLUSTER", cluster.clone()));
        }
        env.into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn a_child_loads_what_its_parent_meant() -> anyhow::Result<()> {
        let mut parent = Settings::default();
        parent.kafka.brokers = "k1:9092,k2:9092".into();
        parent.kafka.raw_topic = "test.raw.x1".into();
        parent.kafka.curated_topic = "test.curated.x1".into();
        parent.kafka.dlq_topic = "test.dlq.x1".into();
        parent.kafka.transform_group = "test.transform.x1".into();
        parent.kafka.load_group = "test.load.x1".into();
        parent.kafka.partitions = 5;
        parent.clickhouse.url = "https://ch.example:8443".into();
        parent.clickhouse.user = "egov_writer".into();
        parent.clickhouse.password = crate::config::Secret::new("0123");
        parent.clickhouse.database = "egov_test_x1".into();
        parent.clickhouse.ca_file = Some(PathBuf::from("/etc/egov/ca.pem"));
        parent.clickhouse.cluster = Some("egov".into());
        parent.ingest.listen = "127.0.0.1:18080".into();
        parent.transform.listen = "127.0.0.1:18081".into();
        parent.load.listen = "127.0.0.1:18082".into();
        parent.dashboard.listen = "127.0.0.1:18090".into();
        let child = Settings::load_from(None, &parent.to_env())?;
        // Every Kafka and ClickHouse setting: those set above as the parent
        // has them, the others at their defaults on both sides.
        assert_eq!(child.kafka, parent.kafka);
        assert_eq!(child.clickhouse, parent.clickhouse);
        assert_eq!(child.ingest.listen, parent.ingest.listen);
        assert_eq!(child.transform.listen, parent.transform.listen);
        assert_eq!(child.load.listen, parent.load.listen);
        assert_eq!(child.dashboard.listen, parent.dashboard.listen);
        Ok(())
    }
}
