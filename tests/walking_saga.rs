//! The seed scenario, steps 1–6 of the walking-saga issue, through the gateway only, against
//! the whole system started by the launcher (its own Postgres cluster and Kafka).

use std::time::{Duration, Instant};

use contracts::{Event, Topic, TopicNames};
use serde_json::json;
use testkit::{assert_error, eventually};

mod support;
use support::{get, sign_in, start_stack, stop_stack};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_walks_its_saga_end_to_end() {
    let mut stack = start_stack(&[
        ("PAYMENT_TIMEOUT_MS", "1000"),
        ("PAYMENT_BREAKER_FAILURES", "3"),
        ("PAYMENT_BREAKER_COOLDOWN_MS", "2000"),
    ])
    .await;
    let g = stack.gateway_url.clone();
    let wait = Duration::from_secs(10);
    // Everyone signs in through the gateway's dev issuer.
    let seller = sign_in(&g, "seller", 7).await;
    let http = sign_in(&g, "customer", 42).await;

    // 1. A seller registers a meal kit.
    let (status, product) = seller
        .post(
            &format!("{g}/products"),
            json!({"sellerId": 7, "name": "Bibimbap kit", "price": 12900, "stock": 10}),
        )
        .await;
    assert_eq!(status, 201, "{product}");
    let product_id = product["id"].as_i64().unwrap();
    assert_eq!(product["stock"], 10);

    // 2. A customer orders it (once order's replica has heard of the product).
    let order_body =
        json!({"productId": product_id, "qty": 2, "customerId": 42, "address": "Seoul"});
    let order = eventually(wait, || async {
        let (status, body) = http.post(&format!("{g}/orders"), order_body.clone()).await;
        match status {
            201 => Some(body),
            422 if body["error"] == "unknown_product" => None,
            other => panic!("placing the order answered {other}: {body}"),
        }
    })
    .await
    .expect("order's product replica never learned the product");
    let order_id = order["id"].as_i64().unwrap();
    assert_eq!(order["status"], "PLACED");
    assert_eq!(order["amount"], 25800);
    let payments = get(&http, format!("{g}/payments?orderId={order_id}")).await;
    assert_eq!(payments[0]["status"], "APPROVED", "{payments}");

    // 3. The asynchronous effects, with nothing else called.
    let started = Instant::now();
    let delivery = eventually(wait, || async {
        let found = get(&http, format!("{g}/deliveries?orderId={order_id}")).await;
        (found[0]["status"] == "REQUESTED").then(|| found[0].clone())
    })
    .await
    .expect("delivery requested");
    eventually(wait, || async {
        (get(&http, format!("{g}/products/{product_id}")).await["stock"] == 8).then_some(())
    })
    .await
    .expect("stock decremented to 8");
    let placed_notice = eventually(wait, || async {
        let found = get(
            &http,
            format!("{g}/notifications?orderId={order_id}&recipient=CUSTOMER"),
        )
        .await;
        found
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["kind"] == "ORDER_PLACED")
            .cloned()
    })
    .await
    .expect("customer notified of the order");
    let message = placed_notice["message"].as_str().unwrap();
    assert!(
        message.contains("Bibimbap kit") && message.contains("25,800") && message.contains("Seoul"),
        "{message}"
    );
    eventually(wait, || async {
        (get(&http, format!("{g}/orders/{order_id}")).await["status"] == "DELIVERY_REQUESTED")
            .then_some(())
    })
    .await
    .expect("order follows its delivery");
    eventually(wait, || async {
        let page = get(&seller, format!("{g}/sellers/7/orders")).await;
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["orderId"] == order_id)
            .then_some(())
    })
    .await
    .expect("seller page lists the order");
    println!(
        "saga effects visible {:?} after the order was placed",
        started.elapsed()
    );

    // 4. The seller ships, the customer confirms.
    let delivery_id = delivery["id"].as_i64().unwrap();
    let (status, body) = seller
        .post(&format!("{g}/deliveries/{delivery_id}/start"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = http
        .post(&format!("{g}/deliveries/{delivery_id}/complete"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_error(
        &seller
            .post(&format!("{g}/deliveries/{delivery_id}/start"), json!({}))
            .await,
        409,
        "invalid_state",
    );
    eventually(wait, || async {
        (get(&http, format!("{g}/orders/{order_id}")).await["status"] == "DELIVERED").then_some(())
    })
    .await
    .expect("order delivered");
    let kinds = eventually(wait, || async {
        let found = get(
            &http,
            format!("{g}/notifications?orderId={order_id}&recipient=CUSTOMER"),
        )
        .await;
        let kinds: Vec<String> = found
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["kind"].as_str().unwrap().to_owned())
            .collect();
        (kinds.len() == 4).then_some(kinds)
    })
    .await
    .expect("a notification for each delivery change");
    for kind in [
        "ORDER_PLACED",
        "DELIVERY_REQUESTED",
        "DELIVERY_STARTED",
        "DELIVERY_COMPLETED",
    ] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "missing {kind} in {kinds:?}"
        );
    }

    // The seed's siege body works as is.
    let (status, body) = http
        .post(
            &format!("{g}/orders"),
            json!({"productId": product_id, "qty": 5}),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    // 5. The declining test card: a 4xx, no order placed, nothing published.
    let customer43 = sign_in(&g, "customer", 43).await;
    let declined = customer43
        .post(&format!("{g}/orders"), json!({"productId": product_id, "qty": 1, "customerId": 43, "cardNumber": "4000 0000 0000 0002"}))
        .await;
    assert_error(&declined, 402, "payment_declined");
    let orders = get(&customer43, format!("{g}/orders?customerId=43")).await;
    let rejected = orders.as_array().unwrap();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0]["status"], "REJECTED");
    let declined_id = rejected[0]["id"].as_i64().unwrap();
    let published = testkit::read_topic(
        &stack.kafka_brokers,
        &TopicNames::default().name(Topic::Order),
        Duration::from_secs(3),
    )
    .await;
    assert!(
        published.iter().any(|e| e.order_id == Some(order_id)),
        "the placed order's event is on the topic"
    );
    assert!(
        !published.iter().any(|e| e.order_id == Some(declined_id)),
        "a declined order published an event"
    );
    let payment_events = testkit::read_topic(
        &stack.kafka_brokers,
        &TopicNames::default().name(Topic::Payment),
        Duration::from_secs(2),
    )
    .await;
    assert!(
        !payment_events
            .iter()
            .any(|e| matches!(e.event, Event::PaymentCompleted(_))
                && e.order_id == Some(declined_id))
    );
    assert!(
        get(&customer43, format!("{g}/deliveries?orderId={declined_id}"))
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        get(
            &customer43,
            format!("{g}/notifications?orderId={declined_id}")
        )
        .await
        .as_array()
        .unwrap()
        .is_empty()
    );

    // Bad input through the gateway: the right 4xx, JSON, nothing stored.
    let http = sign_in(&g, "customer", 44).await;
    assert_error(
        &http
            .post_raw(&format!("{g}/orders"), "application/json", "{not json")
            .await,
        400,
        "malformed_json",
    );
    assert_error(
        &http
            .post(
                &format!("{g}/orders"),
                json!({"productId": product_id, "qty": 0, "customerId": 44}),
            )
            .await,
        422,
        "invalid_value",
    );
    assert_error(
        &http
            .post(
                &format!("{g}/orders"),
                json!({"productId": "one", "qty": 1, "customerId": 44}),
            )
            .await,
        422,
        "invalid_body",
    );
    assert_error(
        &http
            .post(
                &format!("{g}/orders"),
                json!({"productId": 999_999, "qty": 1, "customerId": 44}),
            )
            .await,
        422,
        "unknown_product",
    );
    assert_error(
        &http
            .post_raw(
                &format!("{g}/orders"),
                "application/json",
                format!("{{\"pad\":\"{}\"}}", "x".repeat(100_000)),
            )
            .await,
        413,
        "payload_too_large",
    );
    assert_error(
        &http.get(&format!("{g}/orders/not-a-number")).await,
        400,
        "invalid_path",
    );
    assert_error(
        &http.get(&format!("{g}/orders/987654")).await,
        404,
        "not_found",
    );
    assert!(
        get(&http, format!("{g}/orders?customerId=44"))
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );

    // 6a. Payment stopped: 503, quickly, and no order left placed.
    stack.stop_service("payment").await;
    let http = sign_in(&g, "customer", 45).await;
    for attempt in 0..5 {
        let started = Instant::now();
        let answer = http
            .post(
                &format!("{g}/orders"),
                json!({"productId": product_id, "qty": 1, "customerId": 45}),
            )
            .await;
        assert_error(&answer, 503, "payment_unavailable");
        println!(
            "payment down, attempt {attempt}: 503 in {:?} ({})",
            started.elapsed(),
            answer.1["message"]
        );
    }
    let orders = get(&http, format!("{g}/orders?customerId=45")).await;
    assert_eq!(orders.as_array().unwrap().len(), 5);
    assert!(
        orders
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["status"] == "REJECTED"),
        "{orders}"
    );
    stack
        .restart_service("payment")
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // 6b. Product stopped: orders are still accepted (order validates against its replica).
    stack.stop_service("product").await;
    let http = sign_in(&g, "customer", 46).await;
    let accepted = eventually(wait, || async {
        let (status, body) = http
            .post(
                &format!("{g}/orders"),
                json!({"productId": product_id, "qty": 1, "customerId": 46}),
            )
            .await;
        // The breaker may still be cooling down from 6a for a moment.
        (status != 503).then_some((status, body))
    })
    .await
    .expect("orders accepted again after payment came back");
    assert_eq!(accepted.0, 201, "{}", accepted.1);
    assert_eq!(accepted.1["status"], "PLACED");
    assert_error(
        &http.get(&format!("{g}/products/{product_id}")).await,
        503,
        "upstream_unavailable",
    );
    stack
        .restart_service("product")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Stock catches up once product is back: 10 - 2 - 5 - 1.
    eventually(wait, || async {
        (get(&http, format!("{g}/products/{product_id}")).await["stock"] == 2).then_some(())
    })
    .await
    .expect("stock caught up after product restarted");

    stop_stack(stack).await;
}
