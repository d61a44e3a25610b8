//! Kafka clients configured the way every service needs them, topic creation, and the broker
//! reachability monitor behind readiness.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::ConsumerContext;
use rdkafka::producer::Producer;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, ClientContext, Statistics};

use crate::settings::ConsumerTuning;
use crate::shutdown::CancellationToken;

/// Partitions per topic: enough for a few consumer replicas, few enough for a laptop broker.
pub const PARTITIONS: i32 = 3;

/// A service's producer: requests it sends are counted (see [`RequestCounts`]).
pub type FutureProducer = rdkafka::producer::FutureProducer<RequestCounts>;
/// A service's consumer: requests it sends are counted (see [`RequestCounts`]).
pub type StreamConsumer = rdkafka::consumer::StreamConsumer<RequestCounts>;

/// How often librdkafka reports what each client sent; the counters lag by at most this.
const STATISTICS_INTERVAL_MS: &str = "5000";

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

/// Counts what each client asked of the brokers and carried: `kafka_requests_total{client,
/// request}` by kind (`Fetch`, `Produce`, `OffsetCommit`, `Heartbeat`, ...) and
/// `kafka_messages_total{client, direction}` (`sent`, `received`). The bench divides them by
/// orders: what the consumers' fetch settings and the relays' batching cost the broker.
/// librdkafka keeps the totals and reports them every [`STATISTICS_INTERVAL_MS`].
#[derive(Clone, Copy, Default)]
pub struct RequestCounts;

impl ClientContext for RequestCounts {
    fn stats(&self, statistics: Statistics) {
        let mut requests: std::collections::BTreeMap<&str, i64> = Default::default();
        for broker in statistics.brokers.values() {
            for (request, count) in &broker.req {
                *requests.entry(request).or_default() += count;
            }
        }
        let client = &statistics.name;
        for (request, count) in requests.into_iter().filter(|(_, count)| *count > 0) {
            metrics::counter!("kafka_requests_total", "client" => client.clone(), "request" => request.to_owned())
                .absolute(count.unsigned_abs());
        }
        for (direction, count) in [("sent", statistics.txmsgs), ("received", statistics.rxmsgs)] {
            if count > 0 {
                metrics::counter!("kafka_messages_total", "client" => client.clone(), "direction" => direction)
                    .absolute(count.unsigned_abs());
            }
        }
    }
}

impl ConsumerContext for RequestCounts {}

/// An idempotent producer (no duplicates or reordering on retry) that waits for all replicas.
pub fn producer(brokers: &str) -> anyhow::Result<FutureProducer> {
    Ok(client(brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "2")
        .set("message.timeout.ms", "30000")
        .set("topic.metadata.refresh.interval.ms", "10000")
        .set("statistics.interval.ms", STATISTICS_INTERVAL_MS)
        .create_with_context(RequestCounts)?)
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
        .set("statistics.interval.ms", STATISTICS_INTERVAL_MS)
        .create_with_context(RequestCounts)?)
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
