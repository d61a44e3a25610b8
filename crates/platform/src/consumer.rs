//! The consumer loop every service runs: decode, dedup, handle in one transaction, then store
//! the offset.
//!
//! Guarantees:
//! - **Effectively once.** The handler's effect and the `processed_events` row for the event id
//!   commit together; a redelivered event finds its row and is skipped. The offset is stored only
//!   after that commit, so a crash redelivers instead of losing.
//! - **Poison messages do not block, and are never applied.** A message that cannot be decoded
//!   or that breaks its contract ([`Envelope::validate`]: values out of range, a version this
//!   build does not read) goes to the dead-letter topic at once, with the reason in its headers;
//!   one whose handler keeps rejecting it goes there after `max_attempts` tries with backoff.
//!   Either way the loop moves on. If the dead-letter topic cannot be written
//!   ([`DEAD_LETTER_ATTEMPTS`] tries), the loop stops loudly and readiness turns false, rather
//!   than spin on that message.
//! - **Only from where it belongs.** Every record is checked against the topic it arrived on
//!   ([`Envelope::check_origin`]): an event type another topic carries, or a `source` other than
//!   the topic's owner, is dead-lettered at once, whatever this service wants of it.
//! - **Nothing that contradicts what we know.** A handler that finds an event at odds with its
//!   own data (a refund for a payment it never took, another customer for a known order)
//!   answers [`HandlerError::Contradicts`]: nothing is applied and the event is dead-lettered at
//!   once with the reason; in a batch, only that event (the batch is replayed one by one).
//! - **Outages do not poison.** While the database is unreachable the same message is retried
//!   with capped backoff for as long as it takes; it is never dead-lettered for that.
//! - **Batches.** Messages already buffered are applied together, up to [`BATCH`] in one
//!   transaction: one commit (one WAL flush) instead of one per event, which is what bounds a
//!   consumer's throughput. If anything in a batch fails, the batch is rolled back and its
//!   messages are handled one by one, so the guarantees above hold message by message.
//! - **Traced.** Each applied event is a span of its order's trace (the record's `traceparent`,
//!   see [`crate::trace`]); what the handler publishes for that order continues it, and every
//!   line it logs carries the trace id.

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use contracts::{Envelope, Event, Topic, TopicNames};
use rdkafka::Message;
use rdkafka::consumer::Consumer;
use rdkafka::message::Headers;
use tracing::Instrument;
use uuid::Uuid;

use crate::health::ConsumerStatus;
use crate::kafka::{
    self, FutureProducer, GroupMember, Next, ReceiveErrors, SessionEnd, StreamConsumer,
};
use crate::shutdown::CancellationToken;
use crate::unit_of_work::{Store, UnitOfWork};

mod assignment;
mod dead_letter;
mod redrive;
mod runs;
mod spans;

use assignment::AssignmentWatch;
pub use redrive::Redrive;
pub use runs::{Run, runs};
use spans::applying;

/// A consumed event and the trace it continues (its record's `traceparent` header).
pub(crate) struct Received {
    pub envelope: Envelope,
    pub traceparent: Option<String>,
}

impl Received {
    fn decode(message: &impl Message) -> Result<Self, serde_json::Error> {
        let envelope = Envelope::from_json(message.payload().unwrap_or_default())?;
        let traceparent = message.headers().and_then(|headers| {
            headers
                .iter()
                .find(|h| h.key == crate::trace::HEADER)
                .and_then(|h| std::str::from_utf8(h.value?).ok())
                .map(str::to_owned)
        });
        Ok(Self {
            envelope,
            traceparent,
        })
    }
}

/// Why a handler did not apply an event.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The event cannot be applied, now or ever (a contract violation).
    #[error("rejected: {0}")]
    Rejected(String),
    /// The event contradicts what this service knows (a payment it does not hold, an order's
    /// customer other than the one it knows, a state the event cannot follow): forged or broken
    /// upstream. Dead-lettered at once with this reason, never retried, nothing applied.
    #[error("contradicts what we know: {0}")]
    Contradicts(String),
}

