//! Delivery against real Postgres and the broker, including a poison message on its topic.

use std::time::Duration;

use contracts::{CancelReason, Envelope, Event, OrderCancelled, PaymentCompleted, Topic};
use platform::consumer::DEAD_LETTER_ATTEMPTS;
use rdkafka::producer::FutureRecord;
use serde_json::json;
use testkit::{Http, Role, Running, TestEnv, assert_error, eventually, readiness};

async fn spawn() -> (TestEnv, Running) {
    let env = TestEnv::new().await;
    let settings = env.settings("delivery", "delivery");
    let app = Running::start(delivery::build(settings)).await;
    (env, app)
}

fn paid(order_id: i64) -> Envelope {
    Envelope::new(
        "payment",
        Event::PaymentCompleted(PaymentCompleted {
            payment_id: order_id,
            order_id,
            customer_id: 2,
            seller_id: 3,
            product_id: 4,
            qty: 1,
            amount: 100,
            address: "Jeju".into(),
        }),
    )
}

async fn delivery_of(http: &Http, url: &str, order_id: i64) -> Option<serde_json::Value> {
    let (_, found) = http
        .get(&format!("{url}/deliveries?orderId={order_id}"))
        .await;
    found.as_array().and_then(|a| a.first().cloned())
}

#[tokio::test]
async fn a_payment_requests_one_delivery_which_moves_forward_only() {
    let (env, app) = spawn().await;
    let http = env.http_as(Role::Courier, 1);
    let event = paid(500);
    env.publish(&event).await;
    env.publish(&event).await;
    env.publish(&paid(500)).await;
    let delivery = eventually(Duration::from_secs(10), || {
        delivery_of(&http, &app.url, 500)
    })
    .await
    .expect("delivery requested");
    assert_eq!(delivery["status"], "REQUESTED");
    let id = delivery["id"].as_i64().unwrap();
    let url = format!("{}/deliveries/{id}", app.url);
    assert_error(
        &http.post(&format!("{url}/complete"), json!({})).await,
        409,
        "invalid_state",
    );
    // Who moves it: the order's seller ships (not its customer), the customer confirms (not its
    // seller); other customers and sellers do not even find it.
    let (customer, seller) = (env.http_as(Role::Customer, 2), env.http_as(Role::Seller, 3));
    for stranger in [env.http_as(Role::Customer, 9), env.http_as(Role::Seller, 9)] {
        assert_error(&stranger.get(&url).await, 404, "not_found");
        assert_error(
            &stranger.post(&format!("{url}/start"), json!({})).await,
            404,
            "not_found",
        );
        let (_, listed) = stranger
            .get(&format!("{}/deliveries?orderId=500", app.url))
            .await;
        assert_eq!(listed, json!([]));
    }
    assert_error(&Http::default().get(&url).await, 401, "unauthenticated");
    assert_error(
        &customer.post(&format!("{url}/start"), json!({})).await,
        403,
        "forbidden",
    );
    assert_eq!(
        customer.get(&url).await.1["status"],
        "REQUESTED",
        "nothing changed"
    );
    assert_eq!(seller.post(&format!("{url}/start"), json!({})).await.0, 200);
    assert_error(
        &http.post(&format!("{url}/start"), json!({})).await,
        409,
        "invalid_state",
    );
    assert_error(
        &seller.post(&format!("{url}/complete"), json!({})).await,
        403,
        "forbidden",
    );
    assert_eq!(
        customer.post(&format!("{url}/complete"), json!({})).await.0,
        200
    );
    assert_error(
        &http
            .post(&format!("{}/deliveries/999/start", app.url), json!({}))
            .await,
        404,
        "not_found",
    );
    assert_error(
        &http.get(&format!("{}/deliveries/abc", app.url)).await,
        400,
        "invalid_path",
    );
    assert_error(
        &http.get(&format!("{}/deliveries", app.url)).await,
        400,
        "bad_request",
    );

    let events = eventually(Duration::from_secs(10), || async {
        let found = env
            .events(Topic::Delivery, Duration::from_millis(1000))
            .await;
        (found.len() >= 3).then_some(found)
    })
    .await
    .expect("delivery events");
    let types: Vec<_> = events.iter().map(|e| e.event_type()).collect();
    assert_eq!(
        types,
        ["DeliveryRequested", "DeliveryStarted", "DeliveryCompleted"]
    );
}

#[tokio::test]
async fn a_poison_message_goes_to_the_dead_letter_topic_and_the_consumer_moves_on() {
    let (env, app) = spawn().await;
    let http = env.http_as(Role::Courier, 1);
    let producer = platform::kafka::producer(&env.brokers).unwrap();
    let topic = env.topics.name(Topic::Payment);
    producer
        .send(
            FutureRecord::to(&topic)
                .key("501")
                .payload("{this is not an event"),
            Duration::from_secs(5),
        )
        .await
        .map_err(|(e, _)| e)
        .unwrap();
    env.publish(&paid(502)).await;
    eventually(Duration::from_secs(10), || {
        delivery_of(&http, &app.url, 502)
    })
    .await
    .expect("the event after the poison message was handled");
    let dead = eventually(Duration::from_secs(10), || async {
        env.dead_letters(Duration::from_secs(3))
            .await
            .into_iter()
            .next()
    })
    .await
    .expect("the poison message is on the dead-letter topic");
    assert_eq!(dead.0, "{this is not an event");
    assert!(dead.1.contains("undecodable"), "{}", dead.1);
}

