//! Kafka clients configured the way every service needs them, topic creation, and the broker
//! reachability monitor behind readiness.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::StreamConsumer;
use rdkafka::producer::{FutureProducer, Producer};
use rdkafka::types::RDKafkaErrorCode;

use crate::settings::ConsumerTuning;
use crate::shutdown::CancellationToken;

/// Partitions per topic: enough for a few consumer replicas, few enough for a laptop broker.
pub const PARTITIONS: i32 = 3;

/// What every client shares. Metrics push is off: librdkafka otherwise asks the broker for a
/// telemetry subscription every few seconds (five requests a second from our clients against
/// the local broker, which answers each with a storage round trip).
fn client(brokers: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("enable.metrics.push", "false");
    config
}

/// An idempotent producer (no duplicates or reordering on retry) that waits for all replicas.
pub fn producer(brokers: &str) -> anyhow::Result<FutureProducer> {
    Ok(client(brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "2")
        .set("message.timeout.ms", "30000")
        .set("topic.metadata.refresh.interval.ms", "10000")
        .create()?)
}

/// A consumer whose offsets are committed automatically but only *stored* by us, after the
/// database transaction that handled the message has committed (at-least-once delivery).
/// Committed every 5 s (librdkafka's default): what a crash makes us read again is skipped as
/// a duplicate, and each commit is a write transaction on the broker.
///
/// Membership is dynamic: a replica that dies silently (`kill -9`, a lost node) has its
/// partitions handed to the others once `session_timeout` passes, and a new replica joins beside
/// the others, whatever its name. Static membership (`group.instance.id`) was tried and dropped:
/// the local broker then never gave a dead member's partitions to anyone
/// (`bench/results/2026-12-01-broker-choice.md`), and Kubernetes names a replaced pod anew, so
/// it would not have taken its predecessor's place there either. A replica stopped gracefully
/// leaves the group at once.
pub fn consumer(
    brokers: &str,
    group: &str,
    tuning: ConsumerTuning,
) -> anyhow::Result<StreamConsumer> {
    Ok(client(brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "5000")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set(
            "session.timeout.ms",
            tuning.session_timeout.as_millis().to_string(),
        )
        .set(
            "fetch.wait.max.ms",
            tuning.fetch_wait.as_millis().to_string(),
        )
        .set("topic.metadata.refresh.interval.ms", "5000")
        .create()?)
}

/// Creates the topics that do not exist yet.
pub async fn ensure_topics(brokers: &str, names: &[String]) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = client(brokers).create()?;
    let topics: Vec<NewTopic<'_>> = names
        .iter()
        .map(|name| NewTopic::new(name, PARTITIONS, TopicReplication::Fixed(1)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for result in admin.create_topics(&topics, &options).await? {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => anyhow::bail!("creating topic {name}: {code}"),
        }
    }
    Ok(())
}

/// Whether the broker answered a metadata request recently; updated in the background.
#[derive(Clone, Default)]
pub struct BrokerStatus(Arc<AtomicBool>);

impl BrokerStatus {
    pub fn is_up(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    pub fn set(&self, up: bool) {
        let was = self.0.swap(up, Ordering::Relaxed);
        if was != up {
            if up {
                tracing::info!("broker reachable");
            } else {
                tracing::warn!("broker unreachable");
            }
        }
    }

    /// Asks the broker for metadata every few seconds until `stop` is cancelled.
    pub async fn monitor(self, producer: FutureProducer, stop: CancellationToken) {
        loop {
            let client = producer.clone();
            let up = tokio::task::spawn_blocking(move || {
                client
                    .client()
                    .fetch_metadata(None, Duration::from_secs(2))
                    .is_ok()
            })
            .await
            .unwrap_or(false);
            self.set(up);
            let pause = if up { 3 } else { 1 };
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(pause)) => {}
            }
        }
    }
}
