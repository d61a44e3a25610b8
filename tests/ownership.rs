//! Identity and ownership through the gateway: every row of the README's ownership table with no
//! token, forged tokens, someone else's token and the right one, each refusal with its status and
//! JSON error and nothing changed (rows and events); then the pre-stored payment attack, from
//! outside and from inside the cluster.

use std::time::Duration;

use contracts::TopicNames;
use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::{Http, assert_error, eventually};

mod support;
use support::{
    WAIT, get, place_order, register_kit, service_token, sign_in, start_stack, stop_stack,
};

use platform::auth::AuthSettings;
use platform::auth::dev::{DevIssuer, DevIssuerSettings};

/// Everything a refused call could have changed: the rows of every schema (with the values an
/// attack would alter) and the number of events on every topic.
async fn fingerprint(pool: &PgPool, brokers: &platform::kafka::Brokers) -> Vec<String> {
    let queries = [
        "SELECT count(*)::TEXT || '/' || coalesce(sum(price + stock), 0)::TEXT FROM product.products",
        "SELECT count(*)::TEXT || '/' || coalesce(string_agg(status || customer_id, ',' ORDER BY id), '') FROM ordering.orders",
        "SELECT count(*)::TEXT || '/' || coalesce(string_agg(status || amount || address, ',' ORDER BY id), '') FROM payment.payments",
        "SELECT count(*)::TEXT || '/' || coalesce(string_agg(status, ',' ORDER BY id), '') FROM delivery.deliveries",
        "SELECT count(*)::TEXT FROM marketing.notifications",
        "SELECT count(*)::TEXT || '/' || coalesce(string_agg(status, ',' ORDER BY order_id), '') FROM sellerpage.seller_orders",
    ];
    let mut found = Vec::new();
    for sql in queries {
        let value: String = sqlx::query_scalar(sql)
            .fetch_one(pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        found.push(value);
    }
    let topics = TopicNames::default();
    for topic in topics.all() {
        let events = testkit::read_topic_raw(brokers, &topic, Duration::from_millis(1500)).await;
        found.push(format!("{topic}: {}", events.len()));
    }
    found
}

fn issuer_settings() -> DevIssuerSettings {
    DevIssuerSettings {
        enabled: true,
        redirect_uris: Vec::new(),
        key_file: Default::default(),
        token_ttl: std::time::Duration::from_secs(600),
        clients: Default::default(),
    }
}

/// One row of the table: the call, who is refused (with status and code), who is allowed.
type Row<'a> = (Call, Vec<(&'a Http, u16, &'static str)>, Vec<&'a Http>);

