//! Kafka plumbing shared by the services: client settings, topic creation,
//! and the headers that travel with every message.

use crate::backoff::{millis, Backoff};
use crate::config::KafkaConfig;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::FutureProducer;
use rdkafka::TopicPartitionList;
use std::collections::HashMap;
use std::time::Duration;

/// Headers set by ingest on raw messages.
pub const HEADER_SYSTEM: &str = "egov-system";
pub const HEADER_RECEIVED_MS: &str = "egov-received-ms";
pub const HEADER_REQUEST_ID: &str = "egov-request-id";
// The headers of dead letters are in `crate::dead_letter`.

/// The settings every Kafka client of the services and tools starts from:
/// the brokers and how to reach them (TLS, SASL), from `kafka.*`. Every
/// `ClientConfig` is built here, so a secured cluster works for every command.
pub fn client_config(config: &KafkaConfig) -> ClientConfig {
    let mut client = ClientConfig::new();
    client
        .set("bootstrap.servers", &config.brokers)
        // Kafka may be restarted under us; keep trying rather than give up.
        .set("reconnect.backoff.max.ms", "2000")
        .set(
            "security.protocol",
            config.security_protocol.as_librdkafka(),
        );
    if config.security_protocol.uses_sasl() {
        client
            .set("sasl.mechanism", config.sasl_mechanism.as_str())
            .set("sasl.username", &config.sasl_username)
            .set("sasl.password", config.sasl_password.expose());
    }
    if config.security_protocol.uses_tls() {
        if let Some(ca_file) = &config.ssl_ca_file {
            client.set("ssl.ca.location", ca_file.to_string_lossy());
        }
    }
    if !config.client_debug.is_empty() {
        client.set("debug", &config.client_debug);
    }
    client
}

/// A producer whose acknowledgement means durable: acks=all and idempotence,
/// so a retried send never writes a message twice.
pub fn durable_producer(config: &KafkaConfig) -> Result<FutureProducer, KafkaError> {
    client_config(config)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("compression.type", "lz4")
        .set("linger.ms", "5")
        .set("message.timeout.ms", config.produce_timeout_ms.to_string())
        .set(
            "queue.buffering.max.messages",
            config.producer_queue_max_messages.to_string(),
        )
        .set(
            "queue.buffering.max.kbytes",
            config.producer_queue_max_kbytes.to_string(),
        )
        .create()
}

/// A consumer that never commits on its own judgement: offsets are stored by
/// the service once what it read is durable elsewhere, and committed from there.
pub fn durable_consumer(
    config: &KafkaConfig,
    group: &str,
    topic: &str,
) -> Result<StreamConsumer, KafkaError> {
    let consumer: StreamConsumer = client_config(config)
        .set("group.id", group)
        .set("enable.partition.eof", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        .set("enable.auto.offset.store", "false")
        .set("session.timeout.ms", "10000")
        // Load holds its batch while ClickHouse is down instead of polling;
        // allow long outages before the group gives the partitions away.
        .set("max.poll.interval.ms", "900000")
        // Bounded prefetch: what waits in memory while a service is paused.
        .set("queued.max.messages.kbytes", "16384")
        // Once the prefetch is full, fetch again as soon as it drains: the default
        // (1 s) left a catching-up consumer idle for up to a second per batch.
        .set("fetch.queue.backoff.ms", "20")
        .create()?;
    consumer.subscribe(&[topic])?;
    Ok(consumer)
}

/// A consumer that reads the partitions it is `assign`ed and commits only
/// what it is told to: it joins no group's rebalances (`group.id` only names
/// where explicit commits go).
pub fn assigned_consumer(config: &KafkaConfig, group: &str) -> Result<StreamConsumer, KafkaError> {
    client_config(config)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        .create()
}

/// Whether Kafka refused a produce for good: sending the same record again
/// cannot succeed (too large for the topic or the client, an invalid or
/// corrupt record, a timestamp out of the topic's range). Anything else
/// (timeouts, a broker away, leadership moving) may pass and is retried.
pub fn is_refused_for_good(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
                | RDKafkaErrorCode::MessageBatchTooLarge
                | RDKafkaErrorCode::InvalidMessageSize
                | RDKafkaErrorCode::InvalidMessage
                | RDKafkaErrorCode::InvalidRecord
                | RDKafkaErrorCode::InvalidTimestamp
        )
    )
}

