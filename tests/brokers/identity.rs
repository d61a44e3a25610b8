//! An identity per service on the bus (README, What the bus trusts): each forged event of the
//! attacks the bus once let through, produced with another service's credential, with a forged
//! one and with none, is refused by the broker itself and never reaches its topic; reading
//! another service's topics and joining its group are refused too. The rightful owner's write
//! goes through.

use std::time::Duration;

use contracts::{Topic, TopicNames};
use platform::kafka::Brokers;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{Value, json};
use stack::Stack;

/// Long enough for a signed-in client to be answered on a loaded machine; a refused one is
/// answered at once or never (an unauthenticated client's record waits out this timeout).
const ANSWER: Duration = Duration::from_secs(10);

/// The attacks (issue #29): an event that moved money or goods, the topic it goes on, and the
/// service whose credential the attacker holds (not the topic's owner).
fn forgeries() -> Vec<(Topic, &'static str, Value)> {
    vec![
        (
            Topic::Product,
            "payment",
            event(
                "product",
                "ProductUpdated",
                json!({"productId": 1, "name": "Bulgogi kit", "price": 1, "stock": 5}),
            ),
        ),
        (
            Topic::Order,
            "delivery",
            event(
                "order",
                "OrderCancelled",
                json!({"orderId": 1, "customerId": 2, "sellerId": 3, "productId": 1, "qty": 1, "reason": "CUSTOMER_REQUEST"}),
            ),
        ),
        (
            Topic::Delivery,
            "payment",
            event(
                "delivery",
                "DeliveryCancelled",
                json!({"deliveryId": 1, "orderId": 1, "customerId": 2, "sellerId": 3, "status": "CANCELLED"}),
            ),
        ),
        (
            Topic::Delivery,
            "order",
            event(
                "delivery",
                "DeliveryCompleted",
                json!({"deliveryId": 1, "orderId": 1, "customerId": 2, "sellerId": 3, "status": "COMPLETED"}),
            ),
        ),
        (
            Topic::Order,
            "sellerpage",
            event(
                "order",
                "OrderPlaced",
                json!({"orderId": 1, "customerId": 666, "sellerId": 3, "productId": 1, "productName": "Bulgogi kit", "qty": 1, "amount": 1000, "address": "Seoul"}),
            ),
        ),
        (
            Topic::Payment,
            "product",
            event(
                "payment",
                "PaymentCompleted",
                json!({"paymentId": 1, "orderId": 424242, "customerId": 2, "sellerId": 3, "productId": 1, "qty": 5, "amount": 5000}),
            ),
        ),
    ]
}

fn event(source: &str, event_type: &str, payload: Value) -> Value {
    json!({
        "eventId": uuid::Uuid::now_v7(), "version": 1, "occurredAt": "2026-12-07T00:00:00Z",
        "source": source, "orderId": payload.get("orderId"), "eventType": event_type,
        "payload": payload,
    })
}

/// Every forgery, as another service, with a forged password and with no credential, is
/// refused, and no record reaches any topic; the owners' own writes are accepted.
pub async fn every_forgery_is_refused_by_the_broker(stack: &Stack) {
    let before = records(stack).await;
    for (topic, attacker, forged) in forgeries() {
        let name = TopicNames::default().name(topic);
        let as_other = produce(&stack.kafka_as(attacker), &name, &forged).await;
        assert_refused(&as_other, &format!("{attacker} writing {name}"));
    }
    // Without the owner's password, or any: the connection itself is refused (each waits out
    // the delivery timeout, so once for all topics).
    let (topic, _, forged) = &forgeries()[0];
    let name = TopicNames::default().name(*topic);
    let forged_password = stack.kafka_brokers.as_user("product", "not-its-password");
    let with_forged = produce(&forged_password, &name, forged).await;
    assert!(
        with_forged.is_err(),
        "product with a forged password wrote {name}"
    );
    let anonymous = Brokers::plaintext(&stack.kafka_brokers.bootstrap);
    let unsigned = produce(&anonymous, &name, forged).await;
    assert!(unsigned.is_err(), "an unsigned client wrote {name}");
    assert_eq!(
        records(stack).await,
        before,
        "a refused record reached a topic"
    );
    // The owner's own write goes through: the refusals above are the ACLs, not a broken setup.
    let dead_letter = json!({"note": "written by order, to the one shared topic"});
    let dlq = TopicNames::default().name(Topic::DeadLetter);
    produce(&stack.kafka_as("order"), &dlq, &dead_letter)
        .await
        .expect("order writes the dead-letter topic");
}

