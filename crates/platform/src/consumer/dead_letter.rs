//! Putting a message the consumer gives up on onto the dead-letter topic.

use std::time::Duration;

use rdkafka::Message;
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::FutureRecord;

use super::{ConsumerLoop, DEAD_LETTER_ATTEMPTS, EventHandler};
use crate::dead_letters::header;
use crate::shutdown::CancellationToken;
use contracts::Topic;

impl<H: EventHandler> ConsumerLoop<H> {
    /// Publishes the message to the dead-letter topic, trying up to [`DEAD_LETTER_ATTEMPTS`]
    /// times. False when the loop is stopped first, or when every try failed: the loop then
    /// stops (readiness turns false) rather than spin on one message, and its offset is not
    /// stored, so a restarted consumer meets it again.
    pub(super) async fn dead_letter(
        &self,
        message: &(impl Message + Sync),
        reason: &str,
        attempts: u32,
        stop: &CancellationToken,
    ) -> bool {
        tracing::error!(
            reason,
            topic = message.topic(),
            partition = message.partition(),
            offset = message.offset(),
            "consumer: sending message to the dead-letter topic"
        );
        metrics::counter!("events_dead_lettered_total").increment(1);
        let dlq = self.topics.name(Topic::DeadLetter);
        let partition = message.partition().to_string();
        let offset = message.offset().to_string();
        let attempts = attempts.to_string();
        for attempt in 1..=DEAD_LETTER_ATTEMPTS {
            let mut headers = OwnedHeaders::new();
            if let Some(original) = message.headers() {
                for header in original.iter() {
                    headers = headers.insert(Header {
                        key: header.key,
                        value: header.value,
                    });
                }
            }
            for (key, value) in [
                (header::ERROR, reason),
                (header::SERVICE, self.service.as_str()),
                (header::TOPIC, message.topic()),
                (header::PARTITION, partition.as_str()),
                (header::OFFSET, offset.as_str()),
                (header::ATTEMPTS, attempts.as_str()),
            ] {
                headers = headers.insert(Header {
                    key,
                    value: Some(value),
                });
            }
            let mut record = FutureRecord::to(&dlq)
                .payload(message.payload().unwrap_or_default())
                .headers(headers);
            if let Some(key) = message.key() {
                record = record.key(key);
            }
            match self.producer.send(record, Duration::from_secs(10)).await {
                Ok(_) => return true,
                Err((err, _)) => {
                    tracing::warn!(error = %err, attempt, "consumer: dead-letter publish failed")
                }
            }
            tokio::select! {
                () = stop.cancelled() => return false,
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
        tracing::error!(
            topic = message.topic(),
            partition = message.partition(),
            offset = message.offset(),
            attempts = DEAD_LETTER_ATTEMPTS,
            "consumer: the dead-letter topic cannot be written; stopping this consumer (readiness \
             turns false, the message stays unconsumed for the next start)"
        );
        false
    }
}
