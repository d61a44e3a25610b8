//! Operating the sagas: a saga stuck on a stopped service is counted and named, the journey
//! answers while the services it shows are down, and a dead-lettered event is listed, shown,
//! fixed, redriven with `mealkit dlq` and finishes its saga.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use stack::Stack;
use support::{WAIT, place_order, register_kit, sign_in, start_stack, stop_stack};
use testkit::{Http, assert_error, eventually};

/// The value of the sample `name` on `service`'s `/metrics`.
async fn metric(stack: &Stack, service: &str, name: &str) -> Option<f64> {
    support::metric(&stack.service_url(service), name).await
}

async fn wait_metric(stack: &Stack, service: &str, name: &str, value: f64) {
    let reached = eventually(WAIT, || async {
        (metric(stack, service, name).await == Some(value)).then_some(())
    })
    .await;
    assert!(
        reached.is_some(),
        "{service}'s {name} never became {value}; it is {:?}",
        metric(stack, service, name).await
    );
}

fn step_names(journey: &Value) -> Vec<&str> {
    journey["steps"]
        .as_array()
        .map(|steps| steps.iter().filter_map(|s| s["step"].as_str()).collect())
        .unwrap_or_default()
}

/// The order's journey once it lists `step`.
async fn journey_reaching(http: &Http, g: &str, order_id: i64, step: &str) -> Value {
    let url = format!("{g}/orders/{order_id}/journey");
    let found = eventually(WAIT, || async {
        let (_, body) = http.get(&url).await;
        step_names(&body).contains(&step).then_some(body)
    })
    .await;
    match found {
        Some(journey) => journey,
        None => panic!("{url} never listed {step}: {}", http.get(&url).await.1),
    }
}

const STUCK_AT_DELIVERY: &str = "sagas_stuck{step=\"DELIVERY_REQUESTED\"}";

#[tokio::test]
async fn a_saga_stuck_on_a_stopped_service_is_counted_and_its_journey_answers_without_it() {
    let mut stack = start_stack(&[
        ("SAGA_STEP_DEADLINE_MS", "2000"),
        ("SAGA_CHECK_INTERVAL_MS", "500"),
    ])
    .await;
    let g = stack.gateway_url.clone();
    let customer = sign_in(&g, "customer", 42).await;
    let product_id = register_kit(&g, 7, 10).await;
    let (status, warm) =
        place_order(&customer, &g, json!({"productId": product_id, "qty": 1})).await;
    assert_eq!(status, 201, "{warm}");
    let warm_id = warm["id"].as_i64().unwrap();
    journey_reaching(&customer, &g, warm_id, "DELIVERY_REQUESTED").await;
    wait_metric(&stack, "sellerpage", STUCK_AT_DELIVERY, 0.0).await;

    stack.stop_service("delivery").await;
    let (status, order) = customer
        .post(
            &format!("{g}/orders"),
            json!({"productId": product_id, "qty": 1}),
        )
        .await;
    assert_eq!(status, 201, "{order}");
    let order_id = order["id"].as_i64().unwrap();
    wait_metric(&stack, "sellerpage", STUCK_AT_DELIVERY, 1.0).await;
    let log = stack.service("sellerpage").unwrap().log.clone();
    let stuck_lines = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("saga stuck") && l.contains(&format!("\"order_id\":{order_id}")))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let named = eventually(WAIT, || async {
        Some(stuck_lines()).filter(|l| !l.is_empty())
    })
    .await
    .unwrap_or_else(|| panic!("no line names stuck order {order_id}"));
    assert!(named[0].contains("DELIVERY_REQUESTED"), "{}", named[0]);

    // The journey is the read side's: it answers with order, payment and delivery all down.
    stack.stop_service("order").await;
    stack.stop_service("payment").await;
    let (status, journey) = customer
        .get(&format!("{g}/orders/{order_id}/journey"))
        .await;
    assert_eq!(status, 200, "{journey}");
    let steps = step_names(&journey);
    assert!(
        steps.contains(&"PAID") && steps.contains(&"ACCEPTED"),
        "{journey}"
    );
    assert!(!steps.contains(&"DELIVERY_REQUESTED"), "{journey}");
    let pending = &journey["pending"][0];
    assert_eq!(pending["step"], "DELIVERY_REQUESTED", "{journey}");
    assert_eq!(pending["service"], "delivery");
    assert!(
        pending["waitingSeconds"].as_f64().unwrap() >= 2.0,
        "{journey}"
    );

    for service in ["payment", "order", "delivery"] {
        stack.restart_service(service).await.unwrap();
    }
    wait_metric(&stack, "sellerpage", STUCK_AT_DELIVERY, 0.0).await;
    assert_eq!(
        stuck_lines().len(),
        1,
        "an order stuck for many checks is named once"
    );
    journey_reaching(&customer, &g, order_id, "DELIVERY_REQUESTED").await;
    stop_stack(stack).await;
}

/// Runs `mealkit dlq <args>` against the stack's gateway (admin token from its dev issuer).
fn dlq(stack: &Stack, args: &[&str]) -> (bool, Value) {
    let out = std::process::Command::new(stack.options.bin_dir.join("mealkit"))
        .arg("dlq")
        .args(args)
        .env("MEALKIT_URL", &stack.gateway_url)
        .env_remove("MEALKIT_TOKEN")
        .output()
        .expect("the mealkit binary runs");
    let body = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.success(), body)
}