/// Reading a topic a service does not consume, and joining another service's group, are
/// refused; reading its own topics is not.
pub async fn reading_and_joining_are_refused_to_strangers(stack: &Stack) {
    let order_topic = TopicNames::default().name(Topic::Order);
    let payment = stack.kafka_as("payment");
    let stolen = read(&payment, "payment", &order_topic).await;
    assert!(
        matches!(stolen, Err(ref e) if e.contains("TOPIC_AUTHORIZATION_FAILED")),
        "payment read mealkit.order: {stolen:?}"
    );
    let delivery_topic = TopicNames::default().name(Topic::Delivery);
    let joined = group_offsets(&payment, "order", &delivery_topic).await;
    assert!(
        matches!(joined, Err(ref e) if code(e) == Some(RDKafkaErrorCode::GroupAuthorizationFailed)),
        "payment read order's group: {joined:?}"
    );
    let delivery = stack.kafka_as("delivery");
    let own = read(&delivery, "delivery", &order_topic).await;
    assert!(
        own.is_ok(),
        "delivery reads the order topic it consumes: {own:?}"
    );
    let own_group = group_offsets(&delivery, "delivery", &order_topic).await;
    assert!(
        own_group.is_ok(),
        "delivery reads its own group: {own_group:?}"
    );
}

fn assert_refused(outcome: &Result<(), KafkaError>, what: &str) {
    assert!(
        matches!(outcome, Err(e) if code(e) == Some(RDKafkaErrorCode::TopicAuthorizationFailed)),
        "{what}: {outcome:?}"
    );
}

fn code(error: &KafkaError) -> Option<RDKafkaErrorCode> {
    error.rdkafka_error_code()
}

/// Produces `value` on `topic` as `brokers` signs in; the broker's answer.
async fn produce(brokers: &Brokers, topic: &str, value: &Value) -> Result<(), KafkaError> {
    let producer: FutureProducer = platform::kafka::client(brokers)
        .set("message.timeout.ms", ANSWER.as_millis().to_string())
        .set("log_level", "0")
        .create()
        .expect("a producer");
    let payload = value.to_string();
    let record = FutureRecord::to(topic).key("1").payload(&payload);
    producer
        .send(record, ANSWER)
        .await
        .map(|_| ())
        .map_err(|(e, _)| e)
}

/// A consumer signing in as `brokers` says, in `group`.
fn consumer(brokers: &Brokers, group: &str) -> BaseConsumer {
    platform::kafka::client(brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("log_level", "0")
        .create()
        .expect("a consumer")
}

/// What the broker says of `topic` to `brokers`' principal (in its own `group`), as a reader
/// asks before its first fetch: the topic's metadata error, if any, then where partition 0
/// begins and ends.
async fn read(brokers: &Brokers, group: &str, topic: &str) -> Result<(), String> {
    let consumer = consumer(brokers, group);
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        let metadata = consumer
            .fetch_metadata(Some(&topic), ANSWER)
            .map_err(|e| e.to_string())?;
        if let Some(error) = metadata.topics().iter().find_map(|t| t.error()) {
            return Err(format!("{error:?}"));
        }
        consumer
            .fetch_watermarks(&topic, 0, ANSWER)
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .await
    .expect("the reader ran")
}

/// Reads partition 0 of `topic` from where `group` left it, as `brokers` signs in: the first
/// error (librdkafka reports a refused group as one), or `Ok` at a record or the end.
async fn group_offsets(brokers: &Brokers, group: &str, topic: &str) -> Result<(), KafkaError> {
    let consumer = consumer(brokers, group);
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut partitions = TopicPartitionList::new();
        partitions.add_partition_offset(&topic, 0, Offset::Stored)?;
        consumer.assign(&partitions)?;
        let deadline = std::time::Instant::now() + ANSWER;
        while std::time::Instant::now() < deadline {
            match consumer.poll(Duration::from_millis(200)) {
                Some(Err(KafkaError::PartitionEOF(_)) | Ok(_)) => return Ok(()),
                Some(Err(e)) => return Err(e),
                None => {}
            }
        }
        Err(KafkaError::MessageConsumption(
            RDKafkaErrorCode::OperationTimedOut,
        ))
    })
    .await
    .expect("the reader ran")
}

/// How many records each topic holds (its partitions' high watermarks), as the administrator
/// sees them.
async fn records(stack: &Stack) -> Vec<(String, i64)> {
    let brokers = stack.kafka_brokers.clone();
    tokio::task::spawn_blocking(move || {
        let client: BaseConsumer = platform::kafka::client(&brokers)
            .create()
            .expect("a client");
        TopicNames::default()
            .all()
            .into_iter()
            .map(|name| {
                let held = (0..platform::kafka::PARTITIONS)
                    .map(|p| {
                        let (_, high) = client
                            .fetch_watermarks(&name, p, Duration::from_secs(5))
                            .expect("watermarks");
                        high
                    })
                    .sum();
                (name, held)
            })
            .collect()
    })
    .await
    .expect("counted")
}