/// A poison message whose dead letter the broker cannot take (here: with the dead-letter headers
/// it is over the producer's 1,000,000-byte limit, so every try fails at once) is not spun on
/// forever: after the bounded tries the consumer stops, loudly, and liveness fails (Kubernetes
/// restarts the pod), while the service stays ready: it still answers.
#[tokio::test]
async fn a_dead_letter_that_cannot_be_written_stops_the_consumer_and_fails_liveness() {
    let (env, app) = spawn().await;
    let http = env.http_as(Role::Courier, 1);
    readiness(&http, &app.url, 200, Duration::from_secs(15))
        .await
        .expect("ready before the poison message");
    let producer = platform::kafka::producer(&env.brokers).unwrap();
    let topic = env.topics.name(Topic::Payment);
    // librdkafka's limit counts payload, key, headers and 36 bytes of record overhead: 50 bytes
    // under it as it is, about 170 over once the five dead-letter headers are added.
    let poison = "x".repeat(1_000_000 - 36 - "601".len() - 50);
    producer
        .send(
            FutureRecord::to(&topic).key("601").payload(&poison),
            Duration::from_secs(5),
        )
        .await
        .map_err(|(e, _)| e)
        .unwrap();

    let within = Duration::from_secs(u64::from(DEAD_LETTER_ATTEMPTS) + 20);
    let live = format!("{}/health/live", app.url);
    let stopped = eventually(within, || async {
        let answer = http.get(&live).await;
        (answer.0 == 503).then_some(answer.1)
    })
    .await
    .expect("the consumer stopped and liveness failed");
    assert_eq!(stopped["checks"]["consumer"], "stopped", "{stopped}");
    assert_eq!(http.get(&format!("{}/health/ready", app.url)).await.0, 200);
    assert!(
        env.dead_letters(Duration::from_secs(2)).await.is_empty(),
        "nothing could be dead-lettered"
    );
}

fn paid_by(order_id: i64, customer_id: i64) -> Envelope {
    let mut envelope = paid(order_id);
    if let Event::PaymentCompleted(p) = &mut envelope.event {
        p.customer_id = customer_id;
    }
    envelope
}

fn cancelled(order_id: i64, customer_id: i64) -> Envelope {
    Envelope::new(
        "order",
        Event::OrderCancelled(OrderCancelled {
            order_id,
            customer_id,
            seller_id: 3,
            product_id: 4,
            qty: 1,
            reason: CancelReason::CustomerRequest,
        }),
    )
}

async fn status_of(http: &Http, url: &str, order_id: i64) -> Option<serde_json::Value> {
    Some(delivery_of(http, url, order_id).await?["status"].clone())
}

/// Waits until order `order_id`'s delivery is `status`.
async fn wait_status(http: &Http, url: &str, order_id: i64, status: &str) {
    eventually(Duration::from_secs(10), || async {
        (status_of(http, url, order_id).await? == status).then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("delivery of order {order_id} {status}"));
}

#[tokio::test]
async fn an_event_naming_someone_else_s_delivery_is_dead_lettered_and_races_still_work() {
    let (env, app) = spawn().await;
    let http = env.http_as(Role::Courier, 1);
    env.publish(&paid(510)).await;
    wait_status(&http, &app.url, 510, "REQUESTED").await;
    let (other_cancel, other_payment) = (cancelled(510, 9), paid_by(510, 9));
    env.publish(&other_cancel).await;
    env.publish(&other_payment).await;
    for forged in [&other_cancel, &other_payment] {
        env.assert_dead_lettered(forged, "for customer 2 of seller 3, not 9 of 3")
            .await;
    }
    assert_eq!(status_of(&http, &app.url, 510).await.unwrap(), "REQUESTED");
    env.publish(&cancelled(510, 2)).await;
    wait_status(&http, &app.url, 510, "CANCELLED").await;

    // The legitimate race: the cancellation overtakes the payment; the late payment fits.
    env.publish(&cancelled(511, 2)).await;
    wait_status(&http, &app.url, 511, "CANCELLED").await;
    let late = paid(511);
    env.publish(&late).await;
    assert_eq!(env.dead_lettered(&late, Duration::from_secs(2)).await, None);
    assert_eq!(status_of(&http, &app.url, 511).await.unwrap(), "CANCELLED");
    assert_eq!(env.published(Topic::Delivery, "DeliveryRequested").await, 1);
}
