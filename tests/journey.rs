//! One order followed everywhere: its journey through the read side, one trace across HTTP and
//! Kafka (in every service's log lines, in the records' headers, and exported over OTLP to a
//! receiver this test runs), and a cancellation's journey step by step.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use rdkafka::Message;
use rdkafka::message::Headers;
use serde_json::{Value, json};
use support::{WAIT, get, place_order, register_kit, sign_in, start_stack, stop_stack};
use testkit::{Http, assert_error, eventually};

/// Every record of `topic` (from the beginning, for `window`): its payload and headers.
async fn records(
    brokers: &platform::kafka::Brokers,
    topic: &str,
    window: Duration,
) -> Vec<(Value, BTreeMap<String, String>)> {
    let consumer = testkit::topic_reader(brokers, topic);
    let mut found = Vec::new();
    let deadline = tokio::time::Instant::now() + window;
    while let Ok(Ok(message)) = tokio::time::timeout_at(deadline, consumer.recv()).await {
        let payload =
            serde_json::from_slice(message.payload().unwrap_or_default()).unwrap_or(Value::Null);
        let headers = message
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| {
                        let value = String::from_utf8_lossy(h.value.unwrap_or_default());
                        (h.key.to_owned(), value.into_owned())
                    })
                    .collect()
            })
            .unwrap_or_default();
        found.push((payload, headers));
    }
    found
}

