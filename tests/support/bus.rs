//! Producing on the stack's broker as a service would: every raw record an end-to-end test
//! writes goes through here, named by the service whose identity it uses.
//!
//! Today the local broker takes any client, so `owner` only documents who the record claims
//! to come from; once each service has its own credential on the bus, these produce with
//! `owner`'s (and a test of the broker's refusals produces with the wrong one).

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
    let producer = platform::kafka::producer(&stack.kafka_brokers).expect("a producer");
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
