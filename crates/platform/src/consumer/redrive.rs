//! Applying a dead-lettered record again, fetched from its owner's topic.
//!
//! The dead-letter operator ([`crate::dead_letters`]) never sends a record back to its topic:
//! only a topic's owner may write there. It publishes a [`Redrive`] instead, on the redrive
//! topic every consumer reads: where the record is, and whose consumer gave up on it. That
//! consumer fetches the record from its topic, as itself, and processes it exactly as if it had
//! just arrived: checked against its origin and its data, skipped if it was applied, dead-lettered
//! again if it still fails. So whoever can ask for a redrive can point at a record the owner
//! wrote, and nothing else.

use std::time::Duration;

use contracts::Topic;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::OwnedMessage;
use rdkafka::{Message, Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};

use super::{ConsumerLoop, EventHandler, Outcome};
use crate::shutdown::CancellationToken;

/// A request to apply a record again: the value of a record on the redrive topic, keyed by
/// `service`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redrive {
    /// The service whose consumer applies it again (the one that gave up).
    pub service: String,
    /// Where the record is: its topic (the broker's name), partition and offset.
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

/// How long fetching the record may take.
const FETCH: Duration = Duration::from_secs(10);

impl<H: EventHandler> ConsumerLoop<H> {
    /// Handles one record of the redrive topic: a request for this service fetches its record
    /// and processes it; any other is not this consumer's. False when stopped first.
    pub(super) async fn redrive(
        &self,
        message: &(impl Message + Sync),
        subscribed: &[Topic],
        stop: &CancellationToken,
    ) -> bool {
        let request: Redrive = match serde_json::from_slice(message.payload().unwrap_or_default()) {
            Ok(request) => request,
            Err(err) => {
                tracing::warn!(error = %err, "redrive: not a request; skipped");
                return true;
            }
        };
        if request.service != self.service {
            return true;
        }
        let known = self.topics.topic(&request.topic);
        if !known.is_some_and(|t| subscribed.contains(&t)) {
            tracing::warn!(topic = %request.topic, "redrive: not a topic this service consumes; skipped");
            return true;
        }
        let record = match self.fetch_until_answered(&request, stop).await {
            Some(Fetched::Record(record)) => record,
            Some(Fetched::Gone) => {
                // The operator sees it: the request itself is dead-lettered, with the reason.
                let reason = format!(
                    "redrive: no record at {}/{} offset {} any more (past its retention)",
                    request.topic, request.partition, request.offset
                );
                return self.dead_letter(message, &reason, 0, stop).await;
            }
            None => return false,
        };
        tracing::info!(?request, "redrive: applying the record again");
        match self.process(&record, stop).await {
            Outcome::Done => true,
            Outcome::DeadLetter(reason, attempts) => {
                self.dead_letter(&record, &reason, attempts, stop).await
            }
            Outcome::Stopped => false,
        }
    }

    /// [`ConsumerLoop::fetch`], tried again with capped backoff while the broker does not
    /// answer (a redrive is never dropped for an outage); `None` when stopped first.
    async fn fetch_until_answered(
        &self,
        request: &Redrive,
        stop: &CancellationToken,
    ) -> Option<Fetched> {
        let mut delay = Duration::from_millis(500);
        loop {
            match self.fetch(request).await {
                Ok(fetched) => return Some(fetched),
                Err(err) => {
                    tracing::warn!(error = %err, ?request, "redrive: fetching failed; trying again")
                }
            }
            tokio::select! {
                () = stop.cancelled() => return None,
                () = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }

    /// The record `request` points at, read from its topic as this service: the record, or
    /// `Gone` when the log no longer holds that offset; an error when the broker did not
    /// answer in time.
    async fn fetch(&self, request: &Redrive) -> Result<Fetched, String> {
        let mut config = crate::kafka::client(self.member.brokers());
        config
            .set("group.id", self.member.group())
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            // An offset the log no longer holds is an error at once, not a wait for whatever
            // record comes next.
            .set("auto.offset.reset", "error");
        let request = request.clone();
        let fetched = tokio::task::spawn_blocking(move || {
            let consumer: BaseConsumer = config.create().map_err(|e| e.to_string())?;
            let mut at = TopicPartitionList::new();
            at.add_partition_offset(
                &request.topic,
                request.partition,
                Offset::Offset(request.offset),
            )
            .map_err(|e| e.to_string())?;
            consumer.assign(&at).map_err(|e| e.to_string())?;
            let deadline = std::time::Instant::now() + FETCH;
            while std::time::Instant::now() < deadline {
                match consumer.poll(Duration::from_millis(200)) {
                    Some(Ok(m)) if m.offset() == request.offset => {
                        return Ok(Fetched::Record(m.detach()));
                    }
                    // Compacted away: the next record came instead.
                    Some(Ok(_)) => return Ok(Fetched::Gone),
                    Some(Err(err)) if is_out_of_range(&err) => return Ok(Fetched::Gone),
                    Some(Err(err)) => tracing::debug!(error = %err, "redrive: fetching"),
                    None => {}
                }
            }
            Err(format!("no answer within {} s", FETCH.as_secs()))
        });
        fetched.await.map_err(|e| e.to_string())?
    }
}

/// What a redrive found where its request pointed.
enum Fetched {
    Record(OwnedMessage),
    /// The log no longer holds that offset.
    Gone,
}

/// Whether `error` says the offset is outside the log (`auto.offset.reset=error`).
fn is_out_of_range(error: &rdkafka::error::KafkaError) -> bool {
    use rdkafka::types::RDKafkaErrorCode::{AutoOffsetReset, OffsetOutOfRange};
    matches!(
        error.rdkafka_error_code(),
        Some(AutoOffsetReset | OffsetOutOfRange)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_names_a_place_not_a_record() {
        let request = Redrive {
            service: "payment".into(),
            topic: "mealkit.delivery".into(),
            partition: 2,
            offset: 41,
        };
        let json = serde_json::to_value(&request).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"service": "payment", "topic": "mealkit.delivery", "partition": 2, "offset": 41})
        );
    }
}
