//! Crash and restart under load: a steady stream of orders and cancellations while each
//! service is `kill -9`ed and restarted, the broker is `kill -9`ed and restarted (durable
//! storage), and Postgres is restarted. Once the stream stops and the system drains, the
//! invariants are checked from the databases, the public API and the dead-letter topic.
//!
//! `MEALKIT_CRASH_ROUNDS=3 ./dev test -p e2e --test crash` runs the longer manual mode.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use support::load::{FAULT_ENV, Load, Traffic, scalar, settle, shop};
use support::{start_stack, stop_stack};
use tokio::sync::Mutex;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_system_survives_crashes_and_restarts_under_load() {
    let rounds: usize = std::env::var("MEALKIT_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1);
    let mut stack = start_stack(&FAULT_ENV).await;
    let g = stack.gateway_url.clone();
    let (products, customers) = shop(&stack).await;

    let traffic = Arc::new(Mutex::new(Traffic::default()));
    let load = Load::start(&g, &products, &customers, &traffic);
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
    load.finish().await;
    let traffic = Arc::try_unwrap(traffic).ok().unwrap().into_inner();

    // Drain: the invariants hold once every saga has finished (or never, which fails below).
    let found = settle(&stack, &products, &traffic).await;
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
    assert!(
        traffic.accepted.len() > 50,
        "the stream placed too few orders to mean anything"
    );
    assert_eq!(violations, 0, "invariants violated: {found:?}");
    stop_stack(stack).await;
}
