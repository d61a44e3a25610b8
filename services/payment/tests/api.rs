//! Payment against real Postgres and the broker.

use std::time::Duration;

use contracts::{DeliveryChanged, DeliveryStatus, Envelope, Event, PaymentCancelled, Topic};
use serde_json::{Value, json};
use testkit::{Http, Role, Running, TestEnv, assert_error, eventually};

async fn spawn() -> (TestEnv, Running) {
    let env = TestEnv::new().await;
    let settings = env.settings("payment", "payment");
    let app = Running::start(payment::build(settings)).await;
    (env, app)
}

fn charge(order_id: i64) -> Value {
    json!({"orderId": order_id, "customerId": 2, "sellerId": 3, "productId": 4, "qty": 2, "amount": 5000, "address": "Seoul"})
}

async fn count(env: &TestEnv, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&env.pool("payment"))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_charge_is_idempotent_per_order() {
    let (env, app) = spawn().await;
    let http = env.http_as_service();
    let url = format!("{}/payments", app.url);
    let (status, first) = http.post(&url, charge(77)).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["status"], "APPROVED");
    let (status, again) = http.post(&url, charge(77)).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["id"], first["id"]);
    // The same order id with other contents is another request: refused, never answered with
    // the stored payment (the pre-stored payment attack).
    let mut other = charge(77);
    other["amount"] = json!(0);
    other["address"] = json!("the attacker's door");
    assert_error(&http.post(&url, other).await, 409, "idempotency_conflict");
    // Charging is for our services only.
    assert_error(
        &Http::default().post(&url, charge(79)).await,
        401,
        "unauthenticated",
    );
    for role in [Role::Customer, Role::Admin, Role::Seller] {
        assert_error(
            &env.http_as(role, 9).post(&url, charge(79)).await,
            403,
            "forbidden",
        );
    }
    let (_, by_order) = http.get(&format!("{url}?orderId=77")).await;
    assert_eq!(by_order.as_array().unwrap().len(), 1);
    let (status, _) = http.get(&format!("{url}/{}", first["id"])).await;
    assert_eq!(status, 200);
    // A payment is its customer's: another customer neither reads nor finds it.
    let (status, _) = env
        .http_as(Role::Customer, first["customerId"].as_i64().unwrap())
        .get(&format!("{url}/{}", first["id"]))
        .await;
    assert_eq!(status, 200);
    let stranger = env.http_as(Role::Customer, 4242);
    assert_error(
        &stranger.get(&format!("{url}/{}", first["id"])).await,
        404,
        "not_found",
    );
    assert_eq!(
        stranger.get(&format!("{url}?orderId=77")).await.1,
        json!([])
    );
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM payments")
        .fetch_one(&env.pool("payment"))
        .await
        .unwrap();
    assert_eq!(count, 1);
    let events = eventually(Duration::from_secs(10), || async {
        let found = env
            .events(Topic::Payment, Duration::from_millis(1000))
            .await;
        (!found.is_empty()).then_some(found)
    })
    .await
    .expect("PaymentCompleted published");
    assert_eq!(events.len(), 1);
    assert!(
        matches!(&events[0].event, Event::PaymentCompleted(p) if p.order_id == 77 && p.amount == 5000)
    );
}

#[tokio::test]
async fn the_test_card_is_declined_and_publishes_nothing() {
    let (env, app) = spawn().await;
    let http = env.http_as_service();
    let mut body = charge(78);
    body["cardNumber"] = json!("4000 0000 0000 0002");
    assert_error(
        &http
            .post(&format!("{}/payments", app.url), body.clone())
            .await,
        402,
        "payment_declined",
    );
    assert_error(
        &http.post(&format!("{}/payments", app.url), body).await,
        402,
        "payment_declined",
    );
    assert_eq!(
        count(
            &env,
            "SELECT count(*) FROM payments WHERE status = 'DECLINED'"
        )
        .await,
        1
    );
    assert_eq!(count(&env, "SELECT count(*) FROM outbox").await, 0);
    let published = env
        .events(Topic::Payment, Duration::from_millis(1500))
        .await;
    assert!(published.is_empty(), "{published:?}");
}