/// Produces one record (made afresh by `record` for every attempt) until
/// Kafka acknowledges it (`Some(Ok)`) or refuses it for good (`Some(Err)`,
/// [`is_refused_for_good`]), retrying other errors with backoff; `None` if
/// shutdown came first. Alone in flight, the record is in a batch of its own:
/// a message refused only because it shared a batch with a too large one passes.
pub async fn produce_until_settled<'a, F>(
    producer: &FutureProducer,
    record: F,
    shutdown: &mut crate::shutdown::Shutdown,
) -> Option<Result<(), KafkaError>>
where
    F: Fn() -> rdkafka::producer::FutureRecord<'a, [u8], [u8]>,
{
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
    loop {
        let error = tokio::select! {
            _ = shutdown.wait() => return None,
            result = producer.send(record(), Duration::from_secs(5)) => match result {
                Ok(_) => return Some(Ok(())),
                Err((error, _)) => error,
            },
        };
        if is_refused_for_good(&error) {
            return Some(Err(error));
        }
        let topic = record().topic;
        let pause = backoff.pause();
        tracing::warn!(topic, %error, retry_in_ms = millis(pause), "produce failed; retrying");
        if !Backoff::sleep(pause, shutdown).await {
            return None;
        }
    }
}

/// Creates the topics that do not exist yet as configured (replicas,
/// `min.insync.replicas`, retention: [`crate::topics`]); existing ones are left
/// as they are, and reported when weaker than configured.
pub async fn ensure_topics(config: &KafkaConfig, topics: &[&str]) -> Result<(), KafkaError> {
    let checks = crate::topics::ensure(config, topics).await?;
    crate::topics::report(&checks);
    Ok(())
}

/// The value of a UTF-8 header, if present.
pub fn header<'a, M: Message>(message: &'a M, name: &str) -> Option<&'a str> {
    let headers = message.headers()?;
    headers
        .iter()
        .find(|h| h.key == name)
        .and_then(|h| h.value)
        .and_then(|v| std::str::from_utf8(v).ok())
}

/// Tracks, per partition, the next offset to store once a round is durable.
#[derive(Debug, Default)]
pub struct OffsetTracker {
    next: HashMap<(String, i32), i64>,
}

impl OffsetTracker {
    pub fn observe<M: Message>(&mut self, message: &M) {
        let key = (message.topic().to_owned(), message.partition());
        let next = message.offset() + 1;
        let entry = self.next.entry(key).or_insert(next);
        *entry = (*entry).max(next);
    }

    pub fn is_empty(&self) -> bool {
        self.next.is_empty()
    }

    /// Stores the tracked offsets of the partitions the consumer still owns
    /// (committed by its next auto-commit) and forgets them all. A partition a
    /// rebalance took away meanwhile (another instance of the stage died or
    /// joined) is passed over: its new owner reads it again from the last
    /// committed offset, and what is read twice counts once downstream (at least
    /// once). Storing the offset of a partition not owned would fail and stop the
    /// service.
    pub fn store(&mut self, consumer: &StreamConsumer) -> Result<(), KafkaError> {
        if self.next.is_empty() {
            return Ok(());
        }
        let owned = consumer.assignment()?;
        let mut list = TopicPartitionList::new();
        let mut revoked = 0usize;
        for ((topic, partition), offset) in self.next.drain() {
            if owned.find_partition(&topic, partition).is_some() {
                list.add_partition_offset(&topic, partition, rdkafka::Offset::Offset(offset))?;
            } else {
                revoked += 1;
            }
        }
        let stored = match consumer.store_offsets(&list) {
            // Revoked between the assignment read above and now.
            Err(KafkaError::StoreOffset(RDKafkaErrorCode::State)) => {
                revoked += list.count();
                Ok(())
            }
            other => other,
        };
        if revoked > 0 {
            tracing::warn!(
                partitions = revoked,
                "offsets not stored for partitions a rebalance took away; their new owner reads them again"
            );
        }
        stored
    }
}

