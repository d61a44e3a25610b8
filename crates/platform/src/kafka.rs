//! Kafka clients configured the way every service needs them, topic creation, and the broker
//! reachability monitor behind readiness.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::BorrowedMessage;
use rdkafka::producer::Producer;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, ClientContext, Statistics};

use crate::settings::ConsumerTuning;
use crate::shutdown::CancellationToken;

mod brokers;

pub use brokers::{Brokers, Mechanism, Protocol, Sasl};

/// Partitions per topic: enough for a few consumer replicas, few enough for a laptop broker.
pub const PARTITIONS: i32 = 3;

/// A service's producer: requests it sends are counted (see [`RequestCounts`]).
pub type FutureProducer = rdkafka::producer::FutureProducer<RequestCounts>;
/// A service's consumer: requests it sends are counted (see [`RequestCounts`]).
pub type StreamConsumer = rdkafka::consumer::StreamConsumer<RequestCounts>;

/// How often librdkafka reports what each client sent; the counters lag by at most this.
const STATISTICS_INTERVAL_MS: &str = "5000";

/// What every client shares: the brokers, signed in to as this process ([`Brokers`]).
/// - Metrics push (KIP-714) is off: nothing here collects client metrics from the brokers, and
///   librdkafka would otherwise ask each broker for a telemetry subscription every few seconds.
/// - A broker that went away is tried again at least every second (librdkafka's backoff grows
///   to 10 s): a saga placed after a broker's restart completed 8.5 to 14.6 s later, 1.1 to
///   4.6 s with this (`tests/restarts.rs`, `tests/probes.rs`, 2026-12-06).
pub fn client(brokers: &Brokers) -> ClientConfig {
    let mut config = ClientConfig::new();
    brokers.configure(&mut config);
    config
        .set("enable.metrics.push", "false")
        .set("reconnect.backoff.max.ms", "1000");
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
pub fn producer(brokers: &Brokers) -> anyhow::Result<FutureProducer> {
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
/// a duplicate, and each commit is a write on the brokers.
///
/// **Group membership.**
/// - Static, when the replica has a name of its own (`group.instance.id`, from
///   `KAFKA_GROUP_INSTANCE_ID`: the launcher gives each replica its name, Kubernetes its pod's).
///   A replica that stops or dies keeps its partitions for `session_timeout`; started again
///   within it, under the same name, it takes them back at once, and nobody else's partitions
///   move. Once the timeout passes, the others take its partitions over. Two replicas with one
///   name fence each other: the name must be unique in the group.
/// - Dynamic without a name (the services' own tests, several instances in one process): a
///   member that stops leaves at once.
///
/// **Cooperative-sticky assignment.** When a member joins or leaves, only the partitions that
/// move are revoked; the others keep consuming through the rebalance, instead of every member
/// giving up everything and starting over (the eager protocols).
pub fn consumer(
    brokers: &Brokers,
    group: &str,
    tuning: &ConsumerTuning,
) -> anyhow::Result<StreamConsumer> {
    let mut config = client(brokers);
    // Named in Kafka's own tools (`consumer-groups --describe`) by replica, or by group.
    config.set("client.id", tuning.instance_id.as_deref().unwrap_or(group));
    if let Some(instance) = &tuning.instance_id {
        config.set("group.instance.id", instance);
    }
    Ok(config
        .set("group.id", group)
        .set("partition.assignment.strategy", "cooperative-sticky")
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

/// How a consumer's session ended.
pub(crate) enum SessionEnd {
    /// Stopped on purpose, or unable to go on at all (it logged why): nothing more to do.
    Stopped,
    /// librdkafka gave this consumer up for good (a fatal error): a new one takes its place.
    Fatal(KafkaError),
}

/// Whether a consumer that returned `error` can never consume again.
fn is_fatal(error: &KafkaError) -> bool {
    matches!(error, KafkaError::MessageConsumptionFatal(_))
}

/// A consumer's receive errors, logged once per outage instead of once each.
///
/// While the brokers are away librdkafka queues an error for every failed attempt to reach
/// them, and the consumer reads them back one by one before any message. They are read as fast
/// as they come (waiting between them would hold the first messages back for as long as the
/// queue takes to drain at that pace, long after the brokers are back), and logged as one
/// warning when the first arrives, a reminder with the count every [`ReceiveErrors::REMIND`],
/// and a line when messages flow again.
pub(crate) struct ReceiveErrors {
    /// Which consumer, in the log lines.
    consumer: &'static str,
    streak: u64,
    last_logged: Option<std::time::Instant>,
}

impl ReceiveErrors {
    const REMIND: Duration = Duration::from_secs(30);

    pub(crate) fn new(consumer: &'static str) -> Self {
        Self {
            consumer,
            streak: 0,
            last_logged: None,
        }
    }

    fn failed(&mut self, error: &KafkaError) {
        self.streak += 1;
        let now = std::time::Instant::now();
        if self.last_logged.is_none_or(|at| now - at >= Self::REMIND) {
            self.last_logged = Some(now);
            tracing::warn!(error = %error, errors = self.streak, consumer = self.consumer, "consumer: receive failed");
        }
    }

    fn received(&mut self) {
        if self.streak > 0 {
            tracing::info!(
                errors = self.streak,
                consumer = self.consumer,
                "consumer: receiving again"
            );
        }
        self.streak = 0;
        self.last_logged = None;
    }
}

/// What [`next`] brought.
pub(crate) enum Next<'c> {
    Message(BorrowedMessage<'c>),
    /// librdkafka gave the consumer up for good: a new one must take its place.
    Fatal(KafkaError),
}

/// The next message of `consumer`; receive errors that are not fatal are counted in `errors`
/// and skipped. Cancel-safe, like `recv`.
pub(crate) async fn next<'c>(consumer: &'c StreamConsumer, errors: &mut ReceiveErrors) -> Next<'c> {
    loop {
        match consumer.recv().await {
            Ok(message) => {
                errors.received();
                return Next::Message(message);
            }
            Err(err) if is_fatal(&err) => return Next::Fatal(err),
            Err(err) => errors.failed(&err),
        }
    }
}

/// The fatal error librdkafka holds for `consumer`, if it has given it up. librdkafka reports
/// a fatal error once; one that came while nobody was receiving shows here.
pub(crate) fn fatal(consumer: &StreamConsumer) -> Option<KafkaError> {
    consumer
        .client()
        .fatal_error()
        .map(|(code, _)| KafkaError::MessageConsumptionFatal(code))
}

/// A service's place in a consumer group: what it takes to make its consumer, and to make it
/// again when librdkafka gives one up for good.
///
/// That happens to a static member (see [`consumer`]) that the group's coordinator fences:
/// when a broker that coordinated the group dies, the next coordinator can hold an older member
/// id for the replica's name than the one the replica presents (its last join's answer was lost
/// with the broker), and fences the replica by its own name, which librdkafka treats as fatal.
/// A new consumer joins under the same name with no member id, which the coordinator accepts as
/// that name's new owner. Two replicas that share a name would fence each other in turn, each
/// new consumer a little later than the last (up to [`GroupMember::MAX_BACKOFF`]), logging an
/// error each time: names must be unique in the group.
#[derive(Clone)]
pub(crate) struct GroupMember {
    brokers: Brokers,
    group: String,
    tuning: ConsumerTuning,
}

impl GroupMember {
    const MAX_BACKOFF: Duration = Duration::from_secs(30);
    /// A session that lasted this long was healthy: the next failure waits the least again.
    const HEALTHY: Duration = Duration::from_secs(60);

    pub(crate) fn new(brokers: &Brokers, group: &str, tuning: &ConsumerTuning) -> Self {
        Self {
            brokers: brokers.clone(),
            group: group.to_owned(),
            tuning: tuning.clone(),
        }
    }

    /// The brokers it joins the group on, as this service.
    pub(crate) fn brokers(&self) -> &Brokers {
        &self.brokers
    }

    /// The group's name.
    pub(crate) fn group(&self) -> &str {
        &self.group
    }

    /// Runs `session` with a consumer of the group, and with a new consumer each time one ends
    /// with a fatal error, until a session ends otherwise or `stop` is cancelled.
    pub(crate) async fn serve<F, Fut>(&self, stop: &CancellationToken, mut session: F)
    where
        F: FnMut(StreamConsumer) -> Fut,
        Fut: Future<Output = SessionEnd>,
    {
        let mut backoff = Duration::from_secs(1);
        loop {
            let started = std::time::Instant::now();
            let end = match consumer(&self.brokers, &self.group, &self.tuning) {
                Ok(consumer) => session(consumer).await,
                Err(err) => {
                    tracing::error!(error = %err, group = %self.group, "consumer: could not be made");
                    SessionEnd::Stopped
                }
            };
            let SessionEnd::Fatal(err) = end else {
                return;
            };
            if started.elapsed() >= Self::HEALTHY {
                backoff = Duration::from_secs(1);
            }
            metrics::counter!("consumer_replaced_total").increment(1);
            tracing::error!(
                error = %err,
                group = %self.group,
                retry_in_ms = backoff.as_millis() as u64,
                "consumer: given up for good by librdkafka (a static member fenced under its own \
                 name, most often after its group's coordinator moved); joining again with a new one"
            );
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Self::MAX_BACKOFF);
        }
    }
}

/// Creates the topics that do not exist yet, with [`PARTITIONS`] partitions each and the
/// brokers' own replication settings (`default.replication.factor`, `min.insync.replicas`):
/// the local launcher sets three replicas with two in sync on a cluster of three
/// (`crates/stack/src/kafka/config.rs`), one alone; a managed cluster has its own. A cluster
/// that cannot place every replica (a node down) refuses to make the topic rather than make it
/// with fewer.
pub async fn ensure_topics(brokers: &Brokers, names: &[String]) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = client(brokers).create()?;
    let topics: Vec<NewTopic<'_>> = names
        .iter()
        .map(|name| NewTopic::new(name, PARTITIONS, TopicReplication::Fixed(-1)))
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
        crate::health::record_dependency("broker", up);
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