#[tokio::test]
async fn bad_input_gets_a_json_4xx_and_stores_nothing() {
    let (env, app) = spawn().await;
    let http = env.http_as_service();
    let url = format!("{}/payments", app.url);
    let mut cases = Vec::new();
    for (field, value, code) in [
        ("orderId", json!(0), "invalid_value"),
        ("qty", json!(0), "invalid_value"),
        ("amount", json!(-1), "invalid_value"),
        ("address", json!(" "), "invalid_value"),
        ("cardNumber", json!("abcd"), "invalid_value"),
        ("orderId", json!("x"), "invalid_body"),
    ] {
        let mut body = charge(90);
        body[field] = value;
        cases.push((body, code));
    }
    let mut missing = charge(90);
    missing.as_object_mut().unwrap().remove("amount");
    cases.push((missing, "invalid_body"));
    for (body, code) in cases {
        assert_error(&http.post(&url, body).await, 422, code);
    }
    assert_error(
        &http.post_raw(&url, "application/json", "{").await,
        400,
        "malformed_json",
    );
    assert_error(&http.get(&url).await, 400, "bad_request");
    assert_error(&http.get(&format!("{url}/zz")).await, 400, "invalid_path");
    assert_error(&http.get(&format!("{url}/31337")).await, 404, "not_found");
    assert_eq!(count(&env, "SELECT count(*) FROM payments").await, 0);
}

#[tokio::test]
async fn a_cancelled_delivery_refunds_its_payment_once() {
    let (env, app) = spawn().await;
    let http = env.http_as_service();
    let (_, payment) = http
        .post(&format!("{}/payments", app.url), charge(79))
        .await;
    let cancelled = Envelope::new(
        "delivery",
        Event::DeliveryCancelled(DeliveryChanged {
            delivery_id: 1,
            order_id: 79,
            customer_id: 2,
            seller_id: 3,
            status: DeliveryStatus::Cancelled,
        }),
    );
    env.publish(&cancelled).await;
    env.publish(&cancelled).await;
    eventually(Duration::from_secs(10), || async {
        let (_, p) = http
            .get(&format!("{}/payments/{}", app.url, payment["id"]))
            .await;
        (p["status"] == "CANCELLED").then_some(())
    })
    .await
    .expect("payment cancelled");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(env.published(Topic::Payment, "PaymentCancelled").await, 1);
}

fn delivery_cancelled(order_id: i64, customer_id: i64) -> Envelope {
    Envelope::new(
        "delivery",
        Event::DeliveryCancelled(DeliveryChanged {
            delivery_id: 1,
            order_id,
            customer_id,
            seller_id: 3,
            status: DeliveryStatus::Cancelled,
        }),
    )
}

#[tokio::test]
async fn a_refund_that_does_not_fit_the_payment_or_its_topic_is_dead_lettered() {
    let (env, app) = spawn().await;
    let http = env.http_as_service();
    let (_, payment) = http
        .post(&format!("{}/payments", app.url), charge(81))
        .await;
    let no_payment = delivery_cancelled(404, 2);
    let other_customer = delivery_cancelled(81, 9);
    let mut from_order = delivery_cancelled(81, 2);
    from_order.source = "order".into();
    // Payment's own event type, on the topic payment reads: not from where it belongs.
    let misplaced = Envelope::new(
        "payment",
        Event::PaymentCancelled(PaymentCancelled {
            payment_id: 1,
            order_id: 81,
            product_id: 4,
            qty: 2,
            amount: 5000,
        }),
    );
    for forged in [&no_payment, &other_customer, &from_order] {
        env.publish(forged).await;
    }
    env.publish_to(Topic::Delivery, &misplaced).await;
    env.assert_dead_lettered(&no_payment, "no payment for order 404")
        .await;
    env.assert_dead_lettered(&other_customer, "paid by customer 2")
        .await;
    env.assert_dead_lettered(&from_order, "only delivery publishes there")
        .await;
    env.assert_dead_lettered(&misplaced, "does not belong on mealkit.delivery")
        .await;
    let status = || async {
        let url = format!("{}/payments/{}", app.url, payment["id"]);
        http.get(&url).await.1["status"].clone()
    };
    assert_eq!(status().await, "APPROVED", "nothing refunded");
    assert_eq!(env.published(Topic::Payment, "PaymentCancelled").await, 0);

    env.publish(&delivery_cancelled(81, 2)).await;
    eventually(Duration::from_secs(10), || async {
        (status().await == "CANCELLED").then_some(())
    })
    .await
    .expect("the real cancellation refunds");
}
