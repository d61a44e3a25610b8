//! Producing on the stack's broker as a service would: every raw record an end-to-end test
//! writes goes through here, signed in as the service named (`Stack::kafka_as`), so the broker
//! refuses what that service may not write (tests/brokers.rs tries).

use std::time::Duration;

use contracts::{Envelope, Topic, TopicNames};
use rdkafka::producer::FutureRecord;
use stack::Stack;

/// Publishes `envelope` on `topic` (its own or not) as `owner`, keyed as its relay would.
pub async fn publish_as(stack: &Stack, owner: &str, topic: Topic, envelope: &Envelope) {
    let body = envelope.to_json();
    publish_raw_as(stack, owner, topic, &envelope.key(), body.as_bytes()).await;
}

/// Publishes `payload` with `key` on `topic` as `owner`, whatever the bytes are.
pub async fn publish_raw_as(stack: &Stack, owner: &str, topic: Topic, key: &str, payload: &[u8]) {
    let producer = platform::kafka::producer(&stack.kafka_as(owner)).expect("a producer");
    let name = TopicNames::default().name(topic);
    producer
        .send(
            FutureRecord::to(&name).key(key).payload(payload),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(e, _)| e)
        .unwrap_or_else(|e| panic!("producing on {name} as {owner}: {e}"));
}
