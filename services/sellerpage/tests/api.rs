//! Seller page against real Postgres and the broker: built from events in any order.

use std::time::Duration;

use contracts::*;
use testkit::{Http, Role, assert_error, eventually};

mod support;

use support::spawn;

fn order_events(order_id: i64) -> Vec<Envelope> {
    let d = |status: DeliveryStatus| DeliveryChanged {
        delivery_id: order_id,
        order_id,
        customer_id: 1,
        seller_id: 9,
        status,
    };
    vec![
        Envelope::new(
            "delivery",
            Event::DeliveryStarted(d(DeliveryStatus::Started)),
        ),
        Envelope::new(
            "product",
            Event::StockDecreased(StockDecreased {
                order_id,
                product_id: 2,
                qty: 1,
                remaining: 4,
            }),
        ),
        Envelope::new(
            "delivery",
            Event::DeliveryRequested(d(DeliveryStatus::Requested)),
        ),
        Envelope::new(
            "order",
            Event::OrderPlaced(OrderPlaced {
                order_id,
                customer_id: 1,
                seller_id: 9,
                product_id: 2,
                product_name: "Galbi kit".into(),
                qty: 1,
                amount: 30000,
                address: "Seoul".into(),
            }),
        ),
    ]
}

/// Events this process's consumers counted with `outcome` (only this test consumes events).
fn consumed(outcome: &str) -> u64 {
    total("events_consumed_total", "outcome", outcome) as u64
}

/// The sum of `family`'s series whose `label` is `value`, over this whole process.
fn total(family: &str, label: &str, value: &str) -> f64 {
    let metrics = platform::metrics::render();
    testkit::metrics::sum_by_label(&metrics, family, label)
        .get(value)
        .copied()
        .unwrap_or_default()
}

#[tokio::test]
async fn the_seller_sees_each_order_whatever_order_its_events_arrive_in() {
    let (env, app) = spawn().await;
    let http = env.http_as(Role::Admin, 1);
    let redelivered = order_events(801);
    for event in redelivered.iter().chain(&redelivered) {
        env.publish(event).await;
    }
    for event in order_events(802) {
        env.publish(&event).await;
    }
    let page = eventually(Duration::from_secs(10), || async {
        let (_, page) = http.get(&format!("{}/sellers/9/orders", app.url)).await;
        let items = page["items"].as_array()?;
        (items.len() == 2
            && items
                .iter()
                .all(|i| i["productName"] == "Galbi kit" && i["stockStatus"] == "DECREASED"))
        .then_some(page)
    })
    .await
    .expect("both orders listed");
    let items = page["items"].as_array().unwrap();
    assert_eq!(items[0]["orderId"], 802, "newest first");
    // Order 801's events came twice (same ids), mostly within one consumed batch: each applied
    // once.
    let outcomes = eventually(Duration::from_secs(10), || async {
        let outcomes = (consumed("applied"), consumed("duplicate"));
        (outcomes == (8, 4)).then_some(outcomes)
    })
    .await;
    assert_eq!(outcomes, Some((8, 4)), "{}", platform::metrics::render());
    // What the consumer asked of the broker and received is counted, within librdkafka's 5 s
    // statistics interval: its fetches, and at least the 12 events published above.
    let counted = eventually(Duration::from_secs(15), || async {
        let fetches = total("kafka_requests_total", "request", "Fetch");
        let received = total("kafka_messages_total", "direction", "received");
        (fetches > 0.0 && received >= 12.0).then_some(())
    })
    .await;
    assert!(counted.is_some(), "{}", platform::metrics::render());
    assert!(
        items
            .iter()
            .all(|i| i["status"] == "SHIPPING" && i["deliveryStatus"] == "STARTED"),
        "{page}"
    );
    let (_, other) = http.get(&format!("{}/sellers/10/orders", app.url)).await;
    assert!(other["items"].as_array().unwrap().is_empty());
    let (_, filtered) = http
        .get(&format!("{}/sellers/9/orders?status=DELIVERED", app.url))
        .await;
    assert!(filtered["items"].as_array().unwrap().is_empty());
    assert_error(
        &http.get(&format!("{}/sellers/nine/orders", app.url)).await,
        400,
        "invalid_path",
    );
    assert_error(
        &http.get(&format!("{}/sellers/0/orders", app.url)).await,
        422,
        "invalid_value",
    );
    assert_error(
        &http
            .get(&format!("{}/sellers/9/orders?limit=1000", app.url))
            .await,
        422,
        "invalid_value",
    );
    // The page is that seller's (and an admin's): another seller or a customer is refused.
    let url = format!("{}/sellers/9/orders", app.url);
    assert_eq!(env.http_as(Role::Seller, 9).get(&url).await.0, 200);
    assert_error(
        &env.http_as(Role::Seller, 8).get(&url).await,
        403,
        "forbidden",
    );
    assert_error(
        &env.http_as(Role::Customer, 9).get(&url).await,
        403,
        "forbidden",
    );
    assert_error(
        &env.http_as(Role::Seller, 8)
            .get(&format!("{}/sellers/9/cancellations", app.url))
            .await,
        403,
        "forbidden",
    );
    assert_error(&Http::default().get(&url).await, 401, "unauthenticated");
}

#[tokio::test]
async fn readiness_is_false_while_the_database_is_gone_and_liveness_stays_true() {
    let (env, app) = spawn().await;
    let http = env.http_as(Role::Admin, 1);
    eventually(Duration::from_secs(10), || async {
        (http.get(&format!("{}/health/ready", app.url)).await.0 == 200).then_some(())
    })
    .await
    .expect("ready once the database answered");
    // Take the service's database away from under it, for real.
    let name = env.database_url.rsplit('/').next().unwrap().to_owned();
    let admin = std::env::var("DATABASE_URL").unwrap();
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
        .await
        .unwrap();
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .unwrap();
    let (status, body) = eventually(Duration::from_secs(10), || async {
        let answer = http.get(&format!("{}/health/ready", app.url)).await;
        (answer.0 == 503).then_some(answer)
    })
    .await
    .expect("readiness turns false");
    assert_eq!(status, 503);
    assert_eq!(body["checks"]["database"], "down");
    assert_eq!(http.get(&format!("{}/health/live", app.url)).await.0, 200);
    let (status, body) = http.get(&format!("{}/sellers/9/orders", app.url)).await;
    assert!(
        status >= 500 && body["error"].is_string(),
        "{status} {body}"
    );
}