/// The journey's step names, in its order.
fn steps(journey: &Value) -> Vec<String> {
    journey["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap().to_owned())
        .collect()
}

async fn journey_with(http: &Http, g: &str, order_id: i64, want: &[&str]) -> Value {
    let url = format!("{g}/orders/{order_id}/journey");
    let found = eventually(WAIT, || async {
        let (status, body) = http.get(&url).await;
        let have = if status == 200 {
            steps(&body)
        } else {
            Vec::new()
        };
        want.iter()
            .all(|w| have.iter().any(|h| h == w))
            .then_some(body)
    })
    .await;
    match found {
        Some(journey) => journey,
        None => panic!(
            "{url} never listed {want:?}; last: {}",
            http.get(&url).await.1
        ),
    }
}

const TRACE_ID: &str = "5e1ec7ed0000000000000000000000aa";

#[tokio::test]
async fn one_order_is_one_trace_and_its_journey_lists_every_step() {
    let (otlp, received) = testkit::otlp::receiver().await.unwrap();
    let stack = start_stack(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "200"),
    ])
    .await;
    let g = stack.gateway_url.clone();
    let seller = sign_in(&g, "seller", 7).await;
    let customer = sign_in(&g, "customer", 42).await;
    let product_id = register_kit(&g, 7, 10).await;

    // The client starts the trace; every hop continues it.
    let traceparent = format!("00-{TRACE_ID}-00000000000000bb-01");
    place_order(&customer, &g, json!({"productId": product_id, "qty": 1})).await;
    let (status, order) = customer
        .post_with(
            &format!("{g}/orders"),
            json!({"productId": product_id, "qty": 2, "address": "Seoul"}),
            &[("traceparent", traceparent.as_str())],
        )
        .await;
    assert_eq!(status, 201, "{order}");
    let order_id = order["id"].as_i64().unwrap();

    let journey = journey_with(
        &customer,
        &g,
        order_id,
        &[
            "PAID",
            "ACCEPTED",
            "SELLER_PAGE_UPDATED",
            "STOCK_TAKEN",
            "DELIVERY_REQUESTED",
            "CUSTOMER_NOTIFIED",
        ],
    )
    .await;
    assert_eq!(journey["orderId"], order_id);
    assert_eq!(journey["pending"][0]["step"], "SHIPPED", "{journey}");
    assert_eq!(journey["pending"][0]["waitingOn"], "COURIER");
    assert_eq!(journey["finished"], false);
    let first = &journey["steps"][0];
    assert_eq!(
        (first["step"].as_str(), first["service"].as_str()),
        (Some("PAID"), Some("payment"))
    );
    assert_eq!(first["event"], "PaymentCompleted");
    for step in journey["steps"].as_array().unwrap().iter().skip(1) {
        assert!(step["lagMs"].as_i64().unwrap() >= 0, "{step}");
        assert!(step["at"].is_string());
    }
    println!("journey while waiting for the courier: {journey:#}");

    // Who may read it.
    let url = format!("{g}/orders/{order_id}/journey");
    assert_error(&Http::default().get(&url).await, 401, "unauthenticated");
    assert_error(
        &Http::bearer(&support::forged(&g, platform::Role::Customer, 42))
            .get(&url)
            .await,
        401,
        "invalid_token",
    );
    assert_error(
        &sign_in(&g, "customer", 43).await.get(&url).await,
        404,
        "not_found",
    );
    assert_error(&seller.get(&url).await, 404, "not_found");
    assert_eq!(sign_in(&g, "admin", 1).await.get(&url).await.0, 200);
    assert_error(
        &customer.get(&format!("{g}/orders/0/journey")).await,
        422,
        "invalid_value",
    );
    assert_error(
        &customer.get(&format!("{g}/orders/99999/journey")).await,
        404,
        "not_found",
    );

    // Shipped and delivered: finished.
    let deliveries = get(&customer, format!("{g}/deliveries?orderId={order_id}")).await;
    let delivery_id = deliveries[0]["id"].as_i64().unwrap();
    assert_eq!(
        seller
            .post(&format!("{g}/deliveries/{delivery_id}/start"), json!({}))
            .await
            .0,
        200
    );
    assert_eq!(
        customer
            .post(&format!("{g}/deliveries/{delivery_id}/complete"), json!({}))
            .await
            .0,
        200
    );
    let journey = journey_with(&customer, &g, order_id, &["SHIPPED", "DELIVERED"]).await;
    assert_eq!(journey["status"], "DELIVERED");
    assert_eq!(journey["finished"], true, "{journey}");
    assert_eq!(journey["pending"], json!([]));
    let names = steps(&journey);
    let position = |name: &str| names.iter().position(|n| n == name).unwrap();
    assert!(position("PAID") < position("DELIVERY_REQUESTED"));
    assert!(position("DELIVERY_REQUESTED") < position("SHIPPED"));
    assert!(position("SHIPPED") < position("DELIVERED"));

    // The trace id is in the log lines of every hop: the gateway's and order's request lines,
    // payment's (called by order), delivery's (the event it applied).
    for service in ["gateway", "order", "payment", "delivery"] {
        let log = &stack.service(service).expect(service).log;
        let found = eventually(WAIT, || async {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            text.lines()
                .any(|line| line.contains(TRACE_ID))
                .then_some(())
        })
        .await;
        assert!(
            found.is_some(),
            "no line of {service} carries trace {TRACE_ID}"
        );
    }

    // ... and in the Kafka records' headers, read with a real consumer.
    let topics = contracts::TopicNames::default();
    for (topic, event) in [
        (contracts::Topic::Payment, "PaymentCompleted"),
        (contracts::Topic::Order, "OrderPlaced"),
        (contracts::Topic::Delivery, "DeliveryRequested"),
    ] {
        let found = records(
            &stack.kafka_brokers,
            &topics.name(topic),
            Duration::from_secs(5),
        )
        .await;
        let record = found
            .iter()
            .find(|(payload, _)| {
                payload["eventType"] == event && payload["payload"]["orderId"] == order_id
            })
            .unwrap_or_else(|| panic!("no {event} of order {order_id}"));
        let header = record
            .1
            .get("traceparent")
            .unwrap_or_else(|| panic!("{event}: {:?}", record.1));
        assert!(header.contains(TRACE_ID), "{event}'s traceparent {header}");
    }

    // ... and exported over OTLP: spans of the gateway, order, payment and delivery in it.
    let exported = eventually(WAIT, || async {
        let services: BTreeSet<String> = received
            .spans()
            .into_iter()
            .filter(|span| span.trace_id == TRACE_ID)
            .map(|span| span.service)
            .collect();
        [
            "gateway",
            "order",
            "payment",
            "delivery",
            "product",
            "sellerpage",
        ]
        .iter()
        .all(|s| services.contains(*s))
        .then_some(services)
    })
    .await;
    assert!(
        exported.is_some(),
        "spans of trace {TRACE_ID} received: {:?}",
        received
            .spans()
            .iter()
            .filter(|s| s.trace_id == TRACE_ID)
            .collect::<Vec<_>>()
    );
    // Named by operation: the request by method and path, a consumer's span by what it applied.
    let ours: Vec<_> = received
        .spans()
        .into_iter()
        .filter(|s| s.trace_id == TRACE_ID)
        .collect();
    let named = |service: &str, name: &str| {
        ours.iter()
            .any(|s| s.service == service && s.name.starts_with(name))
    };
    assert!(named("gateway", "POST /orders"), "{ours:?}");
    assert!(named("payment", "POST /payments"), "{ours:?}");
    assert!(named("delivery", "apply "), "{ours:?}");

    // A cancellation, step by step.
    let (status, second) =
        place_order(&customer, &g, json!({"productId": product_id, "qty": 1})).await;
    assert_eq!(status, 201, "{second}");
    let second_id = second["id"].as_i64().unwrap();
    journey_with(
        &customer,
        &g,
        second_id,
        &["STOCK_TAKEN", "DELIVERY_REQUESTED"],
    )
    .await;
    let (status, body) = customer
        .post(&format!("{g}/orders/{second_id}/cancel"), json!({}))
        .await;
    assert_eq!(status, 202, "{body}");
    let cancelled = journey_with(
        &customer,
        &g,
        second_id,
        &[
            "CANCELLATION_REQUESTED",
            "DELIVERY_CANCELLED",
            "REFUNDED",
            "STOCK_RESTORED",
        ],
    )
    .await;
    let names = steps(&cancelled);
    let position = |name: &str| names.iter().position(|n| n == name).unwrap();
    assert!(position("CANCELLATION_REQUESTED") < position("DELIVERY_CANCELLED"));
    assert!(position("DELIVERY_CANCELLED") < position("REFUNDED"));
    assert!(position("REFUNDED") < position("STOCK_RESTORED"));
    let finished = eventually(WAIT, || async {
        let (_, body) = customer
            .get(&format!("{g}/orders/{second_id}/journey"))
            .await;
        (body["finished"] == true && body["status"] == "CANCELLED").then_some(body)
    })
    .await;
    assert!(
        finished.is_some(),
        "the cancellation's journey never finished"
    );
    println!("a cancellation's journey: {:#}", finished.unwrap());
    stop_stack(stack).await;
}

