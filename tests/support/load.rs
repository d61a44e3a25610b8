//! A steady stream of orders and cancellations, and the invariants that must hold once it has
//! drained: shared by the crash suite (`tests/crash.rs`) and the replica test
//! (`tests/replicas.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use contracts::{Topic, TopicNames};
use serde_json::json;
use sqlx::PgPool;
use stack::Stack;
use testkit::Http;
use tokio::sync::Mutex;

pub const POISON: &str = "{\"eventType\": \"PaymentCompleted\", \"payload\": \"not an event\"}";
pub const INITIAL_STOCK: i64 = 100_000;

/// [`stream`] running in the background until [`Load::finish`].
pub struct Load {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Load {
    pub fn start(
        g: &str,
        products: &[i64],
        customers: &[Http],
        traffic: &Arc<Mutex<Traffic>>,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(stream(
            g.to_owned(),
            products.to_vec(),
            customers.to_vec(),
            stop.clone(),
            traffic.clone(),
        ));
        Self { stop, task }
    }

    pub async fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap();
    }
}

#[derive(Default)]
pub struct Traffic {
    pub sent: u64,
    pub accepted: Vec<i64>,
    pub cancels_accepted: Vec<i64>,
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

pub async fn scalar(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// How many of the orders `ids` are in a status for which `counts` is true.
async fn orders_whose_status(pool: &PgPool, ids: &[i64], counts: impl Fn(&str) -> bool) -> i64 {
    let mut found = 0;
    for id in ids {
        let status: String = sqlx::query_scalar("SELECT status FROM ordering.orders WHERE id = $1")
            .bind(id)
            .fetch_one(pool)
            .await
            .unwrap();
        found += i64::from(counts(&status));
    }
    found
}

/// Each invariant with the number of violations found.
pub async fn check(stack: &Stack, products: &[i64], traffic: &Traffic) -> Vec<(&'static str, i64)> {
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
    let unfinished =
        orders_whose_status(&pool, &traffic.cancels_accepted, |s| s != "CANCELLED").await;
    found.push(("accepted cancellations not CANCELLED", unfinished));
    let lost = orders_whose_status(&pool, &traffic.accepted, |s| s == "REJECTED").await;
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

/// A poison message on the busy payment topic: each of its 3 consumers must dead-letter it and go
/// on ([`check`] counts them).
pub async fn inject_poison(stack: &Stack) {
    let poison = POISON.as_bytes();
    super::bus::publish_raw_as(stack, "payment", Topic::Payment, "poison", poison).await;
}

/// Waits up to 90 s for every invariant of [`check`] to hold (every saga finished); the last
/// count of each, printed.
pub async fn settle(
    stack: &Stack,
    products: &[i64],
    traffic: &Traffic,
) -> Vec<(&'static str, i64)> {
    let settled = testkit::eventually(Duration::from_secs(90), || async {
        let found = check(stack, products, traffic).await;
        found.iter().all(|(_, n)| *n == 0).then_some(found)
    })
    .await;
    let found = match settled {
        Some(found) => found,
        None => check(stack, products, traffic).await,
    };
    for (invariant, n) in &found {
        println!("{} {invariant}: {n}", if *n == 0 { "ok  " } else { "FAIL" });
    }
    found
}

/// What the stream's stacks run with, so that faults settle within the drain: order's recovery
/// loop settles a `PENDING` order (its payment call cut off by a crash) once it is 2 s old, and
/// a payment call times out after 2 s.
pub const FAULT_ENV: [(&str, &str); 2] = [
    ("PENDING_RECOVERY_AFTER_MS", "2000"),
    ("PAYMENT_TIMEOUT_MS", "2000"),
];

/// Sets up a shop for [`stream`]: three kits of [`INITIAL_STOCK`] (one order of each placed),
/// 50 signed-in customers, and the poison message ([`inject_poison`]).
pub async fn shop(stack: &Stack) -> (Vec<i64>, Vec<Http>) {
    let g = &stack.gateway_url;
    let http = super::sign_in(g, "customer", 1).await;
    let mut products = Vec::new();
    for seller in 1..=3 {
        products.push(super::register_kit(g, seller, INITIAL_STOCK).await);
    }
    let mut customers = Vec::new();
    for id in 1..=50 {
        customers.push(super::sign_in(g, "customer", id).await);
    }
    for product in &products {
        let (status, body) =
            super::place_order(&http, g, json!({"productId": product, "qty": 1})).await;
        assert_eq!(status, 201, "{body}");
    }
    inject_poison(stack).await;
    (products, customers)
}
