//! The cancellation saga and its circuit breaker, through the gateway, against the whole
//! system, with marketing really stopped and frozen, and the seller page read while order,
//! payment and delivery are down.

mod support;

use std::time::Instant;

use serde_json::{Value, json};
use stack::Signal;
use support::{WAIT, get, place_order, register_kit, sign_in, start_stack, stop_stack, wait_field};
use testkit::{Http, assert_error, eventually};

const ENV: [(&str, &str); 3] = [
    ("MARKETING_TIMEOUT_MS", "1000"),
    ("MARKETING_BREAKER_FAILURES", "3"),
    ("MARKETING_BREAKER_COOLDOWN_MS", "3000"),
];

/// What a cancel must leave untouched when it is refused.
async fn snapshot(
    http: &Http,
    g: &str,
    order_id: i64,
    product_id: i64,
) -> (Value, Value, Value, Value) {
    (
        get(http, format!("{g}/orders/{order_id}")).await["status"].clone(),
        get(http, format!("{g}/payments?orderId={order_id}")).await[0]["status"].clone(),
        get(http, format!("{g}/deliveries?orderId={order_id}")).await[0]["status"].clone(),
        get(http, format!("{g}/products/{product_id}")).await["stock"].clone(),
    )
}

/// Waits for the whole compensation chain of one order.
async fn assert_chain_completed(http: &Http, seller: &Http, g: &str, order_id: i64) {
    let order = wait_field(
        http,
        format!("{g}/orders/{order_id}"),
        "status",
        "CANCELLED",
    )
    .await;
    assert_eq!(order["reason"], "CUSTOMER_REQUEST");
    let deliveries = get(http, format!("{g}/deliveries?orderId={order_id}")).await;
    assert_eq!(deliveries[0]["status"], "CANCELLED");
    // The refund follows the delivery's cancellation.
    eventually(WAIT, || async {
        let payments = get(http, format!("{g}/payments?orderId={order_id}")).await;
        (payments[0]["status"] == "CANCELLED").then_some(())
    })
    .await
    .expect("the payment refunded");
    eventually(WAIT, || async {
        let alerts = get(
            seller,
            format!("{g}/notifications?orderId={order_id}&recipient=SELLER"),
        )
        .await;
        let kinds: Vec<&str> = alerts
            .as_array()?
            .iter()
            .filter_map(|n| n["kind"].as_str())
            .collect();
        (kinds.contains(&"CANCEL_REQUESTED") && kinds.contains(&"DELIVERY_CANCELLED")).then_some(())
    })
    .await
    .expect("the seller was alerted and told the delivery is cancelled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellations_compensate_and_the_breaker_protects_them() {
    let mut stack = start_stack(&ENV).await;
    let g = stack.gateway_url.clone();
    let http = sign_in(&g, "customer", 50).await;
    let seller = sign_in(&g, "seller", 7).await;
    let product = register_kit(&g, 7, 10).await;
    let mut orders = Vec::new();
    for _ in 0..4 {
        let (status, order) = place_order(
            &http,
            &g,
            json!({"productId": product, "qty": 2, "customerId": 50}),
        )
        .await;
        assert_eq!(status, 201, "{order}");
        orders.push(order["id"].as_i64().unwrap());
    }
    for id in &orders {
        wait_field(
            &http,
            format!("{g}/orders/{id}"),
            "status",
            "DELIVERY_REQUESTED",
        )
        .await;
    }
    eventually(WAIT, || async {
        (get(&http, format!("{g}/products/{product}")).await["stock"] == 2).then_some(())
    })
    .await
    .expect("stock taken by four orders");

    // The happy path: accepted, then compensated step by step; the stock comes back once.
    let (status, accepted) = http
        .post(&format!("{g}/orders/{}/cancel", orders[0]), json!({}))
        .await;
    assert_eq!(status, 202, "{accepted}");
    assert_eq!(accepted["status"], "CANCEL_REQUESTED");
    assert_chain_completed(&http, &seller, &g, orders[0]).await;
    eventually(WAIT, || async {
        (get(&http, format!("{g}/products/{product}")).await["stock"] == 4).then_some(())
    })
    .await
    .expect("stock restored");
    assert_error(
        &http
            .post(&format!("{g}/orders/{}/cancel", orders[0]), json!({}))
            .await,
        409,
        "already_cancelled",
    );

    // Past the point of cancelling.
    let delivery =
        get(&http, format!("{g}/deliveries?orderId={}", orders[3])).await[0]["id"].clone();
    assert_eq!(
        seller
            .post(&format!("{g}/deliveries/{delivery}/start"), json!({}))
            .await
            .0,
        200
    );
    assert_eq!(
        http.post(&format!("{g}/deliveries/{delivery}/complete"), json!({}))
            .await
            .0,
        200
    );
    wait_field(
        &http,
        format!("{g}/orders/{}", orders[3]),
        "status",
        "DELIVERED",
    )
    .await;
    assert_error(
        &http
            .post(&format!("{g}/orders/{}/cancel", orders[3]), json!({}))
            .await,
        409,
        "not_cancellable",
    );
    assert_error(
        &http
            .post(&format!("{g}/orders/424242/cancel"), json!({}))
            .await,
        404,
        "not_found",
    );
    assert_error(
        &http
            .post(&format!("{g}/orders/abc/cancel"), json!({}))
            .await,
        400,
        "invalid_path",
    );

    // Marketing stopped: the cancel is refused with Retry-After and nothing changes.
    let before = snapshot(&http, &g, orders[1], product).await;
    stack.stop_service("marketing").await;
    let refused = http
        .post(&format!("{g}/orders/{}/cancel", orders[1]), json!({}))
        .await;
    assert_error(&refused, 503, "seller_alert_unavailable");
    assert!(
        refused.1["message"]
            .as_str()
            .unwrap()
            .contains("try cancelling again"),
        "{}",
        refused.1
    );
    let response = reqwest_retry_after(&g, orders[1]).await;
    assert_eq!(
        response.as_deref(),
        Some("3"),
        "Retry-After is the breaker's cool-down"
    );
    assert_eq!(snapshot(&http, &g, orders[1], product).await, before);
    // Marketing back: the same cancellation (through the DELETE alias) goes through.
    stack
        .restart_service("marketing")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let accepted = eventually(WAIT, || async {
        let answer = http.delete(&format!("{g}/orders/{}", orders[1])).await;
        (answer.0 != 503).then_some(answer)
    })
    .await
    .expect("cancel accepted once marketing is back");
    assert_eq!(accepted.0, 202, "{}", accepted.1);
    assert_chain_completed(&http, &seller, &g, orders[1]).await;

    // Marketing frozen: cancels time out until the breaker opens, then fail fast.
    let before = snapshot(&http, &g, orders[2], product).await;
    stack.signal_service("marketing", Signal::SIGSTOP);
    for attempt in 0..3 {
        let started = Instant::now();
        let answer = http
            .post(&format!("{g}/orders/{}/cancel", orders[2]), json!({}))
            .await;
        assert_error(&answer, 503, "seller_alert_unavailable");
        println!(
            "marketing frozen, cancel {attempt}: 503 after {:?} (timeout)",
            started.elapsed()
        );
    }
    for attempt in 0..3 {
        let started = Instant::now();
        let answer = http
            .post(&format!("{g}/orders/{}/cancel", orders[2]), json!({}))
            .await;
        assert_error(&answer, 503, "seller_alert_unavailable");
        assert!(
            answer.1["message"].as_str().unwrap().contains("overloaded"),
            "breaker not open: {}",
            answer.1
        );
        println!(
            "breaker open, cancel {attempt}: 503 after {:?}",
            started.elapsed()
        );
    }
    assert_eq!(snapshot(&http, &g, orders[2], product).await, before);
    stack.signal_service("marketing", Signal::SIGCONT);
    let accepted = eventually(WAIT, || async {
        let answer = http
            .post(&format!("{g}/orders/{}/cancel", orders[2]), json!({}))
            .await;
        (answer.0 != 503).then_some(answer)
    })
    .await
    .expect("cancel accepted after the cool-down");
    assert_eq!(accepted.0, 202, "{}", accepted.1);
    assert_chain_completed(&http, &seller, &g, orders[2]).await;
    eventually(WAIT, || async {
        (get(&http, format!("{g}/products/{product}")).await["stock"] == 8).then_some(())
    })
    .await
    .expect("stock of the three cancelled orders restored exactly once");

    // The seller page keeps answering with order, payment and delivery down.
    for service in ["order", "payment", "delivery"] {
        stack.stop_service(service).await;
    }
    // The read model is eventually consistent: it answers all along, and catches up with the
    // last events (the broker is up) while the services that sent them are down.
    let page = eventually(WAIT, || async {
        let page = get(&seller, format!("{g}/sellers/7/cancellations")).await;
        let items = page["items"].as_array()?;
        (items.len() == 3 && items.iter().all(|i| i["cancellationStatus"] == "CANCELLED"))
            .then_some(page)
    })
    .await
    .unwrap_or_else(|| panic!("the seller page never showed the three cancellations completed"));
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{page}");
    let ids: Vec<i64> = items
        .iter()
        .map(|i| i["orderId"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [orders[2], orders[1], orders[0]], "newest first");
    for item in items {
        assert_eq!(item["cancellationStatus"], "CANCELLED", "{item}");
        assert_eq!(item["cancelReason"], "CUSTOMER_REQUEST");
        for at in [
            "cancelRequestedAt",
            "paymentCancelledAt",
            "deliveryCancelledAt",
            "stockRestoredAt",
        ] {
            assert!(item[at].is_string(), "{at} missing in {item}");
        }
    }
    let filtered = get(
        &seller,
        format!("{g}/sellers/7/cancellations?status=REQUESTED"),
    )
    .await;
    assert!(filtered["items"].as_array().unwrap().is_empty());
    let paged = get(
        &seller,
        format!("{g}/sellers/7/cancellations?limit=1&offset=1"),
    )
    .await;
    assert_eq!(paged["items"][0]["orderId"], orders[1]);
    assert_error(
        &seller
            .get(&format!("{g}/sellers/7/cancellations?status=LOST"))
            .await,
        400,
        "bad_request",
    );

    stop_stack(stack).await;
}

async fn reqwest_retry_after(g: &str, order_id: i64) -> Option<String> {
    let response = reqwest::Client::new()
        .post(format!("{g}/orders/{order_id}/cancel"))
        .bearer_auth(support::token(g, "customer", 50).await)
        .send()
        .await
        .ok()?;
    response
        .headers()
        .get("retry-after")?
        .to_str()
        .ok()
        .map(str::to_owned)
}

/// The race the README's state machine decides: a customer cancels while the courier completes
/// the delivery. Delivery decides, whichever reaches it first wins, and every order ends one of
/// two consistent ways: delivered with the payment kept and the stock taken, or cancelled with
/// the delivery cancelled, the payment refunded and the stock back once. The completion that
/// loses answers `409`; the cancellation that loses ends `REFUSED` on the seller page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancellation_racing_the_delivery_always_ends_consistent() {
    const ORDERS: usize = 16;
    let stack = start_stack(&[]).await;
    let g = stack.gateway_url.clone();
    let customer = sign_in(&g, "customer", 61).await;
    let seller = sign_in(&g, "seller", 8).await;
    let courier = sign_in(&g, "courier", 3).await;
    let stock = 100;
    let product = register_kit(&g, 8, stock).await;
    let mut races = Vec::new();
    for _ in 0..ORDERS {
        let (status, order) = place_order(
            &customer,
            &g,
            json!({"productId": product, "qty": 1, "customerId": 61}),
        )
        .await;
        assert_eq!(status, 201, "{order}");
        races.push(order["id"].as_i64().unwrap());
    }
    let mut deliveries = Vec::new();
    for id in &races {
        let delivery = eventually(WAIT, || async {
            let found = get(&customer, format!("{g}/deliveries?orderId={id}")).await;
            found[0]["id"].as_i64()
        })
        .await
        .expect("delivery requested");
        let (status, body) = seller
            .post(&format!("{g}/deliveries/{delivery}/start"), json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
        deliveries.push(delivery);
    }
    // Each pair at once, or with the completion a little later (the cancellation takes a moment
    // through the outbox and the broker to reach delivery), so that both outcomes occur; the
    // test holds whichever wins.
    let mut answers = Vec::new();
    for (n, (order, delivery)) in races.iter().zip(&deliveries).enumerate() {
        let cancel = async {
            customer
                .post(&format!("{g}/orders/{order}/cancel"), json!({}))
                .await
        };
        let complete = async {
            let late = [0, 100, 400, 1500][n % 4];
            tokio::time::sleep(std::time::Duration::from_millis(late)).await;
            courier
                .post(&format!("{g}/deliveries/{delivery}/complete"), json!({}))
                .await
        };
        let (cancelled, completed) = tokio::join!(cancel, complete);
        answers.push((cancelled, completed));
    }
    let mut delivered = 0;
    for ((order, delivery), (cancelled, completed)) in races.iter().zip(&deliveries).zip(&answers) {
        assert!(
            cancelled.0 == 202 || cancelled.1["error"] == "not_cancellable",
            "cancel: {cancelled:?}"
        );
        let settled = eventually(WAIT, || async {
            let order = get(&customer, format!("{g}/orders/{order}")).await;
            matches!(order["status"].as_str(), Some("DELIVERED" | "CANCELLED")).then_some(order)
        })
        .await
        .unwrap_or_else(|| {
            panic!("order {order} never settled (cancel {cancelled:?}, complete {completed:?})")
        });
        let payment_status = if settled["status"] == "DELIVERED" {
            delivered += 1;
            assert_eq!(completed.0, 200, "the completion won: {completed:?}");
            "APPROVED"
        } else {
            assert_eq!(cancelled.0, 202, "{cancelled:?}");
            testkit::assert_error(completed, 409, "invalid_state");
            "CANCELLED"
        };
        let want_delivery = if payment_status == "APPROVED" {
            "COMPLETED"
        } else {
            "CANCELLED"
        };
        assert_eq!(
            get(&customer, format!("{g}/deliveries/{delivery}")).await["status"],
            want_delivery
        );
        eventually(WAIT, || async {
            let payments = get(&customer, format!("{g}/payments?orderId={order}")).await;
            (payments[0]["status"] == payment_status).then_some(())
        })
        .await
        .unwrap_or_else(|| panic!("order {order}: the payment never became {payment_status}"));
        if cancelled.0 == 202 {
            let want = if payment_status == "APPROVED" {
                "REFUSED"
            } else {
                "CANCELLED"
            };
            eventually(WAIT, || async {
                let page = get(&seller, format!("{g}/sellers/8/cancellations?limit=100")).await;
                let row = page["items"]
                    .as_array()?
                    .iter()
                    .find(|row| row["orderId"] == *order)?
                    .clone();
                (row["cancellationStatus"] == want).then_some(())
            })
            .await
            .unwrap_or_else(|| panic!("order {order}: the seller page never showed {want}"));
        }
    }
    // Each cancelled order's unit back exactly once, and it stays so.
    let expected = stock - delivered;
    eventually(WAIT, || async {
        (get(&customer, format!("{g}/products/{product}")).await["stock"] == expected).then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("stock never reached {expected}"));
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(
        get(&customer, format!("{g}/products/{product}")).await["stock"],
        expected
    );
    println!(
        "{ORDERS} races: {delivered} delivered, {} cancelled",
        ORDERS as i64 - delivered
    );
    stop_stack(stack).await;
}
