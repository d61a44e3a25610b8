//! Crash and restart under load: a steady stream of orders and cancellations while each
//! service is `kill -9`ed and restarted, the broker is `kill -9`ed and restarted (durable
//! storage), and Postgres is restarted. Once the stream stops and the system drains, the
//! invariants are checked from the databases, the public API and the dead-letter topic.
//!
//! `MEALKIT_CRASH_ROUNDS=3 ./dev test -p e2e --test crash` runs the longer manual mode.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use contracts::{Topic, TopicNames};
use rdkafka::producer::FutureRecord;
use serde_json::json;
use sqlx::PgPool;
use stack::Stack;
use support::{place_order, register_kit, sign_in, start_stack, stop_stack};
use testkit::{Http, eventually};
use tokio::sync::Mutex;

const POISON: &str = "{\"eventType\": \"PaymentCompleted\", \"payload\": \"not an event\"}";
const INITIAL_STOCK: i64 = 100_000;

#[derive(Default)]
struct Traffic {
    sent: u64,
    accepted: Vec<i64>,
    cancels_accepted: Vec<i64>,
}

/// Orders at a steady pace, each as one of `customers` (signed in before the faults begin; a
/// restarted gateway keeps its signing key, so their tokens stay valid); every fourth accepted
/// order is then cancelled by its customer.
async fn stream(
    g: String,
    products: Vec<i64>,
    customers: Vec<Http>,
    stop: Arc<AtomicBool>,
    traffic: Arc<Mutex<Traffic>>,
) {
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let product = products[(n as usize) % products.len()];
        let http = &customers[(n as usize) % customers.len()];
        let answer = http
            .try_post(
                &format!("{g}/orders"),
                json!({"productId": product, "qty": 1 + n % 3}),
            )
            .await;
        let mut t = traffic.lock().await;
        t.sent += 1;
        if let Some((201, body)) = answer {
            let id = body["id"].as_i64().unwrap();
            t.accepted.push(id);
            if t.accepted.len() % 4 == 0 {
                drop(t);
                if let Some((202, _)) = http
                    .try_post(&format!("{g}/orders/{id}/cancel"), json!({}))
                    .await
                {
                    traffic.lock().await.cancels_accepted.push(id);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

async fn scalar(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Each invariant with the number of violations found.
async fn check(stack: &Stack, products: &[i64], traffic: &Traffic) -> Vec<(&'static str, i64)> {
    let pool = PgPool::connect(&stack.database_url).await.unwrap();
    let mut found = vec![
        ("orders stuck PENDING or PLACED", scalar(&pool, "SELECT count(*) FROM ordering.orders WHERE status IN ('PENDING', 'PLACED', 'CANCEL_REQUESTED')").await),
        ("orders in an unexpected state", scalar(&pool, "SELECT count(*) FROM ordering.orders WHERE status NOT IN ('REJECTED', 'DELIVERY_REQUESTED', 'CANCELLED', 'PENDING', 'PLACED', 'CANCEL_REQUESTED')").await),
        ("placed orders without exactly one approved or cancelled payment", scalar(&pool,
            "SELECT count(*) FROM ordering.orders o WHERE o.status <> 'REJECTED' AND
               (SELECT count(*) FROM payment.payments p WHERE p.order_id = o.id AND p.status <> 'DECLINED') <> 1").await),
        ("payments for rejected orders", scalar(&pool,
            "SELECT count(*) FROM ordering.orders o JOIN payment.payments p ON p.order_id = o.id
             WHERE o.status = 'REJECTED' AND p.status = 'APPROVED'").await),
        ("orders with more than one delivery", scalar(&pool, "SELECT count(*) FROM (SELECT order_id FROM delivery.deliveries GROUP BY 1 HAVING count(*) > 1) d").await),
        ("fulfilled orders without a requested delivery", scalar(&pool,
            "SELECT count(*) FROM ordering.orders o WHERE o.status = 'DELIVERY_REQUESTED' AND NOT EXISTS
               (SELECT 1 FROM delivery.deliveries d WHERE d.order_id = o.id AND d.status = 'REQUESTED')").await),
        ("duplicate notifications", scalar(&pool, "SELECT count(*) FROM (SELECT 1 FROM marketing.notifications GROUP BY order_id, recipient, kind HAVING count(*) > 1) n").await),
        ("cancelled orders whose payment or delivery is not cancelled", scalar(&pool,
            "SELECT count(*) FROM ordering.orders o WHERE o.status = 'CANCELLED' AND (
               EXISTS (SELECT 1 FROM payment.payments p WHERE p.order_id = o.id AND p.status <> 'CANCELLED') OR
               EXISTS (SELECT 1 FROM delivery.deliveries d WHERE d.order_id = o.id AND d.status <> 'CANCELLED'))").await),
        ("seller page disagreeing with order", scalar(&pool,
            "SELECT count(*) FROM ordering.orders o LEFT JOIN sellerpage.seller_orders s ON s.order_id = o.id
             WHERE o.status <> 'REJECTED' AND (s.status IS DISTINCT FROM o.status OR s.seller_id IS DISTINCT FROM o.seller_id)").await),
    ];
    let mut stock_violations = 0;
    for product in products {
        let stock = scalar(
            &pool,
            &format!("SELECT stock::BIGINT FROM product.products WHERE id = {product}"),
        )
        .await;
        let taken = scalar(&pool, &format!(
            "SELECT COALESCE(sum(qty), 0)::BIGINT FROM ordering.orders WHERE product_id = {product} AND status = 'DELIVERY_REQUESTED'")).await;
        if stock != INITIAL_STOCK - taken || stock < 0 {
            println!(
                "product {product}: stock {stock}, expected {}",
                INITIAL_STOCK - taken
            );
            stock_violations += 1;
        }
    }
    found.push((
        "products whose stock is not initial minus fulfilled",
        stock_violations,
    ));
    let mut unfinished = 0;
    for id in &traffic.cancels_accepted {
        let status: String = sqlx::query_scalar("SELECT status FROM ordering.orders WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
        if status != "CANCELLED" {
            unfinished += 1;
        }
    }
    found.push(("accepted cancellations not CANCELLED", unfinished));
    let mut lost = 0;
    for id in &traffic.accepted {
        let status: String = sqlx::query_scalar("SELECT status FROM ordering.orders WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
        if status == "REJECTED" {
            lost += 1;
        }
    }
    found.push(("accepted orders later rejected", lost));
    let dead = testkit::read_topic_raw(
        &stack.kafka_brokers,
        &TopicNames::default().name(Topic::DeadLetter),
        Duration::from_secs(3),
    )
    .await;
    found.push((
        "dead letters other than the injected poison",
        dead.iter().filter(|m| m.as_str() != POISON).count() as i64,
    ));
    found.push((
        "injected poison not dead-lettered by its 3 consumers",
        3 - dead.iter().filter(|m| m.as_str() == POISON).count().min(3) as i64,
    ));
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_system_survives_crashes_and_restarts_under_load() {
    let rounds: usize = std::env::var("MEALKIT_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1);
    let mut stack = start_stack(&[
        ("PENDING_RECOVERY_AFTER_MS", "2000"),
        ("PAYMENT_TIMEOUT_MS", "2000"),
    ])
    .await;
    let g = stack.gateway_url.clone();
    let http = sign_in(&g, "customer", 1).await;
    let mut products = Vec::new();
    for seller in 1..=3 {
        products.push(register_kit(&g, seller, INITIAL_STOCK).await);
    }
    let mut customers = Vec::new();
    for id in 1..=50 {
        customers.push(sign_in(&g, "customer", id).await);
    }
    for product in &products {
        let (status, body) = place_order(&http, &g, json!({"productId": product, "qty": 1})).await;
        assert_eq!(status, 201, "{body}");
    }
    // A poison message on a busy topic: each of its consumers must dead-letter it and go on.
    let producer = platform::kafka::producer(&stack.kafka_brokers).unwrap();
    producer
        .send(
            FutureRecord::to(&TopicNames::default().name(Topic::Payment))
                .key("poison")
                .payload(POISON),
            Duration::from_secs(5),
        )
        .await
        .map_err(|(e, _)| e)
        .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let traffic = Arc::new(Mutex::new(Traffic::default()));
    let load = tokio::spawn(stream(
        g.clone(),
        products.clone(),
        customers,
        stop.clone(),
        traffic.clone(),
    ));
    let pause = || tokio::time::sleep(Duration::from_secs(2));
    let mut faults = Vec::new();
    for _ in 0..rounds {
        let apps = stack::SERVICES
            .iter()
            .map(|(name, _)| *name)
            .chain([stack::GATEWAY.0]);
        for service in apps {
            pause().await;
            stack.kill_service(service).await;
            pause().await;
            stack
                .restart_service(service)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            faults.push(format!("kill -9 {service}"));
        }
        pause().await;
        stack.kill_broker().await;
        pause().await;
        stack.start_broker().await.unwrap_or_else(|e| panic!("{e}"));
        faults.push("kill -9 broker".to_owned());
        pause().await;
        stack.stop_postgres().await;
        pause().await;
        stack
            .start_postgres()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        faults.push("restart postgres".to_owned());
    }
    pause().await;
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    let traffic = Arc::try_unwrap(traffic).ok().unwrap().into_inner();

    // Drain: the invariants hold once every saga has finished (or never, which fails below).
    let settled = eventually(Duration::from_secs(90), || async {
        let found = check(&stack, &products, &traffic).await;
        found.iter().all(|(_, n)| *n == 0).then_some(found)
    })
    .await;
    let found = match settled {
        Some(found) => found,
        None => check(&stack, &products, &traffic).await,
    };
    let pool = PgPool::connect(&stack.database_url).await.unwrap();
    let completed = scalar(
        &pool,
        "SELECT count(*) FROM ordering.orders WHERE status IN ('DELIVERY_REQUESTED', 'CANCELLED')",
    )
    .await;
    let mut table = BTreeMap::new();
    table.insert("faults injected", faults.len().to_string());
    table.insert("orders sent", traffic.sent.to_string());
    table.insert("orders accepted (201)", traffic.accepted.len().to_string());
    table.insert(
        "cancellations accepted (202)",
        traffic.cancels_accepted.len().to_string(),
    );
    table.insert(
        "orders completed (fulfilled or cancelled)",
        completed.to_string(),
    );
    let violations: i64 = found.iter().map(|(_, n)| n).sum();
    table.insert("invariant violations", violations.to_string());
    println!("\n| crash suite | |\n|---|---|");
    for (k, v) in &table {
        println!("| {k} | {v} |");
    }
    println!("faults: {}", faults.join(", "));
    for (invariant, n) in &found {
        println!("{} {invariant}: {n}", if *n == 0 { "ok  " } else { "FAIL" });
    }
    assert!(
        traffic.accepted.len() > 50,
        "the stream placed too few orders to mean anything"
    );
    assert_eq!(violations, 0, "invariants violated: {found:?}");
    stop_stack(stack).await;
}
