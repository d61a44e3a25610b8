//! Two replicas of every service under a steady stream of orders and cancellations: the
//! replicas of each consumer group share its partitions; a replica `kill -9`ed and started
//! again at once takes back its own partitions and the other's stay (static membership); then
//! one replica of each service is `kill -9`ed and stays down while the survivors take over its
//! partitions and every saga finishes without it; then it is started again and gets partitions
//! back. The crash suite's
//! invariants (`support::load::check`) are checked with the replicas down and again at the end.
//! This is what an HPA's scale-down and a lost node rely on in a cluster.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use stack::Stack;
use support::load::{FAULT_ENV, Load, Traffic, settle, shop};
use support::{Shape, start_stack_with, stop_stack};
use testkit::eventually;
use tokio::sync::Mutex;

/// The services' default `KAFKA_SESSION_TIMEOUT_MS`: how long the group waits for a replica
/// that went silent.
const SESSION: Duration =
    Duration::from_millis(platform::settings::ConsumerTuning::SESSION_TIMEOUT_MS);
/// Time for the rebalance after the session has ended, and for the replicas' partition gauge
/// (sampled every 5 s) to show it.
const REBALANCE: Duration = Duration::from_secs(30);

/// How many partitions each replica holds now, by replica name (`order`, `order-2`, ...);
/// a replica that does not answer is left out.
async fn assignments(stack: &Stack) -> BTreeMap<String, f64> {
    let mut held = BTreeMap::new();
    for (_, replica, port) in stack.replicas() {
        let url = format!("http://127.0.0.1:{port}");
        if let Some(n) = support::metric(&url, "consumer_assigned_partitions").await {
            held.insert(replica, n);
        }
    }
    held
}

/// Waits up to `within` until `holds` is true of the assignments; how long it took.
async fn wait_assignments(
    stack: &Stack,
    within: Duration,
    what: &str,
    holds: impl Fn(&BTreeMap<String, f64>) -> bool,
) -> Duration {
    let start = Instant::now();
    let reached = eventually(within, || async {
        holds(&assignments(stack).await).then_some(())
    })
    .await;
    assert!(
        reached.is_some(),
        "{what} not within {within:?}; partitions held: {:?}",
        assignments(stack).await
    );
    start.elapsed()
}

/// A member of a consumer group as Kafka's own tool describes it.
#[derive(Debug, PartialEq)]
struct Member {
    /// The member id the group's coordinator gave it when it joined.
    consumer_id: String,
    /// The partitions it holds.
    assignment: String,
}

/// Each member of `service`'s group by its name (`group.instance.id`: the replica's), as
/// `kafka-consumer-groups --describe --members --verbose` shows it.
async fn members(stack: &Stack, service: &str) -> BTreeMap<String, Member> {
    let described = stack
        .kafka_tool(
            "consumer-groups",
            &["--describe", "--group", service, "--members", "--verbose"],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    described
        .lines()
        .filter(|line| line.split_whitespace().next() == Some(service))
        .filter_map(|line| {
            let columns: Vec<&str> = line.split_whitespace().collect();
            let member = Member {
                consumer_id: columns.get(1)?.to_string(),
                assignment: columns.get(6..)?.join(" "),
            };
            Some((columns.get(2)?.to_string(), member))
        })
        .collect()
}

/// Static membership: a replica killed and started again within the session timeout takes its
/// own partitions back as a new member (the coordinator gives its name a new member id), and
/// the other replica keeps its own, as the same member.
async fn a_replica_started_at_once_takes_its_own_partitions_back(stack: &mut Stack) {
    for (service, _) in stack::SERVICES {
        let before = members(stack, service).await;
        assert_eq!(before.len(), 2, "{service}: {before:?}");
        let other = stack::replica_name(service, 1);
        let started = Instant::now();
        stack.kill_service(service).await;
        stack
            .restart_service(service)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let back = eventually(SESSION, || async {
            let now = members(stack, service).await;
            let rejoined = now.get(service).is_some_and(|m| {
                m.consumer_id != before[service].consumer_id
                    && m.assignment == before[service].assignment
            });
            (rejoined && now.get(&other) == before.get(&other)).then_some(())
        })
        .await;
        assert!(
            back.is_some(),
            "{service}: before {before:?}, after {:?}",
            members(stack, service).await
        );
        println!(
            "{service} killed and started again: its own partitions back, as a new member, {:?} \
             after the kill ({})",
            started.elapsed(),
            before[service].assignment
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survivors_take_over_a_killed_replicas_partitions_and_it_gets_them_back() {
    let shape = Shape {
        replicas: 2,
        brokers: support::test_brokers(),
    };
    let mut stack = start_stack_with(&FAULT_ENV, shape).await;
    let g = stack.gateway_url.clone();
    let (products, customers) = shop(&stack).await;
    let traffic = Arc::new(Mutex::new(Traffic::default()));
    let services: Vec<&str> = stack::SERVICES.iter().map(|(name, _)| *name).collect();
    let survivor = |service: &str| stack::replica_name(service, 1);

    // Both replicas of every service hold some of their group's partitions.
    let load = Load::start(&g, &products, &customers, &traffic);
    let shared = wait_assignments(
        &stack,
        Duration::from_secs(60),
        "every replica assigned",
        |held| held.len() == 2 * services.len() && held.values().all(|n| *n > 0.0),
    )
    .await;
    let before = assignments(&stack).await;
    let total = |service: &str| before[service] + before[&survivor(service)];
    println!("partitions shared after {shared:?}: {before:?}");
    a_replica_started_at_once_takes_its_own_partitions_back(&mut stack).await;

    // kill -9 one replica of each; it stays down. The survivors take over its partitions.
    for service in &services {
        stack.kill_service(service).await;
    }
    let takeover = wait_assignments(&stack, SESSION + REBALANCE, "survivors took over", |held| {
        services
            .iter()
            .all(|service| held.get(&survivor(service)) == Some(&total(service)))
    })
    .await;
    println!("survivors hold every partition {takeover:?} after the kill");
    tokio::time::sleep(Duration::from_secs(3)).await;
    load.finish().await;
    let while_down = {
        let traffic = traffic.lock().await;
        println!(
            "with replicas down: {} orders sent, {} accepted, {} cancellations accepted",
            traffic.sent,
            traffic.accepted.len(),
            traffic.cancels_accepted.len()
        );
        settle(&stack, &products, &traffic).await
    };
    assert!(
        while_down.iter().all(|(_, n)| *n == 0),
        "sagas did not finish without the killed replicas: {while_down:?}"
    );

    // Started again, each gets partitions back.
    let load = Load::start(&g, &products, &customers, &traffic);
    for service in &services {
        stack
            .restart_service(service)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let rejoined = wait_assignments(
        &stack,
        SESSION + REBALANCE,
        "restarted replicas assigned",
        |held| held.len() == 2 * services.len() && held.values().all(|n| *n > 0.0),
    )
    .await;
    println!(
        "restarted replicas hold partitions again {rejoined:?} after starting: {:?}",
        assignments(&stack).await
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    load.finish().await;
    let traffic = traffic.lock().await;
    let found = settle(&stack, &products, &traffic).await;
    println!(
        "in all: {} orders sent, {} accepted, {} cancellations accepted",
        traffic.sent,
        traffic.accepted.len(),
        traffic.cancels_accepted.len()
    );
    assert!(
        traffic.accepted.len() > 50,
        "the stream placed too few orders to mean anything"
    );
    assert!(
        found.iter().all(|(_, n)| *n == 0),
        "invariants violated: {found:?}"
    );
    drop(traffic);
    stop_stack(stack).await;
}
