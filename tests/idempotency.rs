//! `Idempotency-Key` through the gateway, against the whole system: a retried order or
//! cancellation takes effect once and gets the first answer; a key reused for another request is
//! refused and stores nothing; a request that changed nothing (payment down) leaves no key, so
//! its retry is placed.

mod support;

use serde_json::{Value, json};
use support::{WAIT, get, place_order, register_kit, sign_in, start_stack, stop_stack};
use testkit::{Http, assert_error, eventually};

const KEY: &str = "idempotency-key";

/// The customer's orders, oldest first.
async fn orders_of(http: &Http, g: &str) -> Vec<Value> {
    let mut orders = get(http, format!("{g}/orders?limit=200"))
        .await
        .as_array()
        .unwrap()
        .clone();
    orders.reverse();
    orders
}

async fn payments_of(http: &Http, g: &str, order: &Value) -> Vec<Value> {
    get(http, format!("{g}/payments?orderId={}", order["id"]))
        .await
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_request_takes_effect_once() {
    let mut stack = start_stack(&[]).await;
    let g = stack.gateway_url.clone();
    let alice = sign_in(&g, "customer", 81).await;
    let bob = sign_in(&g, "customer", 82).await;
    let product = register_kit(&g, 9, 100).await;
    let body = json!({"productId": product, "qty": 1, "address": "Seoul"});
    // Wait for order's replica of the product without a key.
    let (status, _) = place_order(&bob, &g, body.clone()).await;
    assert_eq!(status, 201);
    let url = format!("{g}/orders");

    // The same key twice: one order, one payment, the same answer.
    let (status, first) = alice
        .post_with(&url, body.clone(), &[(KEY, "order-1")])
        .await;
    assert_eq!(status, 201, "{first}");
    let (status, again) = alice
        .post_with(&url, body.clone(), &[(KEY, "order-1")])
        .await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(again["id"], first["id"]);
    assert_eq!(orders_of(&alice, &g).await.len(), 1);
    assert_eq!(payments_of(&alice, &g, &first).await.len(), 1);

    // The same key with another body: refused, nothing stored.
    let other = json!({"productId": product, "qty": 2, "address": "Seoul"});
    let reused = alice.post_with(&url, other, &[(KEY, "order-1")]).await;
    assert_error(&reused, 422, "idempotency_key_reused");
    assert_eq!(orders_of(&alice, &g).await.len(), 1);
    // Keys are per customer: Bob's "order-1" is his own.
    let (status, bobs) = bob.post_with(&url, body.clone(), &[(KEY, "order-1")]).await;
    assert_eq!(status, 201, "{bobs}");
    assert_ne!(bobs["id"], first["id"]);
    // A malformed key is refused before anything happens.
    let long = "k".repeat(256);
    assert_error(
        &alice.post_with(&url, body.clone(), &[(KEY, &long)]).await,
        400,
        "invalid_idempotency_key",
    );
    assert_eq!(orders_of(&alice, &g).await.len(), 1);

    // A decline is an answer: the retry gets it again, and nothing more is stored.
    let declined = json!({"productId": product, "qty": 1, "cardNumber": "4000 0000 0000 0002"});
    for _ in 0..2 {
        let answer = alice
            .post_with(&url, declined.clone(), &[(KEY, "order-2")])
            .await;
        assert_error(&answer, 402, "payment_declined");
    }
    let orders = orders_of(&alice, &g).await;
    assert_eq!(orders.len(), 2, "{orders:?}");
    assert_eq!(orders[1]["status"], "REJECTED");

    // Twins sent at once: one order; each answer is that order or "in progress".
    let twins = (0..6).map(|_| alice.post_with(&url, body.clone(), &[(KEY, "order-3")]));
    let answers = futures::future::join_all(twins).await;
    let placed: Vec<&Value> = answers
        .iter()
        .filter(|a| a.0 == 201)
        .map(|a| &a.1)
        .collect();
    assert!(!placed.is_empty(), "{answers:?}");
    assert!(
        placed.iter().all(|order| order["id"] == placed[0]["id"]),
        "{answers:?}"
    );
    for answer in answers.iter().filter(|a| a.0 != 201) {
        assert_error(answer, 409, "request_in_progress");
    }
    let orders = orders_of(&alice, &g).await;
    assert_eq!(orders.len(), 3, "one order from six twins: {orders:?}");
    assert_eq!(payments_of(&alice, &g, &orders[2]).await.len(), 1);

    // Cancelling: the retry is accepted again, the chain runs once; without the key it is 409.
    let order = &orders[0];
    eventually(WAIT, || async {
        let current = get(&alice, format!("{g}/orders/{}", order["id"])).await;
        (current["status"] == "DELIVERY_REQUESTED").then_some(())
    })
    .await
    .expect("delivery requested");
    let cancel = format!("{g}/orders/{}/cancel", order["id"]);
    for _ in 0..2 {
        let (status, answer) = alice
            .post_with(&cancel, json!({}), &[(KEY, "cancel-1")])
            .await;
        assert_eq!(status, 202, "{answer}");
        assert_eq!(answer["id"], order["id"]);
    }
    assert_error(
        &alice.post(&cancel, json!({})).await,
        409,
        "already_cancelled",
    );
    let another = format!("{g}/orders/{}/cancel", orders[2]["id"]);
    let reused = alice
        .post_with(&another, json!({}), &[(KEY, "cancel-1")])
        .await;
    assert_error(&reused, 422, "idempotency_key_reused");
    assert_ne!(
        get(&alice, format!("{g}/orders/{}", orders[2]["id"])).await["status"],
        "CANCEL_REQUESTED"
    );
    eventually(WAIT, || async {
        let payments = payments_of(&alice, &g, order).await;
        (payments.len() == 1 && payments[0]["status"] == "CANCELLED").then_some(())
    })
    .await
    .expect("refunded once");

    // Payment down: 503 and nothing charged, so the key is not kept; the retry is placed.
    stack.stop_service("payment").await;
    let down = alice
        .post_with(&url, body.clone(), &[(KEY, "order-4")])
        .await;
    assert_error(&down, 503, "payment_unavailable");
    stack
        .restart_service("payment")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (status, placed) = eventually(WAIT, || async {
        let answer = alice
            .post_with(&url, body.clone(), &[(KEY, "order-4")])
            .await;
        (answer.0 != 503).then_some(answer)
    })
    .await
    .expect("placed once payment is back");
    assert_eq!(status, 201, "{placed}");
    let (status, again) = alice
        .post_with(&url, body.clone(), &[(KEY, "order-4")])
        .await;
    assert_eq!((status, &again["id"]), (201, &placed["id"]));
    let orders = orders_of(&alice, &g).await;
    let charged: usize =
        futures::future::join_all(orders.iter().map(|o| payments_of(&alice, &g, o)))
            .await
            .iter()
            .map(|payments| {
                payments
                    .iter()
                    .filter(|p| p["status"] == "APPROVED")
                    .count()
            })
            .sum();
    // order-1, order-3 and order-4 are charged; order-1 was refunded; the declined and the
    // unavailable attempts are not.
    assert_eq!(charged, 2, "{orders:?}");
    stop_stack(stack).await;
}