/// A live stream read as a browser reads it: `event:`/`data:` blocks, comments skipped.
struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

impl EventStream {
    /// Opens `url` with `token` (none: no `Authorization`); the status and JSON body when it is
    /// not a stream.
    async fn open(url: &str, token: Option<&str>) -> Result<Self, (u16, Value)> {
        let mut request = reqwest::Client::new()
            .get(url)
            .header("accept", "text/event-stream");
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("the gateway answers");
        let status = response.status().as_u16();
        let is_stream = response
            .headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        if status == 200 && is_stream {
            return Ok(Self {
                response,
                buffer: String::new(),
            });
        }
        Err((status, response.json().await.unwrap_or(Value::Null)))
    }

    /// Opens `url` expecting a refusal: `status` with the JSON error `code`.
    async fn refused(url: &str, token: Option<&str>, status: u16, code: &str) {
        let (got, body) = Self::open(url, token).await.err().expect("a refusal");
        assert_eq!(
            (got, body["error"].as_str()),
            (status, Some(code)),
            "{url}: {body}"
        );
    }

    /// The next event (name and JSON data) within `within`; `None` if none came or the stream
    /// ended.
    async fn next(&mut self, within: Duration) -> Option<(String, Value)> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let field = |name: &str| {
                    block
                        .lines()
                        .find_map(|l| l.strip_prefix(name).map(str::trim).map(str::to_owned))
                };
                if let (Some(event), Some(data)) = (field("event:"), field("data:")) {
                    return Some((event, serde_json::from_str(&data).unwrap()));
                }
                continue; // a comment: the keep-alive
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .ok()?
                .ok()??;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// The events that follow `last` by themselves (notifications) until the stream is quiet
    /// for 1.5 s: it sends each change once, and nothing while nothing changes. Fails if it
    /// keeps sending; returns the last journey sent.
    async fn until_quiet(&mut self, mut last: Value) -> Value {
        for _ in 0..8 {
            match self.next(Duration::from_millis(1500)).await {
                Some((_, journey)) => last = journey,
                None => return last,
            }
        }
        panic!("the stream kept sending; last: {last}");
    }

    /// The next `journey` event that lists `step`; panics after [`WAIT`].
    async fn journey_with(&mut self, step: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        while let Some((event, journey)) = self.next(deadline - tokio::time::Instant::now()).await {
            assert_eq!(event, "journey");
            if steps(&journey).iter().any(|s| s == step) {
                return journey;
            }
        }
        panic!("the stream never listed {step}");
    }
}

