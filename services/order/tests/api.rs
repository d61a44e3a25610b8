//! Order with the real payment service beside it (in-process, same database, its own schema)
//! against real Postgres and the broker.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use contracts::{
    DeliveryChanged, DeliveryStatus, Envelope, Event, ProductRegistered, ProductUpdated,
    StockDecreased, StockRestored, Topic,
};
use platform::settings::ClientSettings;
use serde_json::{Value, json};
use testkit::{Http, Role, Running, TestEnv, assert_error, eventually};

struct Harness {
    env: TestEnv,
    order: Running,
    payment: Option<Running>,
    http: Http,
}

async fn start_payment(env: &TestEnv) -> Running {
    let settings = env.settings("payment", "payment");
    Running::start(payment::build(settings)).await
}

async fn spawn() -> Harness {
    let env = TestEnv::new().await;
    let payment = start_payment(&env).await;
    let mut payment_client = ClientSettings::for_test(&payment.url);
    payment_client.timeout = Duration::from_millis(800);
    let settings = order::Settings {
        common: env.settings("order", "ordering"),
        payment: payment_client,
        marketing: ClientSettings::for_test("http://127.0.0.1:9"),
        recover_after: Duration::from_millis(1500),
    };
    let order = Running::start(order::build(settings)).await;
    // The catalog arrives as events, as from the product service.
    env.publish(&Envelope::new(
        "product",
        Event::ProductRegistered(ProductRegistered {
            product_id: 11,
            seller_id: 5,
            name: "Japchae kit".into(),
            price: 8000,
            stock: 50,
        }),
    ))
    .await;
    let harness = Harness {
        http: env.http_as(Role::Customer, 8),
        env,
        order,
        payment: Some(payment),
    };
    eventually(Duration::from_secs(15), || async {
        let mut conn = harness.env.pool("ordering").acquire().await.ok()?;
        let known: i64 = sqlx::query_scalar("SELECT count(*) FROM products")
            .fetch_one(&mut *conn)
            .await
            .ok()?;
        (known == 1).then_some(())
    })
    .await
    .expect("the product replica learned the product");
    harness
}

impl Harness {
    /// Places `body` signed in as the customer it names (customer 8 if it names none).
    async fn place(&self, body: Value) -> (u16, Value) {
        let http = match body["customerId"].as_i64() {
            Some(id) if id > 0 => self.env.http_as(Role::Customer, id),
            _ => self.http.clone(),
        };
        http.post(&format!("{}/orders", self.order.url), body).await
    }

    async fn count(&self, schema: &str, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.env.pool(schema))
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn a_paid_order_is_placed_and_announced_once() {
    let h = spawn().await;
    let (status, order) = h
        .place(json!({"productId": 11, "qty": 3, "customerId": 8, "address": "Incheon"}))
        .await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["status"], "PLACED");
    assert_eq!(order["amount"], 24000);
    assert_eq!(order["sellerId"], 5);
    let id = order["id"].as_i64().unwrap();
    assert_eq!(
        h.count(
            "payment",
            &format!("SELECT count(*) FROM payments WHERE order_id = {id} AND status = 'APPROVED'")
        )
        .await,
        1
    );

    let placed = eventually(Duration::from_secs(10), || async {
        let found = h
            .env
            .events(Topic::Order, Duration::from_millis(1000))
            .await;
        (!found.is_empty()).then_some(found)
    })
    .await
    .expect("OrderPlaced published");
    assert_eq!(placed.len(), 1);
    assert!(
        matches!(&placed[0].event, Event::OrderPlaced(p) if p.order_id == id && p.product_name == "Japchae kit")
    );

