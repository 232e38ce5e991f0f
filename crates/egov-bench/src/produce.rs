//! The raw-produce ceiling: the events ingest would write, produced straight to
//! Kafka by a producer with ingest's own settings, with ingest's batching and
//! concurrency; and the pre-filling of topics for the load phase.

use crate::events::Batch;
use anyhow::{bail, Context};
use egov_runtime::config::KafkaConfig;
use egov_runtime::kafka::{self, HEADER_RECEIVED_MS, HEADER_REQUEST_ID, HEADER_SYSTEM};
use futures::future::join_all;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Queues one message, waiting while the producer's queue is full.
async fn enqueue(
    producer: &FutureProducer,
    record: FutureRecord<'_, String, Vec<u8>>,
) -> anyhow::Result<DeliveryFuture> {
    let mut record = record;
    loop {
        match producer.send_result(record) {
            Ok(delivery) => return Ok(delivery),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Err((error, _)) => return Err(error.into()),
        }
    }
}

async fn acknowledged(deliveries: Vec<DeliveryFuture>) -> anyhow::Result<()> {
    for delivery in join_all(deliveries).await {
        match delivery {
            Ok(Ok(_)) => {}
            Ok(Err((error, _))) => bail!("kafka did not acknowledge: {error}"),
            Err(_) => bail!("the producer went away"),
        }
    }
    Ok(())
}

/// Produces one batch as ingest would: every message with its key and
/// ingest's headers; done once all are acknowledged (acks=all).
async fn produce_batch(
    producer: &FutureProducer,
    topic: &str,
    batch: &Batch,
    request_id: &str,
) -> anyhow::Result<()> {
    let received_ms = chrono::Utc::now().timestamp_millis().to_string();
    let mut deliveries = Vec::with_capacity(batch.events.len());
    for event in &batch.events {
        let headers = OwnedHeaders::new_with_capacity(3)
            .insert(Header {
                key: HEADER_SYSTEM,
                value: Some(batch.system.as_str()),
            })
            .insert(Header {
                key: HEADER_RECEIVED_MS,
                value: Some(&received_ms),
            })
            .insert(Header {
                key: HEADER_REQUEST_ID,
                value: Some(request_id),
            });
        let record = FutureRecord::to(topic)
            .key(&event.key)
            .payload(&event.json)
            .headers(headers);
        deliveries.push(enqueue(producer, record).await?);
    }
    acknowledged(deliveries).await
}

/// A producer with ingest's settings, used for the raw-produce ceiling.
pub struct RawProducer {
    producer: Arc<FutureProducer>,
}

impl RawProducer {
    /// Connects and produces `warm_up` (not timed: connection, producer id
    /// and metadata ready, as ingest's producer is once it has served a request).
    pub async fn new(
        kafka_config: &KafkaConfig,
        topic: &str,
        warm_up: &[Batch],
    ) -> anyhow::Result<Self> {
        let producer = Arc::new(kafka::durable_producer(kafka_config)?);
        let warm_id = format!("bench-raw-produce-{:018}", 0);
        futures::future::try_join_all(
            warm_up
                .iter()
                .map(|batch| produce_batch(&producer, topic, batch, &warm_id)),
        )
        .await?;
        Ok(Self { producer })
    }

    /// Produces every batch to `topic` with `clients` batches in flight, as
    /// ingest does with `clients` requests in flight. Returns the time it took.
    pub async fn run(
        &self,
        topic: &str,
        batches: Arc<Vec<Batch>>,
        clients: usize,
    ) -> anyhow::Result<Duration> {
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for client in 0..clients.max(1) {
            let (producer, batches, next, topic) = (
                self.producer.clone(),
                batches.clone(),
                next.clone(),
                topic.to_owned(),
            );
            tasks.push(tokio::spawn(async move {
                // As long as ingest's request ids (UUIDs).
                let request_id = format!("bench-raw-produce-{client:018}");
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(batch) = batches.get(index) else {
                        return Ok::<_, anyhow::Error>(());
                    };
                    produce_batch(&producer, &topic, batch, &request_id).await?;
                }
            }));
        }
        for task in tasks {
            task.await.context("raw produce client")??;
        }
        Ok(started.elapsed())
    }
}

/// Writes `messages` (key, value) to each of `topics` and waits for every
/// acknowledgement; not measured.
pub async fn prefill(
    kafka_config: &KafkaConfig,
    topics: &[&str],
    messages: &[(String, Vec<u8>)],
) -> anyhow::Result<()> {
    let producer = kafka::durable_producer(kafka_config)?;
    for topic in topics {
        for chunk in messages.chunks(20_000) {
            let mut deliveries = Vec::with_capacity(chunk.len());
            for (key, value) in chunk {
                let record = FutureRecord::to(topic).key(key).payload(value);
                deliveries.push(enqueue(&producer, record).await?);
            }
            acknowledged(deliveries).await?;
        }
    }
    producer.flush(Duration::from_secs(30))?;
    Ok(())
}
