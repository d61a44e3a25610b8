//! Probe and shutdown semantics on the real binaries, as Kubernetes relies on them: readiness
//! follows the database (really stopped and restarted), not the broker: with Kafka stopped,
//! order stays ready and takes orders, published once Kafka is back; on SIGTERM a service stops
//! taking new requests, finishes those in flight, and exits in time. And a service whose
//! consumer loop died (its handler panicked) fails liveness, so Kubernetes restarts it, while it
//! stays ready: it still answers.

mod support;

use std::time::{Duration, Instant};

use contracts::{Envelope, Event, PaymentCompleted, Topic};
use futures::future::join_all;
use platform::UnitOfWork;
use platform::consumer::{EventHandler, HandlerError};
use platform::service::ServiceBuilder;
use serde_json::json;
use stack::Signal;
use support::{WAIT, place_order, register_kit, sign_in, start_stack, stop_stack};
use testkit::{Http, Running, TestEnv, eventually, readiness};

/// Kubernetes' default terminationGracePeriodSeconds, which the manifests keep.
const GRACE: Duration = Duration::from_secs(30);

async fn wait_ready(http: &Http, url: &str, ready: bool) -> serde_json::Value {
    let want = if ready { 200 } else { 503 };
    readiness(http, url, want, WAIT)
        .await
        .unwrap_or_else(|| panic!("{url} readiness never became {want}"))
}

/// Waits until `url`'s readiness lists the broker `down`; that answer's status and body.
async fn broker_seen_down(http: &Http, url: &str) -> (u16, serde_json::Value) {
    eventually(WAIT, || async {
        let answer = http.get(&format!("{url}/health/ready")).await;
        (answer.1["checks"]["broker"] == "down").then_some(answer)
    })
    .await
    .unwrap_or_else(|| panic!("{url} never saw the broker down"))
}

