//! Marketing against real Postgres and the broker.

use std::time::Duration;

use contracts::{DeliveryChanged, DeliveryStatus, Envelope, Event, OrderPlaced, Topic};
use serde_json::json;
use testkit::{Http, Role, Running, TestEnv, assert_error, eventually};

async fn spawn() -> (TestEnv, Running) {
    let env = TestEnv::new().await;
    let settings = env.settings("marketing", "marketing");
    let app = Running::start(marketing::build(settings)).await;
    (env, app)
}

#[tokio::test]
async fn customers_hear_of_their_order_and_each_delivery_change_once() {
    let (env, app) = spawn().await;
    let http = env.http_as(Role::Customer, 6);
    let placed = Envelope::new(
        "order",
        Event::OrderPlaced(OrderPlaced {
            order_id: 61,
            customer_id: 6,
            seller_id: 7,
            product_id: 8,
            product_name: "Tteokbokki kit".into(),
            qty: 2,
            amount: 15800,
            address: "Ulsan".into(),
        }),
    );
    env.publish(&placed).await;
    env.publish(&placed).await;
    let change = |status: DeliveryStatus| DeliveryChanged {
        delivery_id: 1,
        order_id: 61,
        customer_id: 6,
        seller_id: 7,
        status,
    };
    env.publish(&Envelope::new(
        "delivery",
        Event::DeliveryRequested(change(DeliveryStatus::Requested)),
    ))
    .await;
    env.publish(&Envelope::new(
        "delivery",
        Event::DeliveryStarted(change(DeliveryStatus::Started)),
    ))
    .await;
    let list = eventually(Duration::from_secs(10), || async {
        let (_, found) = http
            .get(&format!(
                "{}/notifications?orderId=61&recipient=customer",
                app.url
            ))
            .await;
        (found.as_array()?.len() == 3).then_some(found)
    })
    .await
    .expect("three customer notifications");
    let placed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "ORDER_PLACED")
        .unwrap();
    assert!(placed["message"].as_str().unwrap().contains("15,800"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, all) = http
        .get(&format!("{}/notifications?orderId=61", app.url))
        .await;
    assert_eq!(all.as_array().unwrap().len(), 3);
    // Each reads only their own: another customer sees none of them.
    let (status, others) = env
        .http_as(Role::Customer, 5)
        .get(&format!("{}/notifications?orderId=61", app.url))
        .await;
    assert_eq!((status, others), (200, json!([])));
    let announced = eventually(Duration::from_secs(10), || async {
        let found = env
            .events(Topic::Marketing, Duration::from_millis(1500))
            .await;
        (found.len() >= 3).then_some(found)
    })
    .await
    .expect("the notifications announced");
    assert_eq!(
        announced.len(),
        3,
        "one announcement per notification: {announced:?}"
    );
}

#[tokio::test]
async fn the_seller_alert_is_synchronous_and_idempotent() {
    let (env, app) = spawn().await;
    let http = env.http_as_service();
    let url = format!("{}/notifications/seller-alerts", app.url);
    // Only our services may alert: not anonymous callers, not a seller, not a customer.
    let alert = json!({"orderId": 70, "sellerId": 7});
    assert_error(
        &Http::default().post(&url, alert.clone()).await,
        401,
        "unauthenticated",
    );
    assert_error(
        &env.http_as(Role::Seller, 7).post(&url, alert.clone()).await,
        403,
        "forbidden",
    );
    assert_error(
        &env.http_as(Role::Customer, 6).post(&url, alert).await,
        403,
        "forbidden",
    );
    let (status, first) = http.post(&url, json!({"orderId": 70, "sellerId": 7})).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["recipient"], "SELLER");
    assert_eq!(first["kind"], "CANCEL_REQUESTED");
    let (_, again) = http.post(&url, json!({"orderId": 70, "sellerId": 7})).await;
    assert_eq!(again["id"], first["id"]);
    assert_error(
        &http.post(&url, json!({"orderId": 0, "sellerId": 7})).await,
        422,
        "invalid_value",
    );
    assert_error(
        &http.post(&url, json!({"orderId": 70})).await,
        422,
        "invalid_body",
    );
    assert_error(
        &http.post_raw(&url, "application/json", "nope").await,
        400,
        "malformed_json",
    );
    let seller = env.http_as(Role::Seller, 7);
    assert_error(
        &seller
            .get(&format!("{}/notifications?recipient=robot", app.url))
            .await,
        400,
        "bad_request",
    );
    let (status, own) = seller.get(&format!("{}/notifications", app.url)).await;
    assert_eq!(status, 200, "{own}");
    assert_eq!(own[0]["id"], first["id"]);
    assert_error(
        &seller
            .get(&format!("{}/notifications?recipient=CUSTOMER", app.url))
            .await,
        403,
        "forbidden",
    );
    assert_error(
        &http.get(&format!("{}/notifications", app.url)).await,
        403,
        "forbidden",
    );
    let (_, none) = env
        .http_as(Role::Seller, 8)
        .get(&format!("{}/notifications", app.url))
        .await;
    assert_eq!(none, json!([]));
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM notifications")
        .fetch_one(&env.pool("marketing"))
        .await
        .unwrap();
    assert_eq!(count, 1);
}

/// The broker does not decide readiness: a service answers with its database alone. It is
/// listed as down.
#[tokio::test]
async fn readiness_and_liveness_hold_while_the_broker_is_unreachable() {
    let env = TestEnv::new().await;
    let mut common = env.settings("marketing", "marketing");
    common.kafka_brokers.bootstrap = "127.0.0.1:1".into();
    let app = Running::start(marketing::build(common)).await;
    let http = Http::default();
    let (status, body) = http.get(&format!("{}/health/ready", app.url)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["checks"]["broker"], "down");
    assert_eq!(body["checks"]["database"], "up");
    assert_eq!(http.get(&format!("{}/health/live", app.url)).await.0, 200);
}