/// One call: method, URL and body.
#[derive(Clone)]
struct Call(&'static str, String, Value);

async fn send(http: &Http, call: &Call) -> (u16, Value) {
    let Call(method, url, body) = call;
    match *method {
        "GET" => http.get(url).await,
        "POST" => http.post(url, body.clone()).await,
        "PATCH" => http.patch(url, body.clone()).await,
        "DELETE" => http.delete(url).await,
        other => unreachable!("{other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everyone_sees_and_changes_only_what_is_theirs() {
    let stack = start_stack(&[]).await;
    let g = stack.gateway_url.clone();
    let pool = PgPool::connect(&stack.database_url).await.unwrap();

    // The dev issuer's contract.
    let (status, grant) = Http::default()
        .post(
            &format!("{g}/auth/dev/token"),
            json!({"role": "seller", "id": 7}),
        )
        .await;
    assert_eq!(status, 200, "{grant}");
    assert_eq!(grant["tokenType"], "Bearer");
    assert!(grant["expiresIn"].as_u64().unwrap() > 0);
    for bad in [
        json!({"role": "service", "id": 1}),
        json!({"role": "customer", "id": 0}),
        json!({"role": "customer", "id": -3}),
        json!({"role": "king", "id": 1}),
        json!({"role": "customer"}),
    ] {
        let answer = Http::default()
            .post(&format!("{g}/auth/dev/token"), bad.clone())
            .await;
        assert_eq!(answer.0, 422, "{bad}: {}", answer.1);
    }
    let jwks = get(&Http::default(), format!("{g}/.well-known/jwks.json")).await;
    assert_eq!(jwks["keys"][0]["alg"], "EdDSA", "{jwks}");
    assert!(
        jwks["keys"][0].get("d").is_none(),
        "the private key stays private"
    );
    // The service role only through the client-credentials grant, only with the right secret.
    let grant = |form: Vec<(&'static str, String)>| {
        let url = format!("{g}/auth/dev/oauth2/token");
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .form(&form)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let secret = stack.service_client_secret().to_owned();
    let form = |grant_type: &str, client: &str, secret: &str| {
        vec![
            ("grant_type", grant_type.to_owned()),
            ("client_id", client.to_owned()),
            ("client_secret", secret.to_owned()),
        ]
    };
    assert_error(
        &grant(form("client_credentials", "order", "wrong-secret-0123456")).await,
        401,
        "invalid_client",
    );
    assert_error(
        &grant(form("client_credentials", "payment", &secret)).await,
        401,
        "invalid_client",
    );
    assert_error(
        &grant(form("password", "order", &secret)).await,
        400,
        "unsupported_grant_type",
    );
    assert_error(
        &grant(vec![("client_id", "order".to_owned())]).await,
        400,
        "invalid_request",
    );
    let (status, granted) = grant(form("client_credentials", "order", &secret)).await;
    assert_eq!(status, 200, "{granted}");
    assert_eq!(granted["token_type"], "Bearer");

    // A kit each for sellers 7 and 8; customer 42 orders 7's kit.
    let kit = register_kit(&g, 7, 100).await;
    let other_kit = register_kit(&g, 8, 100).await;
    let (seller7, seller8) = (
        sign_in(&g, "seller", 7).await,
        sign_in(&g, "seller", 8).await,
    );
    let (customer42, customer43) = (
        sign_in(&g, "customer", 42).await,
        sign_in(&g, "customer", 43).await,
    );
    let (courier, admin) = (
        sign_in(&g, "courier", 3).await,
        sign_in(&g, "admin", 1).await,
    );
    let (status, order) = place_order(
        &customer42,
        &g,
        json!({"productId": kit, "qty": 1, "address": "Seoul"}),
    )
    .await;
    assert_eq!(status, 201, "{order}");
    let order_id = order["id"].as_i64().unwrap();
    let payment_id = get(&customer42, format!("{g}/payments?orderId={order_id}")).await[0]["id"]
        .as_i64()
        .unwrap();
    let delivery_id = eventually(WAIT, || async {
        get(&customer42, format!("{g}/deliveries?orderId={order_id}")).await[0]["id"].as_i64()
    })
    .await
    .expect("the delivery was requested");
    // Let the saga settle, so that only the calls below could change anything.
    eventually(WAIT, || async {
        let page = get(&seller7, format!("{g}/sellers/7/orders")).await;
        let notes = get(&customer42, format!("{g}/notifications?orderId={order_id}")).await;
        let stock = get(&Http::default(), format!("{g}/products/{kit}")).await["stock"].clone();
        let order = get(&customer42, format!("{g}/orders/{order_id}")).await;
        (page["items"][0]["stockStatus"] == "DECREASED"
            && page["items"][0]["status"] == "DELIVERY_REQUESTED"
            && order["status"] == "DELIVERY_REQUESTED"
            && notes.as_array()?.len() == 2
            && stock == 99)
            .then_some(())
    })
    .await
    .expect("the saga settled");
    let before = fingerprint(&pool, &stack.kafka_brokers).await;

    let issuer = DevIssuer::load_or_create(
        &DevIssuerSettings {
            key_file: stack.dev_key_file(),
            ..issuer_settings()
        },
        &AuthSettings::for_dev_issuer(&g),
    )
    .unwrap();
    let forgeries = testkit::forged_tokens(&issuer, &AuthSettings::for_dev_issuer(&g));

    let order_url = format!("{g}/orders/{order_id}");
    let delivery_url = format!("{g}/deliveries/{delivery_id}");
    let none = json!(null);
    // (call, the parties refused with their status and code, the parties allowed)
    let rows: Vec<Row> = vec![
        (
            Call(
                "POST",
                format!("{g}/products"),
                json!({"sellerId": 7, "name": "x", "price": 1, "stock": 1}),
            ),
            vec![
                (&seller8, 403, "forbidden"),
                (&customer42, 403, "forbidden"),
            ],
            vec![],
        ),
        (
            Call("PATCH", format!("{g}/products/{kit}"), json!({"price": 0})),
            vec![
                (&seller8, 403, "forbidden"),
                (&customer42, 403, "forbidden"),
                (&admin, 403, "forbidden"),
            ],
            vec![],
        ),
        (
            Call(
                "POST",
                format!("{g}/orders"),
                json!({"productId": other_kit, "qty": 1, "customerId": 43}),
            ),
            vec![
                (&customer42, 403, "forbidden"),
                (&seller8, 403, "forbidden"),
            ],
            vec![],
        ),
        (
            Call("GET", format!("{g}/orders?customerId=42"), none.clone()),
            vec![
                (&customer43, 403, "forbidden"),
                (&seller7, 403, "forbidden"),
            ],
            vec![&customer42, &admin],
        ),
        (
            Call("GET", order_url.clone(), none.clone()),
            vec![
                (&customer43, 404, "not_found"),
                (&seller7, 404, "not_found"),
                (&courier, 404, "not_found"),
            ],
            vec![&customer42, &admin],
        ),
        (
            Call("POST", format!("{order_url}/cancel"), json!({})),
            vec![
                (&customer43, 404, "not_found"),
                (&seller7, 404, "not_found"),
            ],
            vec![],
        ),
        (
            Call("DELETE", order_url.clone(), none.clone()),
            vec![
                (&customer43, 404, "not_found"),
                (&seller8, 404, "not_found"),
            ],
            vec![],
        ),
        (
            Call("GET", format!("{g}/payments/{payment_id}"), none.clone()),
            vec![
                (&customer43, 404, "not_found"),
                (&seller7, 404, "not_found"),
                (&courier, 404, "not_found"),
            ],
            vec![&customer42, &admin],
        ),
        (
            Call("GET", delivery_url.clone(), none.clone()),
            vec![
                (&customer43, 404, "not_found"),
                (&seller8, 404, "not_found"),
            ],
            vec![&customer42, &seller7, &courier, &admin],
        ),
        (
            Call("POST", format!("{delivery_url}/start"), json!({})),
            vec![
                (&customer42, 403, "forbidden"),
                (&customer43, 404, "not_found"),
                (&seller8, 404, "not_found"),
            ],
            vec![],
        ),
        (
            Call("POST", format!("{delivery_url}/complete"), json!({})),
            vec![
                (&seller7, 403, "forbidden"),
                (&customer43, 404, "not_found"),
            ],
            vec![],
        ),
        (
            Call(
                "GET",
                format!("{g}/notifications?recipient=SELLER"),
                none.clone(),
            ),
            vec![
                (&customer42, 403, "forbidden"),
                (&courier, 403, "forbidden"),
            ],
            vec![&seller7],
        ),
        (
            Call("GET", format!("{g}/sellers/7/orders"), none.clone()),
            vec![
                (&seller8, 403, "forbidden"),
                (&customer42, 403, "forbidden"),
            ],
            vec![&seller7, &admin],
        ),
        (
            Call("GET", format!("{g}/sellers/7/cancellations"), none.clone()),
            vec![(&seller8, 403, "forbidden"), (&courier, 403, "forbidden")],
            vec![&seller7, &admin],
        ),
    ];
    for (call, refused, allowed) in &rows {
        let what = format!("{} {}", call.0, call.1);
        assert_error(&send(&Http::default(), call).await, 401, "unauthenticated");
        for (why, token) in &forgeries {
            let answer = send(&Http::bearer(token), call).await;
            assert_eq!(
                answer.0, 401,
                "{what} with a token with {why}: {}",
                answer.1
            );
            assert_eq!(answer.1["error"], "invalid_token", "{what}, {why}");
        }
        for (who, status, code) in refused {
            let answer = send(who, call).await;
            assert_eq!(answer.0, *status, "{what}: {}", answer.1);
            assert_error(&answer, *status, code);
        }
        for who in allowed {
            let answer = send(who, call).await;
            assert_eq!(answer.0, 200, "{what}: {}", answer.1);
        }
    }
    // Lists answer only what is the caller's.
    let theirs = get(&customer43, format!("{g}/payments?orderId={order_id}")).await;
    assert_eq!(theirs, json!([]));
    let theirs = get(&customer43, format!("{g}/deliveries?orderId={order_id}")).await;
    assert_eq!(theirs, json!([]));
    let theirs = get(&customer43, format!("{g}/notifications?orderId={order_id}")).await;
    assert_eq!(theirs, json!([]));
    assert_eq!(get(&customer43, format!("{g}/orders")).await, json!([]));
    // The catalog is public.
    assert_eq!(Http::default().get(&format!("{g}/products")).await.0, 200);

    // The calls between services are not routed, whoever asks, even with a service's token.
    let service = Http::bearer(&service_token(&stack).await);
    for who in [&Http::default(), &customer42, &admin, &service] {
        let charge = json!({"orderId": order_id + 1, "customerId": 42, "sellerId": 7, "productId": kit,
                            "qty": 1, "amount": 0, "address": "the attacker's door"});
        // `/payments` is readable through the gateway; charging there is not a method it has.
        assert_error(
            &who.post(&format!("{g}/payments"), charge).await,
            405,
            "method_not_allowed",
        );
        let alert = json!({"orderId": order_id, "sellerId": 7});
        assert_error(
            &who.post(&format!("{g}/notifications/seller-alerts"), alert)
                .await,
            404,
            "not_found",
        );
    }
    assert_eq!(
        fingerprint(&pool, &stack.kafka_brokers).await,
        before,
        "a refused call changed something"
    );

    // The pre-stored payment attack from inside the cluster: payment reached directly, without
    // the service credential.
    let payment = stack.service_url("payment");
    let next = order_id + 1;
    let prestored = json!({"orderId": next, "customerId": 43, "sellerId": 7, "productId": kit,
                           "qty": 1, "amount": 0, "address": "the attacker's door"});
    assert_error(
        &Http::default()
            .post(&format!("{payment}/payments"), prestored.clone())
            .await,
        401,
        "unauthenticated",
    );
    for who in [&customer43, &admin, &seller7] {
        assert_error(
            &who.post(&format!("{payment}/payments"), prestored.clone())
                .await,
            403,
            "forbidden",
        );
    }
    let impostor_service =
        DevIssuer::ephemeral(&issuer_settings(), &AuthSettings::for_dev_issuer(&g))
            .unwrap()
            .service_token("order");
    assert_error(
        &Http::bearer(&impostor_service)
            .post(&format!("{payment}/payments"), prestored.clone())
            .await,
        401,
        "invalid_token",
    );
    // Services check tokens themselves: forged ones fail there too, not only at the gateway.
    for (why, token) in &forgeries {
        let answer = Http::bearer(token)
            .get(&format!("{}/orders/{order_id}", stack.service_url("order")))
            .await;
        assert_eq!(answer.0, 401, "order with a token with {why}: {}", answer.1);
    }
    assert_eq!(
        fingerprint(&pool, &stack.kafka_brokers).await,
        before,
        "a refused call changed something"
    );

    // The next real order is paid by its own payment and delivered to its own address.
    let (status, real) = place_order(
        &customer43,
        &g,
        json!({"productId": kit, "qty": 2, "address": "Busan"}),
    )
    .await;
    assert_eq!(status, 201, "{real}");
    let real_id = real["id"].as_i64().unwrap();
    let paid = get(&customer43, format!("{g}/payments?orderId={real_id}")).await;
    assert_eq!(paid[0]["amount"], real["amount"], "{paid}");
    assert_eq!(paid[0]["address"], "Busan");
    assert_eq!(paid[0]["customerId"], 43);
    let delivery = eventually(WAIT, || async {
        let found = get(&customer43, format!("{g}/deliveries?orderId={real_id}")).await;
        found[0]["address"].as_str().map(str::to_owned)
    })
    .await;
    assert_eq!(delivery.as_deref(), Some("Busan"));

    // And the right people can act: the seller ships, the customer confirms.
    assert_eq!(
        seller7
            .post(&format!("{delivery_url}/start"), json!({}))
            .await
            .0,
        200
    );
    assert_eq!(
        customer42
            .post(&format!("{delivery_url}/complete"), json!({}))
            .await
            .0,
        200
    );
    let (status, edited) = seller7
        .patch(&format!("{g}/products/{kit}"), json!({"price": 12000}))
        .await;
    assert_eq!((status, edited["price"].clone()), (200, json!(12000)));

    stop_stack(stack).await;
}

/// Least privilege in the database: each service connects as its own role, which can use its
/// own schema and nothing else: reading, changing or creating anywhere else is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_service_can_use_only_its_own_schema() {
    let stack = start_stack(&[]).await;
    // Something in every schema, through the whole saga.
    let g = stack.gateway_url.clone();
    let customer = sign_in(&g, "customer", 91).await;
    let product = register_kit(&g, 19, 5).await;
    let (status, order) = place_order(&customer, &g, json!({"productId": product, "qty": 1})).await;
    assert_eq!(status, 201, "{order}");
    for (service, own) in stack::roles::SCHEMAS {
        let url = stack.service_database_url(service);
        assert!(
            url.starts_with(&format!("postgres://{}:", stack::roles::role_of(service))),
            "{service} connects as {url}"
        );
        let pool = PgPool::connect(url).await.unwrap();
        sqlx::query(&format!("SELECT count(*) FROM {own}.outbox"))
            .execute(&pool)
            .await
            .unwrap_or_else(|e| panic!("{service} reads its own schema: {e}"));
        for (_, other) in stack::roles::SCHEMAS.iter().filter(|(s, _)| *s != service) {
            for sql in [
                format!("SELECT count(*) FROM {other}.outbox"),
                format!("DELETE FROM {other}.outbox"),
                format!("CREATE TABLE {other}.intruder (id INT)"),
            ] {
                let refused = sqlx::query(&sql).execute(&pool).await.unwrap_err();
                let code = refused
                    .as_database_error()
                    .and_then(|e| e.code())
                    .map(|c| c.into_owned());
                assert_eq!(
                    code.as_deref(),
                    Some("42501"),
                    "{service}: {sql}: {refused}"
                );
            }
        }
        for sql in [
            "CREATE SCHEMA intruder",
            "CREATE TABLE public.intruder (id INT)",
        ] {
            let refused = sqlx::query(sql).execute(&pool).await.unwrap_err();
            let code = refused.as_database_error().and_then(|e| e.code());
            assert_eq!(
                code.as_deref(),
                Some("42501"),
                "{service}: {sql}: {refused}"
            );
        }
        pool.close().await;
    }
    stop_stack(stack).await;
}