/// One saga through, so every consumer group holds its partitions; the kit.
async fn steady(http: &Http, g: &str) -> i64 {
    let product = register_kit(g, 3, 5).await;
    let (status, order) = place_order(http, g, json!({"productId": product, "qty": 1})).await;
    assert_eq!(status, 201, "{order}");
    let url = format!("{g}/orders/{}", order["id"]);
    support::wait_field(http, url, "status", "DELIVERY_REQUESTED").await;
    product
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_database_not_the_broker_and_orders_wait_out_a_kafka_outage() {
    let mut stack = start_stack(&[]).await;
    let (delivery, order) = (stack.service_url("delivery"), stack.service_url("order"));
    let g = stack.gateway_url.clone();
    let http = sign_in(&g, "customer", 1).await;
    let product = steady(&http, &g).await;

    stack.stop_postgres().await;
    let body = wait_ready(&http, &delivery, false).await;
    assert_eq!(body["checks"]["database"], "down", "{body}");
    assert_eq!(http.get(&format!("{delivery}/health/live")).await.0, 200);
    stack
        .start_postgres()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    wait_ready(&http, &delivery, true).await;

    // Kafka away: order stays ready and takes an order into its outbox.
    stack.stop_broker().await;
    let (status, body) = broker_seen_down(&http, &order).await;
    assert_eq!(
        (status, body["status"].clone()),
        (200, json!("ready")),
        "{body}"
    );
    let down = support::metric(&order, "dependency_up{dependency=\"broker\"}").await;
    assert_eq!(down, Some(0.0));
    let (status, placed) = place_order(&http, &g, json!({"productId": product, "qty": 1})).await;
    assert_eq!(status, 201, "{placed}");
    assert_eq!(http.get(&format!("{order}/health/live")).await.0, 200);

    // Back: what order took is published, and its saga walks.
    stack.start_broker().await.unwrap_or_else(|e| panic!("{e}"));
    let resumed = Instant::now();
    eventually(Duration::from_secs(90), || async {
        let (_, body) = http.get(&format!("{g}/orders/{}", placed["id"])).await;
        (body["status"] == "DELIVERY_REQUESTED").then_some(())
    })
    .await
    .expect("the order taken while Kafka was away walked its saga once it was back");
    println!(
        "saga completed {:?} after the broker came back",
        resumed.elapsed()
    );
    let up = support::metric(&order, "dependency_up{dependency=\"broker\"}").await;
    assert_eq!(up, Some(1.0));
    stop_stack(stack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_requests_and_exits_in_time() {
    let mut stack = start_stack(&[("PAYMENT_TIMEOUT_MS", "10000")]).await;
    let g = stack.gateway_url.clone();
    let http = sign_in(&g, "customer", 1).await;
    let product = register_kit(&g, 3, 100).await;
    let (status, _) = place_order(&http, &g, json!({"productId": product, "qty": 1})).await;
    assert_eq!(status, 201);

    // Freeze payment so that orders stay in flight inside order, then ask order to stop.
    let order = stack.service_url("order");
    stack.signal_service("payment", Signal::SIGSTOP);
    let in_flight: Vec<_> = (0..10)
        .map(|_| {
            let (http, order) = (http.clone(), order.clone());
            tokio::spawn(async move {
                http.post(
                    &format!("{order}/orders"),
                    json!({"productId": product, "qty": 1}),
                )
                .await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let terminated = Instant::now();
    stack.signal_service("order", Signal::SIGTERM);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let refused = reqwest::Client::new()
        .get(format!("{order}/health/live"))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(
        refused.is_err(),
        "a stopping service took a new request: {refused:?}"
    );
    stack.signal_service("payment", Signal::SIGCONT);

    let answers = join_all(in_flight).await;
    for answer in answers {
        let (status, body) = answer.unwrap();
        assert_eq!(
            status, 201,
            "an in-flight request failed during shutdown: {body}"
        );
    }
    let exit = stack.wait_service_exit("order", GRACE).await;
    println!(
        "order exited {:?} after SIGTERM: {exit:?}",
        terminated.elapsed()
    );
    assert_eq!(
        exit.as_deref(),
        Some("exit status: 0"),
        "order did not exit cleanly within its grace period"
    );
    stop_stack(stack).await;
}

struct PanicsOnPayments;

impl EventHandler for PanicsOnPayments {
    fn wants(&self, event: &Event) -> bool {
        matches!(event, Event::PaymentCompleted(_))
    }

    async fn apply(&self, _: &mut UnitOfWork, _: &[&Envelope]) -> Result<(), HandlerError> {
        panic!("a bug in the handler");
    }
}

#[tokio::test]
async fn a_consumer_that_dies_fails_liveness_and_stays_ready() {
    let env = TestEnv::new().await;
    let settings = env.settings("delivery", "delivery");
    let app = Running::start(async {
        let mut service = ServiceBuilder::connect(settings, &delivery::MIGRATOR).await?;
        service.consume(&[Topic::Payment], PanicsOnPayments)?;
        service
            .serve(platform::openapi::router("a service whose handler panics"))
            .await
    })
    .await;
    let http = Http::default();
    let before = eventually(Duration::from_secs(15), || async {
        let (status, body) = http.get(&format!("{}/health/ready", app.url)).await;
        (status == 200 && body["checks"]["broker"] == "up").then_some(body)
    })
    .await
    .expect("ready and connected before any event");
    assert_eq!(before["checks"]["consumer"], "running", "{before}");
    let live = format!("{}/health/live", app.url);
    assert_eq!(http.get(&live).await.0, 200);

    env.publish(&Envelope::new(
        "payment",
        Event::PaymentCompleted(PaymentCompleted {
            payment_id: 1,
            order_id: 901,
            customer_id: 1,
            seller_id: 1,
            product_id: 1,
            qty: 1,
            amount: 1000,
            address: "Seoul".into(),
        }),
    ))
    .await;

    let dead = eventually(Duration::from_secs(60), || async {
        let answer = http.get(&live).await;
        (answer.0 == 503).then_some(answer.1)
    })
    .await
    .expect("liveness failed once the consumer died");
    assert_eq!(dead["status"], "dead", "{dead}");
    assert_eq!(dead["checks"]["consumer"], "stopped", "{dead}");
    let (ready, body) = http.get(&format!("{}/health/ready", app.url)).await;
    assert_eq!(ready, 200, "it still answers: {body}");
}