#[tokio::test]
async fn a_dead_letter_is_listed_shown_and_redriven_once_its_cause_is_fixed() {
    let stack = start_stack(&[("CONSUMER_MAX_ATTEMPTS", "2")]).await;
    let g = stack.gateway_url.clone();
    let customer = sign_in(&g, "customer", 42).await;
    let admin = sign_in(&g, "admin", 1).await;
    let product_id = register_kit(&g, 7, 10).await;
    let (status, warm) =
        place_order(&customer, &g, json!({"productId": product_id, "qty": 1})).await;
    assert_eq!(status, 201, "{warm}");

    // A real fault in delivery's handler: its table refuses this order's address.
    let db = sqlx::PgPool::connect(&stack.database_url).await.unwrap();
    sqlx::query(
        "ALTER TABLE delivery.deliveries ADD CONSTRAINT no_nowhere CHECK (address <> 'Nowhere')",
    )
    .execute(&db)
    .await
    .unwrap();
    let (status, order) = customer
        .post(
            &format!("{g}/orders"),
            json!({"productId": product_id, "qty": 1, "address": "Nowhere"}),
        )
        .await;
    assert_eq!(status, 201, "{order}");
    let order_id = order["id"].as_i64().unwrap();

    let listed = eventually(WAIT, || async {
        let (status, body) = admin.get(&format!("{g}/dead-letters?status=WAITING")).await;
        assert_eq!(status, 200, "{body}");
        body.as_array()?
            .iter()
            .find(|l| l["orderId"] == order_id)
            .cloned()
    })
    .await
    .expect("the failing event was dead-lettered");
    assert_eq!(listed["eventType"], "PaymentCompleted", "{listed}");
    assert_eq!(listed["service"], "delivery");
    assert_eq!(listed["attempts"], 2);
    assert!(
        listed["error"].as_str().unwrap().contains("no_nowhere"),
        "{listed}"
    );
    assert!(
        listed["topic"]
            .as_str()
            .unwrap()
            .ends_with("mealkit.payment")
    );
    let id = listed["id"].as_i64().unwrap();
    wait_metric(&stack, "sellerpage", "dead_letters_waiting", 1.0).await;

    // Admins only.
    let url = format!("{g}/dead-letters/{id}");
    assert_error(&Http::default().get(&url).await, 401, "unauthenticated");
    assert_error(
        &Http::bearer(&support::forged(&g, platform::Role::Admin, 1))
            .get(&url)
            .await,
        401,
        "invalid_token",
    );
    assert_error(&customer.get(&url).await, 403, "forbidden");
    assert_error(
        &sign_in(&g, "seller", 7).await.get(&url).await,
        403,
        "forbidden",
    );
    assert_error(
        &customer.post(&format!("{url}/redrive"), json!({})).await,
        403,
        "forbidden",
    );
    assert_error(
        &admin.get(&format!("{g}/dead-letters/999999")).await,
        404,
        "not_found",
    );
    assert_error(
        &admin.get(&format!("{g}/dead-letters?status=LOST")).await,
        400,
        "bad_request",
    );

    let (ok, shown) = dlq(&stack, &["show", &id.to_string()]);
    assert!(ok, "{shown}");
    assert_eq!(shown["event"]["payload"]["orderId"], order_id, "{shown}");
    assert_eq!(shown["headers"]["dlq-attempts"], "2");
    assert!(
        shown["headers"]["traceparent"].is_string(),
        "the trace goes with it"
    );
    let (ok, list) = dlq(&stack, &["list", "waiting"]);
    assert!(
        ok && list.as_array().unwrap().iter().any(|l| l["id"] == id),
        "{list}"
    );

    // Fixed, then redriven: the saga finishes, nothing is applied twice.
    sqlx::query("ALTER TABLE delivery.deliveries DROP CONSTRAINT no_nowhere")
        .execute(&db)
        .await
        .unwrap();
    let (ok, redriven) = dlq(&stack, &["redrive", &id.to_string()]);
    assert!(ok, "{redriven}");
    assert_eq!(redriven["redrives"], 1);
    assert!(redriven["redrivenAt"].is_string());
    let delivered = eventually(WAIT, || async {
        let (_, found) = customer
            .get(&format!("{g}/deliveries?orderId={order_id}"))
            .await;
        (found[0]["status"] == "REQUESTED").then_some(())
    })
    .await;
    assert!(delivered.is_some(), "the redriven event was applied");
    let journey = journey_reaching(&customer, &g, order_id, "DELIVERY_REQUESTED").await;
    let paid = step_names(&journey)
        .iter()
        .filter(|s| **s == "PAID")
        .count();
    assert_eq!(paid, 1, "{journey}");
    wait_metric(&stack, "sellerpage", "dead_letters_waiting", 0.0).await;
    // Product applies the two orders' payments on its own time (nothing above waits for it);
    // once it has, the redrive must not take the stock a third time.
    let stock = || async {
        sqlx::query_scalar::<_, i64>("SELECT stock::BIGINT FROM product.products WHERE id = $1")
            .bind(product_id)
            .fetch_one(&db)
            .await
            .unwrap()
    };
    let taken = eventually(WAIT, || async { (stock().await == 8).then_some(()) }).await;
    assert!(taken.is_some(), "stock {} instead of 8", stock().await);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        stock().await,
        8,
        "the redrive took the stock once, not twice"
    );
    let (_, waiting) = admin.get(&format!("{g}/dead-letters?status=WAITING")).await;
    assert_eq!(waiting, json!([]));
    tokio::time::sleep(Duration::from_millis(10)).await;
    stop_stack(stack).await;
}
