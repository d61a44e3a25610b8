//! Reading a topic in a test: from its beginning, every partition, outside any consumer group.

use std::time::Duration;

use contracts::Envelope;
use platform::kafka::Brokers;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::{Message, Offset, TopicPartitionList};

/// A consumer of every partition of the topic `name` from its beginning, outside any consumer
/// group: it reads at once, without waiting for a group to form, and commits nothing.
pub fn topic_reader(brokers: &Brokers, name: &str) -> StreamConsumer {
    let consumer: StreamConsumer = platform::kafka::client(brokers)
        // Never joined (the partitions are assigned), but librdkafka wants one to read offsets.
        .set("group.id", format!("reader-{}", uuid::Uuid::new_v4()))
        .set("enable.auto.commit", "false")
        .create()
        .expect("reader");
    let metadata = consumer
        .fetch_metadata(Some(name), Duration::from_secs(10))
        .expect("the broker answers a metadata request");
    let mut partitions = TopicPartitionList::new();
    for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
        partitions
            .add_partition_offset(name, partition.id(), Offset::Beginning)
            .expect("a partition and an offset");
    }
    consumer.assign(&partitions).expect("assign");
    consumer
}

/// Reads the topic named `name` from the beginning for `window`; returns every payload as text.
pub async fn read_topic_raw(brokers: &Brokers, name: &str, window: Duration) -> Vec<String> {
    let consumer = topic_reader(brokers, name);
    let mut found = Vec::new();
    let deadline = tokio::time::Instant::now() + window;
    while let Ok(Ok(message)) = tokio::time::timeout_at(deadline, consumer.recv()).await {
        found.push(String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned());
    }
    found
}

/// Reads the topic named `name` from the beginning for `window`; returns every envelope in it.
pub async fn read_topic(brokers: &Brokers, name: &str, window: Duration) -> Vec<Envelope> {
    read_topic_raw(brokers, name, window)
        .await
        .iter()
        .filter_map(|text| Envelope::from_json(text.as_bytes()).ok())
        .collect()
}