impl HandlerError {
    /// A refusal with `reason`, built the way handlers write it: `HandlerError::contradicts(..)`.
    pub fn contradicts(reason: impl Into<String>) -> Self {
        HandlerError::Contradicts(reason.into())
    }

    fn is_transient(&self) -> bool {
        matches!(self, HandlerError::Database(e) if crate::db::is_transient(e))
    }
}

/// One service's reaction to the events it consumes.
///
/// Batch-first: [`EventHandler::apply`] gets every wanted event of a consumed batch at once, in
/// order, inside one [`UnitOfWork`]. A handler that reacts to events one at a time loops over
/// them and calls one function per event type (`on_payment_cancelled(work, cancelled)`); one
/// that can apply a common event set-based splits the batch with [`runs`].
pub trait EventHandler: Send + Sync + 'static {
    /// Whether this service acts on `event`; the others are skipped without a transaction.
    fn wants(&self, event: &Event) -> bool;

    /// Applies `batch` inside `work`: the effect, the events it publishes
    /// ([`UnitOfWork::publish`]) and the dedup rows commit together. Called under a span that
    /// names the event (for several, each one's id, type and order, in order); a batch that
    /// fails is rolled back and replayed one event at a time, each under its own span.
    fn apply(
        &self,
        work: &mut UnitOfWork,
        batch: &[&Envelope],
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

/// Most messages applied in one transaction.
pub const BATCH: usize = 200;

/// Tries to put one message on the dead-letter topic before the consumer gives up and stops.
/// Each try waits up to the producer's delivery timeout (30 s) while the broker is away, so
/// this is minutes of outage, not a blip.
pub const DEAD_LETTER_ATTEMPTS: u32 = 10;

pub(crate) struct ConsumerLoop<H> {
    pub member: GroupMember,
    pub status: ConsumerStatus,
    pub store: Store,
    pub handler: H,
    pub producer: FutureProducer,
    pub topics: TopicNames,
    pub service: String,
    pub max_attempts: u32,
}

enum Outcome {
    Done,
    /// Why, and how many times the handler was tried (0: it never could be).
    DeadLetter(String, u32),
    Stopped,
}

impl<H: EventHandler> ConsumerLoop<H> {
    /// Consumes `subscribe`, and the redrive requests ([`Redrive`]), until `stop`.
    pub(crate) async fn run(self, subscribe: &[Topic], stop: CancellationToken) {
        let _stopped_when_done = self.status.stopped_on_drop();
        let names: Vec<String> = subscribe
            .iter()
            .chain([&Topic::Redrive])
            .map(|t| self.topics.name(*t))
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        self.member
            .serve(&stop, |consumer| {
                self.session(consumer, &refs, subscribe, &stop)
            })
            .await;
        tracing::info!("consumer stopped");
    }

    /// Consumes with `consumer` until `stop`, or until it fails for good (then a new consumer
    /// takes over: see [`GroupMember`]).
    async fn session(
        &self,
        consumer: StreamConsumer,
        topics: &[&str],
        subscribed: &[Topic],
        stop: &CancellationToken,
    ) -> SessionEnd {
        if let Err(err) = consumer.subscribe(topics) {
            tracing::error!(error = %err, "consumer: subscribe failed");
            return SessionEnd::Stopped;
        }
        tracing::info!(?topics, "consumer started");
        let mut assignment = AssignmentWatch::new(&self.service);
        let mut check = tokio::time::interval(AssignmentWatch::EVERY);
        let mut errors = ReceiveErrors::new("events");
        loop {
            let next = tokio::select! {
                () = stop.cancelled() => return SessionEnd::Stopped,
                _ = check.tick() => {
                    if let Some(err) = kafka::fatal(&consumer) {
                        return SessionEnd::Fatal(err);
                    }
                    let partitions = consumer.assignment().map(|list| list.count()).unwrap_or(0);
                    assignment.observe(partitions, std::time::Instant::now());
                    continue;
                }
                next = kafka::next(&consumer, &mut errors) => next,
            };
            let mut batch = match next {
                Next::Message(message) => vec![message],
                Next::Fatal(err) => return SessionEnd::Fatal(err),
            };
            // Whatever is already buffered joins the batch; nothing waits for more.
            let mut fatal = None;
            while batch.len() < BATCH && fatal.is_none() {
                match tokio::time::timeout(Duration::ZERO, kafka::next(&consumer, &mut errors))
                    .await
                {
                    Ok(Next::Message(message)) => batch.push(message),
                    Ok(Next::Fatal(err)) => fatal = Some(err),
                    Err(_nothing_buffered) => break,
                }
            }
            let redrives = self.topics.name(Topic::Redrive);
            let (requests, events): (Vec<_>, Vec<_>) =
                batch.into_iter().partition(|m| m.topic() == redrives);
            if !self.process_batch(&events, stop).await {
                return SessionEnd::Stopped;
            }
            for request in &requests {
                if !self.redrive(request, subscribed, stop).await {
                    return SessionEnd::Stopped;
                }
            }
            for message in events.iter().chain(&requests) {
                if let Err(err) = consumer.store_offset_from_message(message) {
                    tracing::warn!(error = %err, "consumer: storing the offset failed");
                }
            }
            if let Some(err) = fatal {
                return SessionEnd::Fatal(err);
            }
        }
    }

    /// Handles a batch; false when stopped first (no offset of the batch is stored then, and
    /// what was applied is skipped as a duplicate on redelivery).
    async fn process_batch<M: Message + Sync>(
        &self,
        batch: &[M],
        stop: &CancellationToken,
    ) -> bool {
        if batch.len() > 1 {
            let decoded: Option<Vec<Received>> =
                batch.iter().map(|m| Received::decode(m).ok()).collect();
            let wanted = self.applicable(batch, &decoded);
            // Anything undecodable, misplaced or invalid sends the batch one by one, where it
            // is dead-lettered on its own.
            if let Some(wanted) = wanted {
                let mut delay = Duration::from_millis(100);
                loop {
                    match self.apply(&wanted).await {
                        Ok(()) => return true,
                        Err(err) if err.is_transient() => {
                            tracing::warn!(error = %err, "consumer: database unavailable; retrying the batch");
                        }
                        Err(err) => {
                            tracing::debug!(error = %err, "consumer: batch failed; handling its messages one by one");
                            break;
                        }
                    }
                    tokio::select! {
                        () = stop.cancelled() => return false,
                        () = tokio::time::sleep(delay) => {}
                    }
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
        for message in batch {
            match self.process(message, stop).await {
                Outcome::Done => {}
                Outcome::DeadLetter(reason, attempts) => {
                    if !self.dead_letter(message, &reason, attempts, stop).await {
                        return false;
                    }
                }
                Outcome::Stopped => return false,
            }
        }
        true
    }

    async fn process(&self, message: &(impl Message + Sync), stop: &CancellationToken) -> Outcome {
        let received = match Received::decode(message) {
            Ok(received) => received,
            Err(err) => return Outcome::DeadLetter(format!("undecodable event: {err}"), 0),
        };
        let envelope = &received.envelope;
        if let Err(misplaced) = self.check_origin(message, envelope) {
            return Outcome::DeadLetter(format!("misplaced event: {misplaced}"), 0);
        }
        if !self.handler.wants(&envelope.event) {
            return Outcome::Done;
        }
        if let Err(violation) = envelope.validate() {
            return Outcome::DeadLetter(format!("invalid event: {violation}"), 0);
        }
        let mut attempt = 0u32;
        let mut delay = Duration::from_millis(100);
        loop {
            match self.apply(&[&received]).await {
                Ok(()) => return Outcome::Done,
                Err(err) if err.is_transient() => {
                    tracing::warn!(error = %err, event_type = envelope.event_type(), "consumer: database unavailable; retrying");
                }
                // Trying again would find the same data: no retries.
                Err(err @ HandlerError::Contradicts(_)) => {
                    return Outcome::DeadLetter(err.to_string(), attempt + 1);
                }
                Err(err) => {
                    attempt += 1;
                    tracing::warn!(error = %err, attempt, event_type = envelope.event_type(), event_id = %envelope.event_id, "consumer: handler failed");
                    if attempt >= self.max_attempts {
                        return Outcome::DeadLetter(err.to_string(), attempt);
                    }
                }
            }
            tokio::select! {
                () = stop.cancelled() => return Outcome::Stopped,
                () = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }

    /// The wanted events of `batch`, to apply together; `None` when any of its messages is
    /// undecodable, misplaced or invalid.
    fn applicable<'r>(
        &self,
        batch: &[impl Message],
        decoded: &'r Option<Vec<Received>>,
    ) -> Option<Vec<&'r Received>> {
        let received = decoded.as_ref()?;
        let placed = batch
            .iter()
            .zip(received)
            .all(|(m, r)| self.check_origin(m, &r.envelope).is_ok());
        if !placed {
            return None;
        }
        received
            .iter()
            .filter(|r| self.handler.wants(&r.envelope.event))
            .map(|r| r.envelope.validate().is_ok().then_some(r))
            .collect()
    }

    /// Whether `envelope` may have come on the topic `message` arrived on (see
    /// [`Envelope::check_origin`]).
    fn check_origin(
        &self,
        message: &impl Message,
        envelope: &Envelope,
    ) -> Result<(), contracts::Misplaced> {
        match self.topics.topic(message.topic()) {
            Some(topic) => envelope.check_origin(topic),
            // Only this loop's own subscriptions are consumed, all named by `self.topics`.
            None => envelope.check_origin(Topic::DeadLetter),
        }
    }

    /// Applies `envelopes` in one transaction, skipping those already processed. The dedup rows
    /// of the whole batch go in with one statement; its answer says which events are fresh.
    async fn apply(&self, received: &[&Received]) -> Result<(), HandlerError> {
        if received.is_empty() {
            return Ok(());
        }
        let envelopes: Vec<&Envelope> = received.iter().map(|r| &r.envelope).collect();
        let ids: Vec<Uuid> = envelopes.iter().map(|e| e.event_id).collect();
        let types: Vec<&str> = envelopes.iter().map(|e| e.event_type()).collect();
        let started = std::time::Instant::now();
        let mut work = self.store.begin().await?;
        let mut fresh: HashSet<Uuid> = sqlx::query_scalar(
            "INSERT INTO processed_events (event_id, event_type)
             SELECT * FROM unnest($1::UUID[], $2::TEXT[])
             ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
        )
        .bind(&ids)
        .bind(&types)
        .fetch_all(&mut *work)
        .await?
        .into_iter()
        .collect();
        // An id twice in one batch (a redelivery) is inserted once, so it is applied once.
        let (fresh_ones, duplicates): (Vec<&Received>, Vec<&Received>) = received
            .iter()
            .copied()
            .partition(|r| fresh.remove(&r.envelope.event_id));
        let applied: Vec<&Envelope> = fresh_ones.iter().map(|r| &r.envelope).collect();
        let duplicates: Vec<&Envelope> = duplicates.iter().map(|r| &r.envelope).collect();
        let mut spans = applying(&fresh_ones);
        work.continue_traces(std::mem::take(&mut spans.traces));
        self.handler
            .apply(&mut work, &applied)
            .instrument(spans.span.clone())
            .await?;
        work.commit().await?;
        if !applied.is_empty() {
            spans
                .span
                .in_scope(|| tracing::info!(count = applied.len(), "applied"));
        }
        drop(spans);
        // How far behind its producers this consumer runs, and what a transaction costs: events
        // growing old while transactions stay short mean it waits on the broker, not on us.
        metrics::histogram!("consumer_batch_events").record(envelopes.len() as f64);
        metrics::histogram!("consumer_batch_seconds").record(started.elapsed().as_secs_f64());
        let now = chrono::Utc::now();
        let ages = metrics::histogram!("consumer_event_age_seconds");
        for envelope in &applied {
            let age = (now - envelope.occurred_at)
                .num_microseconds()
                .unwrap_or(i64::MAX);
            ages.record(age as f64 / 1e6);
        }
        for (envelopes, outcome) in [(applied, "applied"), (duplicates, "duplicate")] {
            for envelope in envelopes {
                metrics::counter!("events_consumed_total", "event_type" => envelope.event_type(), "outcome" => outcome).increment(1);
            }
        }
        Ok(())
    }
}