/// A seller's stream, opened by seller 7 (`token`) after it refused no token, a forged one,
/// another seller's and an id out of range; its `ready` event read.
async fn sellers_stream(g: &str, token: &str) -> EventStream {
    let sellers = format!("{g}/sellers/7/events");
    let forged = support::forged(g, platform::Role::Seller, 7);
    let other_seller = support::token(g, "seller", 8).await;
    for (token, status, code) in [
        (None, 401, "unauthenticated"),
        (Some(forged.as_str()), 401, "invalid_token"),
        (Some(other_seller.as_str()), 403, "forbidden"),
    ] {
        EventStream::refused(&sellers, token, status, code).await;
    }
    let out_of_range = format!("{g}/sellers/0/events");
    EventStream::refused(&out_of_range, Some(token), 422, "invalid_value").await;
    let mut console = EventStream::open(&sellers, Some(token)).await.unwrap();
    assert_eq!(console.next(WAIT).await.unwrap().0, "ready");
    console
}

/// Customer 42's (`token`) stream of their order's journey, opened once the read side has the
/// order, after it refused no token, a forged one and another customer's.
async fn journeys_stream(g: &str, order_id: i64, token: &str) -> EventStream {
    let url = format!("{g}/orders/{order_id}/journey/events");
    let forged = support::forged(g, platform::Role::Customer, 42);
    let bob = support::token(g, "customer", 43).await;
    for (token, status, code) in [
        (None, 401, "unauthenticated"),
        (Some(forged.as_str()), 401, "invalid_token"),
        (Some(bob.as_str()), 404, "not_found"),
    ] {
        EventStream::refused(&url, token, status, code).await;
    }
    eventually(WAIT, || async {
        EventStream::open(&url, Some(token)).await.ok()
    })
    .await
    .expect("the journey's stream opens once the read side has the order")
}

#[tokio::test]
async fn live_streams_follow_a_journey_and_a_sellers_orders_for_their_owners_only() {
    let stack = start_stack(&[("MAX_OPEN_STREAMS", "3")]).await;
    let g = stack.gateway_url.clone();
    let kit = register_kit(&g, 7, 10).await;
    let alice = sign_in(&g, "customer", 42).await;
    let alice_token = support::token(&g, "customer", 42).await;
    let seller_token = support::token(&g, "seller", 7).await;

    let sellers = format!("{g}/sellers/7/events");
    let mut console = sellers_stream(&g, &seller_token).await;

    let order_id = support::order_one(&alice, &g, kit, "Seoul").await;
    let (event, changed) = console.next(WAIT).await.expect("the seller hears of it");
    assert_eq!(event, "changed");
    assert!(
        changed["orderIds"]
            .as_array()
            .unwrap()
            .contains(&json!(order_id)),
        "{changed}"
    );

    let mut journey = journeys_stream(&g, order_id, &alice_token).await;
    let first = journey.journey_with("DELIVERY_REQUESTED").await;
    let last = journey.until_quiet(first).await;
    let now = get(&alice, format!("{g}/orders/{order_id}/journey")).await;
    assert_eq!(
        steps(&last),
        steps(&now),
        "the last event is the journey as it stands"
    );

    // Shipped: the stream says so.
    let seller = sign_in(&g, "seller", 7).await;
    let delivery =
        get(&seller, format!("{g}/deliveries?orderId={order_id}")).await[0]["id"].clone();
    let shipped_at = tokio::time::Instant::now();
    let (status, body) = seller
        .post(&format!("{g}/deliveries/{delivery}/start"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    journey.journey_with("SHIPPED").await;
    eprintln!(
        "shipped -> on the journey's stream: {} ms",
        shipped_at.elapsed().as_millis()
    );

    // Bounded: two open, one more fits, the next is refused; the gauge counts them.
    let third = EventStream::open(&sellers, Some(&seller_token))
        .await
        .unwrap();
    EventStream::refused(&sellers, Some(&seller_token), 503, "too_many_streams").await;
    let metrics = &stack.gateway_metrics_url;
    assert_eq!(
        support::metric(metrics, "gateway_open_streams").await,
        Some(3.0)
    );
    drop((third, console, journey));
    let closed = eventually(WAIT, || async {
        (support::metric(metrics, "gateway_open_streams").await == Some(0.0)).then_some(())
    })
    .await;
    assert!(closed.is_some(), "closed streams are counted down");
    stop_stack(stack).await;
}
