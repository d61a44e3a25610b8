//! Probe and shutdown semantics on the real binaries, as Kubernetes relies on them: readiness
//! follows the database and the broker (really stopped and restarted), liveness does not; on
//! SIGTERM a service stops taking new requests, finishes those in flight, and exits in time.
//! And a service whose consumer loop died (its handler panicked) is not ready: it answers, but no
//! longer follows its events.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_database_and_the_broker_and_liveness_does_not() {
    let mut stack = start_stack(&[]).await;
    let delivery = stack.service_url("delivery");
    let g = stack.gateway_url.clone();
    let http = sign_in(&g, "customer", 1).await;
    let product = register_kit(&g, 3, 5).await;
    // Steady state first: one saga through, so every consumer group holds its partitions.
    let (status, order) = place_order(&http, &g, json!({"productId": product, "qty": 1})).await;
    assert_eq!(status, 201, "{order}");
    support::wait_field(
        &http,
        format!("{g}/orders/{}", order["id"]),
        "status",
        "DELIVERY_REQUESTED",
    )
    .await;

    stack.stop_postgres().await;
    let body = wait_ready(&http, &delivery, false).await;
    assert_eq!(body["checks"]["database"], "down", "{body}");
    assert_eq!(http.get(&format!("{delivery}/health/live")).await.0, 200);
    stack
        .start_postgres()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    wait_ready(&http, &delivery, true).await;

    stack.stop_broker().await;
    let body = wait_ready(&http, &delivery, false).await;
    assert_eq!(body["checks"]["broker"], "down", "{body}");
    assert_eq!(http.get(&format!("{delivery}/health/live")).await.0, 200);
    stack.start_broker().await.unwrap_or_else(|e| panic!("{e}"));
    wait_ready(&http, &delivery, true).await;

    // Work resumes by itself: an order placed now walks its saga.
    let (status, order) = place_order(&http, &g, json!({"productId": product, "qty": 1})).await;
    assert_eq!(status, 201, "{order}");
    // After a broker restart the consumers rejoin their groups first: allow for that.
    let resumed = Instant::now();
    eventually(Duration::from_secs(90), || async {
        let (_, body) = http.get(&format!("{g}/orders/{}", order["id"])).await;
        (body["status"] == "DELIVERY_REQUESTED").then_some(())
    })
    .await
    .expect("the saga resumed after the outages");
    println!(
        "saga completed {:?} after the broker came back",
        resumed.elapsed()
    );
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
async fn a_consumer_that_dies_turns_readiness_false() {
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
    let before = readiness(&http, &app.url, 200, Duration::from_secs(15))
        .await
        .expect("ready before any event");
    assert_eq!(before["checks"]["consumer"], "running", "{before}");

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

    let after = readiness(&http, &app.url, 503, Duration::from_secs(20))
        .await
        .expect("readiness turned false once the consumer died");
    assert_eq!(after["status"], "not_ready", "{after}");
    assert_eq!(after["checks"]["consumer"], "stopped", "{after}");
    assert_eq!(after["checks"]["database"], "up", "{after}");
    let (live, _) = http.get(&format!("{}/health/live", app.url)).await;
    assert_eq!(live, 200, "the process itself still serves");
}
