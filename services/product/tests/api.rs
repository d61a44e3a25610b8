//! Product against real Postgres and the broker: the catalog API, bad input, and the stock saga
//! steps driven by real events on the topics.

use std::time::Duration;

use contracts::{Envelope, Event, PaymentCancelled, PaymentCompleted, Topic};
use serde_json::{Value, json};
use testkit::{Http, Role, Running, TestEnv, assert_error, eventually};

async fn spawn() -> (TestEnv, Running) {
    let env = TestEnv::new().await;
    let settings = env.settings("product", "product");
    let app = Running::start(product::build(settings)).await;
    (env, app)
}

async fn count(env: &TestEnv, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&env.pool("product"))
        .await
        .unwrap()
}

async fn register(http: &Http, url: &str, stock: i64) -> Value {
    let (status, body) = http
        .post(
            &format!("{url}/products"),
            json!({"sellerId": 3, "name": "Kimchi stew kit", "price": 9900, "stock": stock}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body
}

fn paid(order_id: i64, product_id: i64, qty: i32) -> Envelope {
    Envelope::new(
        "payment",
        Event::PaymentCompleted(PaymentCompleted {
            payment_id: order_id,
            order_id,
            customer_id: 1,
            seller_id: 3,
            product_id,
            qty,
            amount: 9900 * i64::from(qty),
            address: "Busan".into(),
        }),
    )
}

#[tokio::test]
async fn a_registered_product_is_stored_readable_and_announced() {
    let (env, app) = spawn().await;
    let http = env.http_as(Role::Seller, 3);
    let product = register(&http, &app.url, 10).await;
    let id = product["id"].as_i64().unwrap();
    let (status, read) = http.get(&format!("{}/products/{id}", app.url)).await;
    assert_eq!(status, 200);
    assert_eq!(read["name"], "Kimchi stew kit");
    let (_, listed) = http.get(&format!("{}/products?sellerId=3", app.url)).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    // The catalog is public; changing a kit is its seller's alone.
    let (status, _) = Http::default()
        .get(&format!("{}/products/{id}", app.url))
        .await;
    assert_eq!(status, 200);
    let cut = json!({"price": 0});
    let url = format!("{}/products/{id}", app.url);
    assert_error(
        &Http::default().patch(&url, cut.clone()).await,
        401,
        "unauthenticated",
    );
    assert_error(
        &env.http_as(Role::Seller, 4).patch(&url, cut.clone()).await,
        403,
        "forbidden",
    );
    assert_error(
        &env.http_as(Role::Customer, 3)
            .patch(&url, cut.clone())
            .await,
        403,
        "forbidden",
    );
    assert_error(
        &env.http_as(Role::Customer, 3)
            .post(
                &format!("{}/products", app.url),
                json!({"name": "x", "price": 1, "stock": 1}),
            )
            .await,
        403,
        "forbidden",
    );
    assert_eq!(http.get(&url).await.1["price"], 9900, "nothing changed");

    let (status, edited) = http
        .patch(
            &format!("{}/products/{id}", app.url),
            json!({"price": 10900}),
        )
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["price"], 10900);
    assert_eq!(edited["stock"], 10);

    let events = eventually(Duration::from_secs(10), || async {
        let found = env
            .events(Topic::Product, Duration::from_millis(1500))
            .await;
        (found.len() == 2).then_some(found)
    })
    .await
    .expect("ProductRegistered and ProductUpdated on the topic");
    assert!(
        matches!(&events[0].event, Event::ProductRegistered(p) if p.product_id == id && p.stock == 10)
    );
    assert!(matches!(&events[1].event, Event::ProductUpdated(p) if p.price == 10900));
    assert_eq!(events[0].key(), id.to_string());
}

#[tokio::test]
async fn bad_input_gets_a_json_4xx_and_stores_nothing() {
    let (env, app) = spawn().await;
    let http = env.http_as(Role::Seller, 3);
    let url = format!("{}/products", app.url);
    let cases: Vec<(Value, u16, &str)> = vec![
        (json!({"price": 1, "stock": 1}), 422, "invalid_body"),
        (
            json!({"sellerId": "three", "name": "x", "price": 1, "stock": 1}),
            422,
            "invalid_body",
        ),
        (
            json!({"sellerId": 3, "name": "x", "price": -1, "stock": 1}),
            422,
            "invalid_value",
        ),
        (
            json!({"sellerId": 3, "name": "x", "price": 1, "stock": -5}),
            422,
            "invalid_value",
        ),
        (
            json!({"sellerId": 0, "name": "x", "price": 1, "stock": 1}),
            403,
            "forbidden",
        ),
        (
            json!({"sellerId": 3, "name": "   ", "price": 1, "stock": 1}),
            422,
            "invalid_value",
        ),
        // An integral number is an integer (as in JSON Schema), then checked for range.
        (
            json!({"sellerId": 3, "name": "x", "price": 1, "stock": 1e12}),
            422,
            "invalid_value",
        ),
        (
            json!({"sellerId": 3, "name": "x", "price": 1, "stock": 1.5}),
            422,
            "invalid_body",
        ),
        (
            json!({"sellerId": 3, "name": "nul\u{0}byte", "price": 1, "stock": 1}),
            422,
            "invalid_value",
        ),
        (json!([1, 2]), 422, "invalid_body"),
    ];
    for (body, status, code) in cases {
        assert_error(&http.post(&url, body).await, status, code);
    }
    assert_error(
        &http
            .post_raw(&url, "application/json", "{\"sellerId\": 3,")
            .await,
        400,
        "malformed_json",
    );
    assert_error(
        &http.post_raw(&url, "text/plain", "hello").await,
        415,
        "unsupported_media_type",
    );
    assert_error(
        &http
            .post_raw(&url, "application/json", "x".repeat(70_000))
            .await,
        413,
        "payload_too_large",
    );
    assert_error(&http.get(&format!("{url}/abc")).await, 400, "invalid_path");
    assert_error(&http.get(&format!("{url}/1.5")).await, 400, "invalid_path");
    assert_error(&http.get(&format!("{url}/424242")).await, 404, "not_found");
    // An integral number is an integer, in a path as in a body or a query (JSON Schema's rule).
    assert_error(
        &http.get(&format!("{url}/424242.0")).await,
        404,
        "not_found",
    );
    assert_error(
        &http
            .patch(&format!("{url}/424242"), json!({"price": 5}))
            .await,
        404,
        "not_found",
    );
    assert_error(
        &http.get(&format!("{url}?limit=0")).await,
        422,
        "invalid_value",
    );
    assert_error(
        &http.get(&format!("{url}?sellerId=abc")).await,
        400,
        "invalid_query",
    );
    let product = register(&http, &app.url, 1).await;
    let id = product["id"].clone();
    assert_error(
        &http.patch(&format!("{url}/{id}"), json!({})).await,
        422,
        "invalid_value",
    );
    assert_error(
        &http
            .patch(&format!("{url}/{id}"), json!({"stock": -1}))
            .await,
        422,
        "invalid_value",
    );
    assert_eq!(count(&env, "SELECT count(*) FROM products").await, 1);
    // Only the registration published anything: none of the refused changes did.
    let published = env
        .events(Topic::Product, Duration::from_millis(1500))
        .await;
    assert_eq!(published.len(), 1, "{published:?}");
    assert_eq!(published[0].event_type(), "ProductRegistered");
}

#[tokio::test]
async fn stock_follows_payments_exactly_once_and_never_goes_negative() {
    let (env, app) = spawn().await;
    let http = env.http_as(Role::Seller, 3);
    let product_id = register(&http, &app.url, 5).await["id"].as_i64().unwrap();
    let stock = |http: Http, url: String| async move {
        http.get(&format!("{url}/products/{product_id}")).await.1["stock"]
            .as_i64()
            .unwrap()
    };

    // The same event delivered twice, and a second event for the same order: taken once.
    let first = paid(101, product_id, 3);
    env.publish(&first).await;
    env.publish(&first).await;
    env.publish(&paid(101, product_id, 3)).await;
    // Orders are keys, so 101 and 102 may sit on different partitions, read in either order:
    // 102 goes out once 101 is applied, so which of the two is short is certain.
    eventually(Duration::from_secs(15), || async {
        (stock(http.clone(), app.url.clone()).await == 2).then_some(())
    })
    .await
    .expect("order 101 takes its stock");
    // More than what is left: a shortage, the stock untouched.
    env.publish(&paid(102, product_id, 4)).await;
    let events = eventually(Duration::from_secs(15), || async {
        let found = env
            .events(Topic::Product, Duration::from_millis(1500))
            .await;
        (found.len() >= 3).then_some(found)
    })
    .await
    .expect("stock events");
    assert_eq!(stock(http.clone(), app.url.clone()).await, 2);
    let decreased: Vec<_> = events
        .iter()
        .filter(|e| matches!(e.event, Event::StockDecreased(_)))
        .collect();
    let shortages: Vec<_> = events
        .iter()
        .filter(|e| matches!(e.event, Event::StockShortage(_)))
        .collect();
    assert_eq!(decreased.len(), 1, "{events:?}");
    assert_eq!(shortages.len(), 1, "{events:?}");
    assert!(
        matches!(&shortages[0].event, Event::StockShortage(s) if s.requested == 4 && s.available == 2)
    );

    // Cancelling restores what order 101 took, once; order 102 took nothing.
    let cancel = |order_id, qty| refund(order_id, product_id, qty);
    let restore = cancel(101, 3);
    env.publish(&restore).await;
    env.publish(&restore).await;
    env.publish(&cancel(101, 3)).await;
    env.publish(&cancel(102, 4)).await;
    eventually(Duration::from_secs(10), || async {
        (stock(http.clone(), app.url.clone()).await == 5).then_some(())
    })
    .await
    .expect("stock restored");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(stock(http.clone(), app.url.clone()).await, 5);
    assert_eq!(env.published(Topic::Product, "StockRestored").await, 1);
}

/// The relay publishes as soon as a transaction that enqueued commits, from an HTTP handler and
/// from the consumer loop alike. The poll is an hour here, so only that wake can publish.
#[tokio::test]
async fn committed_events_are_published_without_waiting_for_the_poll() {
    let env = TestEnv::new().await;
    let mut settings = env.settings("product", "product");
    settings.outbox_poll = Duration::from_secs(3600);
    let app = Running::start(product::build(settings)).await;
    let http = env.http_as(Role::Seller, 3);
    // The relay deletes each row it has sent: what the outbox holds is unsent.
    let unsent = "SELECT count(*) FROM outbox";

    let product_id = register(&http, &app.url, 5).await["id"].as_i64().unwrap();
    let published = eventually(Duration::from_secs(10), || async {
        (count(&env, unsent).await == 0).then_some(())
    })
    .await;
    assert!(published.is_some(), "ProductRegistered waited for the poll");

    env.publish(&paid(201, product_id, 2)).await;
    let published = eventually(Duration::from_secs(15), || async {
        // The stock changes in the transaction that writes StockDecreased to the outbox.
        let product = http
            .get(&format!("{}/products/{product_id}", app.url))
            .await
            .1;
        let decreased = product["stock"] == 3;
        (decreased && count(&env, unsent).await == 0).then_some(())
    })
    .await;
    assert!(published.is_some(), "StockDecreased waited for the poll");
    assert_eq!(
        env.events(Topic::Product, Duration::from_millis(1500))
            .await
            .len(),
        2
    );
}

/// A `PaymentCompleted` with a negative quantity would raise the stock: it breaks its contract,
/// so it is dead-lettered with the reason and never applied, and the events after it are.
#[tokio::test]
async fn an_event_that_breaks_its_contract_is_dead_lettered_not_applied() {
    let (env, app) = spawn().await;
    let http = env.http_as(Role::Seller, 3);
    let product_id = register(&http, &app.url, 5).await["id"].as_i64().unwrap();

    env.publish(&paid(301, product_id, -5)).await;
    env.publish(&paid(302, product_id, 2)).await;

    let events = eventually(Duration::from_secs(15), || async {
        let found = env
            .events(Topic::Product, Duration::from_millis(1500))
            .await;
        let applied = found
            .iter()
            .any(|e| matches!(&e.event, Event::StockDecreased(d) if d.order_id == 302));
        applied.then_some(found)
    })
    .await
    .expect("the payment after the broken one was applied");
    assert!(
        !events.iter().any(|e| e.event.order_id() == Some(301)),
        "{events:?}"
    );
    let (_, read) = http
        .get(&format!("{}/products/{product_id}", app.url))
        .await;
    assert_eq!(read["stock"], 3);
    let movements = "SELECT count(*) FROM stock_movements WHERE order_id = 301";
    assert_eq!(count(&env, movements).await, 0);
    let dead = eventually(Duration::from_secs(10), || async {
        let found = env.dead_letters(Duration::from_secs(2)).await;
        (!found.is_empty()).then_some(found)
    })
    .await
    .expect("the broken payment is on the dead-letter topic");
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(dead[0].0.contains("\"orderId\":301"), "{}", dead[0].0);
    assert_eq!(dead[0].1, "invalid event: qty must be 1 to 100, not -5");
}

fn refund(order_id: i64, product_id: i64, qty: i32) -> Envelope {
    Envelope::new(
        "payment",
        Event::PaymentCancelled(PaymentCancelled {
            payment_id: order_id,
            order_id,
            product_id,
            qty,
            amount: 9900 * i64::from(qty),
        }),
    )
}

#[tokio::test]
async fn a_refund_of_other_stock_than_the_order_took_is_dead_lettered() {
    let (env, app) = spawn().await;
    let http = env.http_as(Role::Seller, 3);
    let product_id = register(&http, &app.url, 5).await["id"].as_i64().unwrap();
    let stock = || async {
        let url = format!("{}/products/{product_id}", app.url);
        http.get(&url).await.1["stock"].as_i64().unwrap()
    };
    env.publish(&paid(201, product_id, 2)).await;
    eventually(Duration::from_secs(15), || async {
        (stock().await == 3).then_some(())
    })
    .await
    .expect("order 201 takes its stock");
    let (more, other_kit) = (refund(201, product_id, 5), refund(201, product_id + 1, 2));
    env.publish(&more).await;
    env.publish(&other_kit).await;
    for forged in [&more, &other_kit] {
        env.assert_dead_lettered(forged, &format!("order 201 took 2 of kit {product_id}"))
            .await;
    }
    assert_eq!(stock().await, 3, "nothing restored");
    env.publish(&refund(201, product_id, 2)).await;
    eventually(Duration::from_secs(15), || async {
        (stock().await == 5).then_some(())
    })
    .await
    .expect("the real refund restores what order 201 took");
}
