//! The read side never hands an order to someone else: an event naming another customer or
//! seller than the ones it knows for the order is dead-lettered, and the order stays theirs.
//! A file of its own: the other file counts every event its process consumed.

use std::time::Duration;

use contracts::*;
use testkit::{Role, TestEnv, eventually};

mod support;

use support::spawn;

fn placed(order_id: i64, customer_id: i64, seller_id: i64) -> Envelope {
    Envelope::new(
        "order",
        Event::OrderPlaced(OrderPlaced {
            order_id,
            customer_id,
            seller_id,
            product_id: 2,
            product_name: "Galbi kit".into(),
            qty: 1,
            amount: 30000,
            address: "Seoul".into(),
        }),
    )
}

fn delivered(order_id: i64) -> Envelope {
    Envelope::new(
        "delivery",
        Event::DeliveryCompleted(DeliveryChanged {
            delivery_id: 1,
            order_id,
            customer_id: 1,
            seller_id: 9,
            status: DeliveryStatus::Completed,
        }),
    )
}

/// Order `order_id` as its seller 9 lists it, once `check` holds for it.
async fn listed(env: &TestEnv, url: &str, check: impl Fn(&serde_json::Value) -> bool) -> bool {
    let seller = env.http_as(Role::Seller, 9);
    let found = eventually(Duration::from_secs(10), || async {
        let (_, page) = seller.get(&format!("{url}/sellers/9/orders")).await;
        page["items"].as_array()?.iter().find(|i| check(i)).cloned()
    })
    .await;
    found.is_some()
}

#[tokio::test]
async fn an_order_s_customer_and_seller_never_change_once_known() {
    let (env, app) = spawn().await;
    env.publish(&placed(811, 1, 9)).await;
    assert!(listed(&env, &app.url, |i| i["orderId"] == 811).await);
    let (other_customer, other_seller) = (placed(811, 666, 9), placed(811, 1, 10));
    env.publish(&other_customer).await;
    env.publish(&other_seller).await;
    for forged in [&other_customer, &other_seller] {
        env.assert_dead_lettered(forged, "order 811 is customer 1's of seller 9")
            .await;
    }
    let journey = format!("{}/orders/811/journey", app.url);
    let (status, _) = env.http_as(Role::Customer, 1).get(&journey).await;
    assert_eq!(status, 200, "still the customer's journey");
    let (status, _) = env.http_as(Role::Customer, 666).get(&journey).await;
    assert_eq!(status, 404);
    let (_, page) = env
        .http_as(Role::Seller, 10)
        .get(&format!("{}/sellers/10/orders", app.url))
        .await;
    assert_eq!(
        page["items"],
        serde_json::json!([]),
        "not the other seller's"
    );

    env.publish(&delivered(811)).await;
    assert!(
        listed(&env, &app.url, |i| i["orderId"] == 811
            && i["status"] == "DELIVERED")
        .await
    );
}
