//! Restarts never strand a consumer group: the whole stack stopped and started again on its data
//! (as Ctrl-C and `./dev up` do), the broker alone, and one service alone, each with a pause
//! shorter and one longer than the session timeout. After each start every service's consumer
//! holds partitions and a new order's saga completes.

mod support;

use std::time::{Duration, Instant};

use stack::Stack;
use support::{WAIT, an_order_goes_through, start_stack, stop_stack};
use testkit::eventually;

/// The services' default `KAFKA_SESSION_TIMEOUT_MS`.
const SESSION: Duration =
    Duration::from_millis(platform::settings::ConsumerTuning::SESSION_TIMEOUT_MS);

/// Every service's consumer holds partitions, and an order placed now reaches
/// `DELIVERY_REQUESTED` (payment, stock and delivery all consumed its events).
async fn consumers_work(stack: &Stack, after: &str) {
    let started = Instant::now();
    let g = &stack.gateway_url;
    let unassigned = || async {
        let mut unassigned = Vec::new();
        for (service, _) in stack::SERVICES {
            let held = support::metric(&stack.service_url(service), "consumer_assigned_partitions")
                .await
                .unwrap_or(0.0);
            if held == 0.0 {
                unassigned.push(service);
            }
        }
        unassigned
    };
    let assigned = eventually(WAIT, || async {
        unassigned().await.is_empty().then_some(())
    })
    .await;
    assert!(
        assigned.is_some(),
        "after {after}: consumers without partitions: {:?}",
        unassigned().await
    );
    an_order_goes_through(g, &format!("after {after}")).await;
    println!(
        "after {after}: every consumer assigned and a saga done in {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_of_the_stack_the_broker_or_one_service_never_strand_a_group() {
    let mut stack = start_stack(&[]).await;
    let options = stack.options.clone();
    consumers_work(&stack, "the first start").await;
    for (pause, service) in [
        (Duration::from_secs(1), "product"),
        (SESSION * 2, "sellerpage"),
    ] {
        stack.stop().await;
        tokio::time::sleep(pause).await;
        stack = Stack::start(options.clone())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        consumers_work(
            &stack,
            &format!("the whole stack restarted after {pause:?}"),
        )
        .await;

        stack.stop_broker().await;
        tokio::time::sleep(pause).await;
        stack.start_broker().await.unwrap_or_else(|e| panic!("{e}"));
        consumers_work(&stack, &format!("the broker restarted after {pause:?}")).await;

        stack.stop_service(service).await;
        tokio::time::sleep(pause).await;
        stack
            .restart_service(service)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        consumers_work(&stack, &format!("{service} restarted after {pause:?}")).await;
    }
    stop_stack(stack).await;
}