/// Reads every message a topic holds right now, from its low to its high
/// watermark, and hands each to `visit`. It joins no consumer group and commits
/// nothing, so it never disturbs the services. Returns how many it read.
pub async fn scan_topic<F>(
    config: &KafkaConfig,
    topic: &str,
    mut visit: F,
) -> Result<u64, KafkaError>
where
    F: FnMut(&rdkafka::message::BorrowedMessage<'_>),
{
    let consumer = assigned_consumer(config, &format!("egov-scan-{}", std::process::id()))?;
    let timeout = Duration::from_secs(10);
    let metadata = consumer.fetch_metadata(Some(topic), timeout)?;
    let mut assignment = TopicPartitionList::new();
    let mut remaining: HashMap<i32, i64> = HashMap::new();
    for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
        let (low, high) = consumer.fetch_watermarks(topic, partition.id(), timeout)?;
        if high > low {
            assignment.add_partition_offset(topic, partition.id(), rdkafka::Offset::Offset(low))?;
            remaining.insert(partition.id(), high);
        }
    }
    if remaining.is_empty() {
        return Ok(0);
    }
    consumer.assign(&assignment)?;
    let mut read = 0u64;
    while !remaining.is_empty() {
        let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .map_err(|_| KafkaError::MessageConsumption(RDKafkaErrorCode::OperationTimedOut))??;
        let partition = message.partition();
        if let Some(high) = remaining.get(&partition).copied() {
            if message.offset() < high {
                visit(&message);
                read += 1;
            }
            if message.offset() + 1 >= high {
                remaining.remove(&partition);
            }
        }
    }
    Ok(read)
}

/// [`ensure_topics`] until it succeeds or `shutdown`: a service starting while
/// Kafka is down keeps running (ingest answers 503 meanwhile) instead of exiting.
/// Then the topics are checked again every [`crate::topics::RECHECK_INTERVAL`]
/// until `shutdown`, so that the gauge follows a topic fixed or weakened while
/// the service runs; a change is logged.
pub async fn ensure_topics_retrying(
    config: &KafkaConfig,
    topics: &[&str],
    mut shutdown: crate::shutdown::Shutdown,
) {
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(10));
    let first = loop {
        let pause = backoff.pause();
        match crate::topics::ensure(config, topics).await {
            Ok(checks) => break checks,
            Err(error) => {
                tracing::warn!(%error, retry_in_ms = millis(pause), "cannot create topics yet; retrying");
            }
        }
        if !Backoff::sleep(pause, &mut shutdown).await {
            return;
        }
    };
    crate::topics::report(&first);
    let config = config.clone();
    let topics: Vec<String> = topics.iter().map(|t| (*t).to_owned()).collect();
    tokio::spawn(async move {
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        let mut last = first;
        loop {
            tokio::select! {
                _ = shutdown.wait() => return,
                _ = tokio::time::sleep(crate::topics::RECHECK_INTERVAL) => {}
            }
            match crate::topics::check(&config, &names).await {
                Ok(checks) if checks != last => {
                    crate::topics::report(&checks);
                    if checks.iter().all(|c| c.weaker.is_empty()) {
                        tracing::info!(topics = ?names, "topic settings as configured now");
                    }
                    last = checks;
                }
                Ok(_) => {}
                Err(error) => tracing::debug!(%error, "topic settings not checked"),
            }
        }
    });
}

/// The next message. Errors a consumer reports (the broker went away, a
/// rebalance failed) are transient for librdkafka, which reconnects and
/// rejoins by itself; a service that returned on them would stop consuming
/// for good after a broker restart.
pub async fn next_message(consumer: &StreamConsumer) -> rdkafka::message::BorrowedMessage<'_> {
    loop {
        match consumer.recv().await {
            Ok(message) => return message,
            Err(error) => {
                tracing::warn!(%error, "consumer error; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}