    // The seed's siege body: defaults for everything else.
    let (status, body) = h.place(json!({"productId": 11, "qty": 5})).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = h.place(json!({"prodId": 11, "qty": 1})).await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn the_order_follows_its_delivery_and_ignores_redelivery_and_late_events() {
    let h = spawn().await;
    let (_, order) = h
        .place(json!({"productId": 11, "qty": 1, "customerId": 8, "address": "Incheon"}))
        .await;
    let id = order["id"].as_i64().unwrap();
    let change = |status: DeliveryStatus| DeliveryChanged {
        delivery_id: 1,
        order_id: id,
        customer_id: 8,
        seller_id: 5,
        status,
    };
    let status_of =
        || async { h.http.get(&format!("{}/orders/{id}", h.order.url)).await.1["status"].clone() };

    let requested = Envelope::new(
        "delivery",
        Event::DeliveryRequested(change(DeliveryStatus::Requested)),
    );
    h.env.publish(&requested).await;
    h.env.publish(&requested).await;
    h.env
        .publish(&Envelope::new(
            "delivery",
            Event::DeliveryStarted(change(DeliveryStatus::Started)),
        ))
        .await;
    h.env
        .publish(&Envelope::new(
            "delivery",
            Event::DeliveryCompleted(change(DeliveryStatus::Completed)),
        ))
        .await;
    eventually(Duration::from_secs(10), || async {
        (status_of().await == "DELIVERED").then_some(())
    })
    .await
    .expect("order delivered");
    // A late event does not move a terminal order.
    h.env
        .publish(&Envelope::new(
            "delivery",
            Event::DeliveryStarted(change(DeliveryStatus::Started)),
        ))
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(status_of().await, "DELIVERED");
}

/// An event of product's stamped `at`.
fn stamped(at: DateTime<Utc>, event: Event) -> Envelope {
    let mut envelope = Envelope::new("product", event);
    envelope.occurred_at = at;
    envelope
}

fn decreased(order_id: i64, remaining: i32) -> Event {
    Event::StockDecreased(StockDecreased {
        order_id,
        product_id: 11,
        qty: 1,
        remaining,
    })
}

#[tokio::test]
async fn the_replica_keeps_the_newest_stock_and_refuses_more_than_it() {
    let h = spawn().await;
    let pool = h.env.pool("ordering");
    let registered: DateTime<Utc> =
        sqlx::query_scalar("SELECT stock_as_of FROM products WHERE product_id = 11")
            .fetch_one(&pool)
            .await
            .unwrap();
    let later = |seconds| registered + TimeDelta::seconds(seconds);
    // Stock movements travel keyed by order, so the newest may well arrive first: the stale
    // level comes last here. Two stamped in the same microsecond by one product transaction:
    // the higher wins whatever the arrival order (a stale higher stock refuses nothing good).
    let restored = Event::StockRestored(StockRestored {
        order_id: 902,
        product_id: 11,
        qty: 2,
        remaining: 6,
    });
    let events = [
        stamped(later(2), restored),
        stamped(later(2), decreased(901, 4)),
        stamped(later(1), decreased(900, 10)),
    ];
    for envelope in &events {
        h.env.publish(envelope).await;
    }
    let ids: Vec<_> = events.iter().map(|e| e.event_id).collect();
    eventually(Duration::from_secs(15), || async {
        let seen: i64 =
            sqlx::query_scalar("SELECT count(*) FROM processed_events WHERE event_id = ANY($1)")
                .bind(&ids)
                .fetch_one(&pool)
                .await
                .ok()?;
        (seen == 3).then_some(())
    })
    .await
    .expect("order consumed the three stock events");
    let stock: Option<i32> = sqlx::query_scalar("SELECT stock FROM products WHERE product_id = 11")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stock, Some(6));

    let refused = h.place(json!({"productId": 11, "qty": 7})).await;
    assert_error(&refused, 409, "insufficient_stock");
    assert_eq!(
        refused.1["message"],
        "only 6 of Japchae kit are left; order at most 6"
    );
    assert_eq!(h.count("ordering", "SELECT count(*) FROM orders").await, 0);
    assert_eq!(h.count("payment", "SELECT count(*) FROM payments").await, 0);
    let (status, order) = h.place(json!({"productId": 11, "qty": 6})).await;
    assert_eq!(status, 201, "{order}");

