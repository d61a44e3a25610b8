//! Stock runs out: order refuses at intake what its replica of the stock says cannot be
//! filled, before anything is stored or charged. What its replica cannot see (orders in flight
//! together) product catches: it never lets the stock go negative, and the orders it cannot
//! fill are cancelled automatically through the compensation chain. And orders keep coming in
//! while product is down, the stock catching up exactly when it returns.

mod support;

use std::time::Duration;

use futures::future::join_all;
use serde_json::json;
use support::{WAIT, get, place_order, register_kit, sign_in, start_stack, stop_stack};
use testkit::{assert_error, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_the_stock_is_refused_before_anything_is_stored_or_charged() {
    let stack = start_stack(&[]).await;
    let g = stack.gateway_url.clone();
    let db = sqlx::PgPool::connect(&stack.database_url).await.unwrap();
    let http = sign_in(&g, "customer", 1001).await;
    let product = register_kit(&g, 8, 5).await;
    let charged = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM payment.payments WHERE customer_id = 1001",
        )
        .fetch_one(&db)
        .await
        .unwrap()
    };

    let refused = place_order(&http, &g, json!({"productId": product, "qty": 6})).await;
    assert_error(&refused, 409, "insufficient_stock");
    assert_eq!(
        refused.1["message"],
        "only 5 of Bulgogi kit are left; order at most 5"
    );
    assert_eq!(get(&http, format!("{g}/orders")).await, json!([]));
    assert_eq!(charged().await, 0);

    let (status, order) = http
        .post(
            &format!("{g}/orders"),
            json!({"productId": product, "qty": 5}),
        )
        .await;
    assert_eq!(status, 201, "{order}");
    let payment = get(&http, format!("{g}/payments?orderId={}", order["id"])).await;
    assert_eq!(payment[0]["status"], "APPROVED", "{payment}");

    // Product takes the five; once order's replica has heard it, not even one is accepted.
    eventually(WAIT, || async {
        let stock: Option<i32> =
            sqlx::query_scalar("SELECT stock FROM ordering.products WHERE product_id = $1")
                .bind(product)
                .fetch_one(&db)
                .await
                .ok()?;
        (stock == Some(0)).then_some(())
    })
    .await
    .expect("order's replica heard the stock fall to 0");
    let sold_out = http
        .post(
            &format!("{g}/orders"),
            json!({"productId": product, "qty": 1}),
        )
        .await;
    assert_error(&sold_out, 409, "insufficient_stock");
    assert!(
        sold_out.1["message"].as_str().unwrap().contains("sold out"),
        "{}",
        sold_out.1
    );
    // The five's order and its payment, and nothing else.
    assert_eq!(charged().await, 1);
    let orders = get(&http, format!("{g}/orders")).await;
    assert_eq!(orders.as_array().unwrap().len(), 1, "{orders}");

    stop_stack(stack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_orders_for_ten_kits_fill_ten_and_cancel_forty() {
    let mut stack = start_stack(&[]).await;
    let g = stack.gateway_url.clone();
    let http = sign_in(&g, "customer", 1000).await;
    let seller = sign_in(&g, "seller", 8).await;
    let product = register_kit(&g, 8, 10).await;
    // The first order waits for order's replica; the other 49 go at once, concurrently. With
    // product stopped meanwhile, order's replica cannot hear the stock fall and lets all 49
    // through, as it would orders in flight together: product alone finds the stock short,
    // once it is back.
    let (status, first) = place_order(
        &http,
        &g,
        json!({"productId": product, "qty": 1, "customerId": 1000}),
    )
    .await;
    assert_eq!(status, 201, "{first}");
    stack.stop_service("product").await;
    let answers = join_all((1..50).map(|_| {
        let (http, g) = (http.clone(), g.clone());
        async move {
            http.post(
                &format!("{g}/orders"),
                json!({"productId": product, "qty": 1, "customerId": 1000}),
            )
            .await
        }
    }))
    .await;
    let mut ids = vec![first["id"].as_i64().unwrap()];
    for (status, body) in answers {
        assert_eq!(status, 201, "{body}");
        ids.push(body["id"].as_i64().unwrap());
    }
    stack
        .restart_service("product")
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // An order that will be cancelled can be DELIVERY_REQUESTED first (its delivery and its
    // shortage come from different topics), so only forty cancellations mean it has settled.
    let settled = eventually(Duration::from_secs(60), || async {
        let mut fulfilled = Vec::new();
        let mut cancelled = Vec::new();
        for id in &ids {
            let order = get(&http, format!("{g}/orders/{id}")).await;
            match order["status"].as_str().unwrap() {
                "CANCELLED" => cancelled.push(order),
                "DELIVERY_REQUESTED" => fulfilled.push(order),
                _ => return None,
            }
        }
        (cancelled.len() >= 40).then_some((fulfilled, cancelled))
    })
    .await
    .expect("every order settled");
    let (fulfilled, cancelled) = settled;
    assert_eq!(fulfilled.len(), 10);
    assert_eq!(cancelled.len(), 40);
    for order in &cancelled {
        assert_eq!(order["reason"], "OUT_OF_STOCK", "{order}");
        let delivery = get(&http, format!("{g}/deliveries?orderId={}", order["id"])).await;
        assert_eq!(delivery[0]["status"], "CANCELLED", "{delivery}");
        // The refund follows the delivery's cancellation.
        let url = format!("{g}/payments?orderId={}", order["id"]);
        eventually(Duration::from_secs(30), || async {
            (get(&http, url.clone()).await[0]["status"] == "CANCELLED").then_some(())
        })
        .await
        .unwrap_or_else(|| panic!("order {} never refunded", order["id"]));
    }
    assert_eq!(
        get(&http, format!("{g}/products/{product}")).await["stock"],
        0
    );
    // Customer and seller are told.
    let one = cancelled[0]["id"].as_i64().unwrap();
    let notices = eventually(Duration::from_secs(10), || async {
        let mut kinds: Vec<String> = Vec::new();
        for reader in [&http, &seller] {
            let found = get(reader, format!("{g}/notifications?orderId={one}")).await;
            kinds.extend(
                found
                    .as_array()?
                    .iter()
                    .map(|n| n["kind"].as_str().unwrap().to_owned()),
            );
        }
        (kinds.contains(&"ORDER_CANCELLED_OUT_OF_STOCK".to_owned())
            && kinds.contains(&"OUT_OF_STOCK".to_owned()))
        .then_some(kinds)
    })
    .await;
    assert!(
        notices.is_some(),
        "out-of-stock notifications for order {one}"
    );
    // The seller page is eventually consistent: wait for it to list all forty.
    eventually(Duration::from_secs(30), || async {
        let page = get(&seller, format!("{g}/sellers/8/cancellations?limit=200")).await;
        (page["items"].as_array()?.len() == 40).then_some(())
    })
    .await
    .expect("the seller page lists the forty cancellations");

    // Product down during a burst: every order accepted, the stock catches up exactly.
    let second = register_kit(&g, 9, 100).await;
    let (status, body) = place_order(&http, &g, json!({"productId": second, "qty": 2})).await;
    assert_eq!(status, 201, "{body}");
    stack.stop_service("product").await;
    let answers = join_all((0..20).map(|_| {
        let (http, g) = (http.clone(), g.clone());
        async move {
            http.post(
                &format!("{g}/orders"),
                json!({"productId": second, "qty": 2}),
            )
            .await
        }
    }))
    .await;
    assert!(
        answers.iter().all(|(status, _)| *status == 201),
        "{answers:?}"
    );
    stack
        .restart_service("product")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    eventually(Duration::from_secs(20), || async {
        (get(&http, format!("{g}/products/{second}")).await["stock"] == 58).then_some(())
    })
    .await
    .expect("stock caught up: 100 - 21 x 2");

    stop_stack(stack).await;
}