    // A kit replicated before order kept stock: its stock is unknown, nothing is refused.
    sqlx::query(
        "INSERT INTO products (product_id, seller_id, name, price) VALUES (12, 5, 'Old kit', 100)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let (status, order) = h.place(json!({"productId": 12, "qty": 100})).await;
    assert_eq!(status, 201, "{order}");
}

#[tokio::test]
async fn a_declined_card_places_nothing_and_publishes_nothing() {
    let h = spawn().await;
    let answer = h.place(json!({"productId": 11, "qty": 1, "customerId": 9, "cardNumber": "4000-0000-0000-0002"})).await;
    assert_error(&answer, 402, "payment_declined");
    assert_eq!(
        h.count(
            "ordering",
            "SELECT count(*) FROM orders WHERE status = 'REJECTED' AND reason = 'PAYMENT_DECLINED'"
        )
        .await,
        1
    );
    assert_eq!(
        h.count(
            "ordering",
            "SELECT count(*) FROM orders WHERE status <> 'REJECTED'"
        )
        .await,
        0
    );
    assert_eq!(h.count("ordering", "SELECT count(*) FROM outbox").await, 0);
    assert_eq!(h.count("payment", "SELECT count(*) FROM outbox").await, 0);
    let published = h
        .env
        .events(Topic::Order, Duration::from_millis(1500))
        .await;
    assert!(published.is_empty(), "{published:?}");
    let published = h
        .env
        .events(Topic::Payment, Duration::from_millis(1500))
        .await;
    assert!(published.is_empty(), "{published:?}");
}

#[tokio::test]
async fn bad_input_gets_a_json_4xx_and_stores_nothing() {
    let h = spawn().await;
    let cases: Vec<(Value, u16, &str)> = vec![
        (json!({"qty": 1}), 422, "invalid_body"),
        (json!({"productId": 11}), 422, "invalid_body"),
        (json!({"productId": 11, "qty": "two"}), 422, "invalid_body"),
        (json!({"productId": 11, "qty": 0}), 422, "invalid_value"),
        (json!({"productId": 11, "qty": -2}), 422, "invalid_value"),
        (json!({"productId": 11, "qty": 101}), 422, "invalid_value"),
        (json!({"productId": -11, "qty": 1}), 422, "invalid_value"),
        (
            json!({"productId": 11, "qty": 1, "customerId": 0}),
            403,
            "forbidden",
        ),
        (
            json!({"productId": 11, "qty": 1, "address": ""}),
            422,
            "invalid_value",
        ),
        (
            json!({"productId": 11, "qty": 1, "cardNumber": "12-ab"}),
            422,
            "invalid_value",
        ),
        (json!({"productId": 404, "qty": 1}), 422, "unknown_product"),
    ];
    for (body, status, code) in cases {
        assert_error(&h.place(body).await, status, code);
    }
    let url = format!("{}/orders", h.order.url);
    assert_error(
        &h.http
            .post_raw(&url, "application/json", "{\"productId\":")
            .await,
        400,
        "malformed_json",
    );
    assert_error(
        &h.http
            .post_raw(&url, "application/json", "x".repeat(70_000))
            .await,
        413,
        "payload_too_large",
    );
    assert_error(&h.http.get(&format!("{url}/x1")).await, 400, "invalid_path");
    assert_error(&h.http.get(&format!("{url}/5050")).await, 404, "not_found");
    let admin = h.env.http_as(Role::Admin, 1);
    assert_error(&admin.get(&url).await, 400, "bad_request");
    assert_error(
        &h.http.get(&format!("{url}?customerId=9")).await,
        403,
        "forbidden",
    );
    assert_error(&Http::default().get(&url).await, 401, "unauthenticated");
    assert_error(
        &h.http.get(&format!("{url}?customerId=abc")).await,
        400,
        "invalid_query",
    );
    assert_eq!(h.count("ordering", "SELECT count(*) FROM orders").await, 0);
    assert_eq!(h.count("payment", "SELECT count(*) FROM payments").await, 0);
}

#[tokio::test]
async fn with_payment_down_orders_fail_fast_and_none_is_placed() {
    let mut h = spawn().await;
    h.payment.take().unwrap().shutdown().await;
    for _ in 0..5 {
        let started = Instant::now();
        assert_error(
            &h.place(json!({"productId": 11, "qty": 1, "customerId": 3}))
                .await,
            503,
            "payment_unavailable",
        );
        println!("503 in {:?}", started.elapsed());
    }
    assert_eq!(
        h.count(
            "ordering",
            "SELECT count(*) FROM orders WHERE status <> 'REJECTED'"
        )
        .await,
        0
    );
    assert_eq!(h.count("ordering", "SELECT count(*) FROM outbox").await, 0);
    let published = h
        .env
        .events(Topic::Order, Duration::from_millis(1500))
        .await;
    assert!(published.is_empty(), "{published:?}");
}

#[tokio::test]
async fn a_pending_order_left_by_a_crash_is_settled_by_asking_payment() {
    let h = spawn().await;
    // As if order died between storing the order and hearing payment's answer: one order that
    // payment approved, one that payment never saw.
    let pool = h.env.pool("ordering");
    let insert = "INSERT INTO orders (customer_id, seller_id, product_id, product_name, qty, amount, address, status, created_at)
                  VALUES (4, 5, 11, 'Japchae kit', 1, 8000, 'Daegu', 'PENDING', now() - interval '1 minute') RETURNING id";
    let paid: i64 = sqlx::query_scalar(insert).fetch_one(&pool).await.unwrap();
    let unpaid: i64 = sqlx::query_scalar(insert).fetch_one(&pool).await.unwrap();
    let (status, body) = h
        .env
        .http_as_service()
        .post(
            &format!("{}/payments", h.payment.as_ref().unwrap().url),
            json!({"orderId": paid, "customerId": 4, "sellerId": 5, "productId": 11, "qty": 1, "amount": 8000, "address": "Daegu"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let customer = h.env.http_as(Role::Customer, 4);
    let settled = eventually(Duration::from_secs(15), || async {
        let a = customer
            .get(&format!("{}/orders/{paid}", h.order.url))
            .await
            .1;
        let b = customer
            .get(&format!("{}/orders/{unpaid}", h.order.url))
            .await
            .1;
        (a["status"] != "PENDING" && b["status"] != "PENDING").then_some((a, b))
    })
    .await
    .expect("recovery settled both orders");
    assert_eq!(settled.0["status"], "PLACED");
    assert_eq!(settled.1["status"], "REJECTED");
    assert_eq!(h.env.published(Topic::Order, "OrderPlaced").await, 1);
}

#[tokio::test]
async fn an_order_is_its_customer_s_and_an_admin_s_only() {
    let h = spawn().await;
    let (status, order) = h
        .place(json!({"productId": 11, "qty": 1, "address": "Incheon"}))
        .await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["customerId"], 8, "the customer is the token's");
    let id = order["id"].as_i64().unwrap();
    let url = format!("{}/orders/{id}", h.order.url);
    let other = h.env.http_as(Role::Customer, 9);
    assert_error(&other.get(&url).await, 404, "not_found");
    assert_error(&other.delete(&url).await, 404, "not_found");
    assert_error(
        &other.post(&format!("{url}/cancel"), json!({})).await,
        404,
        "not_found",
    );
    let (_, theirs) = other.get(&format!("{}/orders", h.order.url)).await;
    assert_eq!(theirs, json!([]));
    assert_error(&Http::default().get(&url).await, 401, "unauthenticated");
    assert_error(
        &Http::bearer("not.a.token").get(&url).await,
        401,
        "invalid_token",
    );
    // Order checks tokens itself, whatever is in front of it.
    for (why, token) in testkit::forged_tokens(&h.env.issuer, &h.env.auth()) {
        let answer = Http::bearer(&token).get(&url).await;
        assert_eq!(answer.0, 401, "a token with {why}: {}", answer.1);
        assert_eq!(answer.1["error"], "invalid_token", "{why}");
    }
    // A seller cannot order, nor act for a customer.
    assert_error(
        &h.env
            .http_as(Role::Seller, 5)
            .post(
                &format!("{}/orders", h.order.url),
                json!({"productId": 11, "qty": 1}),
            )
            .await,
        403,
        "forbidden",
    );
    assert_error(
        &h.http
            .post(
                &format!("{}/orders", h.order.url),
                json!({"productId": 11, "qty": 1, "customerId": 9}),
            )
            .await,
        403,
        "forbidden",
    );
    let (status, seen) = h.env.http_as(Role::Admin, 1).get(&url).await;
    assert_eq!((status, seen["id"].as_i64()), (200, Some(id)));
    let (status, own) = h.http.get(&url).await;
    assert_eq!((status, own["status"].clone()), (200, json!("PLACED")));
    assert_eq!(h.count("ordering", "SELECT count(*) FROM orders").await, 1);
}

fn price_one(source: &str) -> Envelope {
    Envelope::new(
        source,
        Event::ProductUpdated(ProductUpdated {
            product_id: 11,
            seller_id: Some(5),
            name: "Japchae kit".into(),
            price: 1,
            stock: 50,
        }),
    )
}

#[tokio::test]
async fn a_delivery_event_or_a_price_that_does_not_fit_is_dead_lettered() {
    let h = spawn().await;
    let (_, order) = h.place(json!({"productId": 11, "qty": 1})).await;
    let id = order["id"].as_i64().unwrap();
    let change = |order_id, customer_id, status| DeliveryChanged {
        delivery_id: 1,
        order_id,
        customer_id,
        seller_id: 5,
        status,
    };
    let delivery = |event: fn(DeliveryChanged) -> Event, order_id, customer_id, status| {
        Envelope::new("delivery", event(change(order_id, customer_id, status)))
    };
    let never_asked = delivery(Event::DeliveryCancelled, id, 8, DeliveryStatus::Cancelled);
    let someone_else = delivery(Event::DeliveryStarted, id, 9, DeliveryStatus::Started);
    let no_order = delivery(Event::DeliveryRequested, 4040, 8, DeliveryStatus::Requested);
    let (from_order, misplaced) = (price_one("order"), price_one("product"));
    for forged in [&never_asked, &someone_else, &no_order, &from_order] {
        h.env.publish(forged).await;
    }
    h.env.publish_to(Topic::Delivery, &misplaced).await;
    let cases = [
        (&never_asked, "its cancellation was never asked for"),
        (&someone_else, "is customer 8's of seller 5, not 9's of 5"),
        (&no_order, "no order 4040"),
        (&from_order, "only product publishes there"),
        (&misplaced, "does not belong on mealkit.delivery"),
    ];
    for (forged, why) in cases {
        h.env.assert_dead_lettered(forged, why).await;
    }
    let status_of =
        || async { h.http.get(&format!("{}/orders/{id}", h.order.url)).await.1["status"].clone() };
    assert_eq!(status_of().await, "PLACED");
    let price = "SELECT price FROM products WHERE product_id = 11";
    assert_eq!(h.count("ordering", price).await, 8000);

    let requested = delivery(Event::DeliveryRequested, id, 8, DeliveryStatus::Requested);
    h.env.publish(&requested).await;
    eventually(Duration::from_secs(10), || async {
        (status_of().await == "DELIVERY_REQUESTED").then_some(())
    })
    .await
    .expect("the real delivery is followed");
}
