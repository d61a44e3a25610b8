//! Three Kafka nodes on loopback, as `./dev up --brokers 3` runs them: every topic has three
//! replicas and takes a write only when two are in sync (`acks=all`). Under the crash suite's
//! stream of orders and cancellations a node is killed (`kill -9`) and kept down, first the one
//! that leads the busiest partitions (the most records), then the active controller: every
//! saga finishes without it, and nothing is lost or applied twice (the crash suite's
//! invariants). Started again, it catches up: every partition has three replicas in sync. Last,
//! the whole stack is stopped and started on its data, as Ctrl-C and `./dev up` do: Kafka's own
//! tool shows every partition each group had before owned by a member again, and a new order's
//! saga completes. Kafka's own tools are tried against the local cluster too, signed in as its
//! administrator.

#[path = "brokers/identity.rs"]
mod identity;
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use stack::Stack;
use support::load::{FAULT_ENV, Load, Traffic, settle, shop};
use support::{Shape, WAIT, start_stack_with, stop_stack};
use testkit::{Http, eventually};
use tokio::sync::Mutex;

/// How long the stream goes on with a node down: longer than the controller takes to fence a
/// silent broker (`broker.session.timeout.ms`, 9 s) and move its partitions' leadership.
const DOWN: Duration = Duration::from_secs(15);
/// How long a restarted node may take to have every partition's replica in sync again.
const CATCH_UP: Duration = Duration::from_secs(90);

struct Shop {
    products: Vec<i64>,
    customers: Vec<Http>,
    traffic: Arc<Mutex<Traffic>>,
}

impl Shop {
    fn load(&self, stack: &Stack) -> Load {
        Load::start(
            &stack.gateway_url,
            &self.products,
            &self.customers,
            &self.traffic,
        )
    }
}

/// Kafka's tool `tool` against `stack`'s cluster; its output.
async fn kafka(stack: &Stack, tool: &str, args: &[&str]) -> String {
    stack
        .kafka_tool(tool, args)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Every topic of the shop is replicated on the three nodes and needs two in sync.
async fn topics_are_replicated_thrice(stack: &Stack) {
    for topic in contracts::TopicNames::default().all() {
        let described = kafka(stack, "topics", &["--describe", "--topic", &topic]).await;
        assert!(
            described.contains("ReplicationFactor: 3"),
            "{topic}: {described}"
        );
        let entity = [
            "--describe",
            "--all",
            "--entity-type",
            "topics",
            "--entity-name",
            &topic,
        ];
        let configs = kafka(stack, "configs", &entity).await;
        assert!(
            configs
                .lines()
                .any(|l| l.trim_start().starts_with("min.insync.replicas=2 ")),
            "{topic}: {configs}"
        );
    }
}

/// How many consumers the services have made anew after librdkafka gave one up for good (a
/// static member fenced under its own name when its group's coordinator moved).
async fn replaced_consumers(stack: &Stack) -> f64 {
    let mut replaced = 0.0;
    for (service, _) in stack::SERVICES {
        let url = stack.service_url(service);
        replaced += support::metric(&url, "consumer_replaced_total")
            .await
            .unwrap_or(0.0);
    }
    replaced
}

/// Kills `node` while the stream runs and keeps it down until every saga of the stream so far
/// has finished; then starts it again and waits until it has caught up.
async fn lose_a_node(stack: &mut Stack, shop: &Shop, node: u32, what: &str) {
    let load = shop.load(stack);
    tokio::time::sleep(Duration::from_secs(3)).await;
    stack.kill_broker_node(node).await;
    let killed = Instant::now();
    tokio::time::sleep(DOWN).await;
    load.finish().await;
    let found = {
        let traffic = shop.traffic.lock().await;
        println!(
            "{what} (node {node}) down: {} orders sent, {} accepted, {} cancellations accepted",
            traffic.sent,
            traffic.accepted.len(),
            traffic.cancels_accepted.len()
        );
        settle(stack, &shop.products, &traffic).await
    };
    assert!(
        found.iter().all(|(_, n)| *n == 0),
        "with {what} (node {node}) down: {found:?}"
    );
    println!(
        "{what} (node {node}) killed; every saga finished {:?} after; consumers made anew after \
         a fatal error so far: {}",
        killed.elapsed(),
        replaced_consumers(stack).await
    );
    stack
        .start_broker_node(node)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let caught_up = eventually(CATCH_UP, || async {
        stack.under_replicated().await.ok().filter(Vec::is_empty)
    })
    .await;
    assert!(
        caught_up.is_some(),
        "node {node} has not caught up within {CATCH_UP:?}: {:?}",
        stack.under_replicated().await
    );
    println!(
        "node {node} started again and caught up in {:?}",
        started.elapsed()
    );
}

/// Each consumer group's partitions, as Kafka's own tool describes them (`group topic
/// partition`), with whether a member owns it now.
async fn owned_partitions(stack: &Stack) -> BTreeMap<String, bool> {
    let described = stack
        .kafka_tool("consumer-groups", &["--describe", "--all-groups"])
        .await
        .unwrap_or_default();
    described
        .lines()
        .filter_map(|line| {
            let columns: Vec<&str> = line.split_whitespace().collect();
            let partition = columns.get(2)?.parse::<u32>().ok()?;
            let owned = columns.get(6).is_some_and(|id| *id != "-");
            Some((format!("{} {} {partition}", columns[0], columns[1]), owned))
        })
        .collect()
}

/// Stops the whole stack and starts it again on its data, as Ctrl-C and `./dev up` do: every
/// partition a group had before is owned by a member again, and an order's saga completes.
async fn restart_the_stack(mut stack: Stack) -> Stack {
    let before = owned_partitions(&stack).await;
    assert!(
        !before.is_empty() && before.values().all(|owned| *owned),
        "{before:?}"
    );
    let options = stack.options.clone();
    stack.stop().await;
    let started = Instant::now();
    let stack = Stack::start(options)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let regained = eventually(WAIT * 2, || async {
        let now = owned_partitions(&stack).await;
        before
            .keys()
            .all(|p| now.get(p) == Some(&true))
            .then_some(())
    })
    .await;
    assert!(
        regained.is_some(),
        "after the restart, the groups' partitions and whether owned: {:?}",
        owned_partitions(&stack).await
    );
    println!(
        "stack restarted: the {} partitions of the groups owned again {:?} after the start",
        before.len(),
        started.elapsed()
    );
    support::an_order_goes_through(&stack.gateway_url, "after the restart").await;
    stack
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_node_cluster_loses_a_broker_without_losing_an_event() {
    let shape = Shape {
        replicas: 1,
        brokers: 3,
    };
    let mut stack = start_stack_with(&FAULT_ENV, shape).await;
    topics_are_replicated_thrice(&stack).await;
    let (products, customers) = shop(&stack).await;
    let shop = Shop {
        products,
        customers,
        traffic: Arc::default(),
    };
    // Traffic first, so that the partitions' loads differ.
    let load = shop.load(&stack);
    tokio::time::sleep(Duration::from_secs(10)).await;
    load.finish().await;
    let led = stack
        .broker_records_led("mealkit.")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let busiest = led
        .iter()
        .max_by_key(|(_, records)| **records)
        .map(|(node, _)| *node)
        .unwrap();
    println!("records in the partitions each node leads: {led:?}");
    lose_a_node(
        &mut stack,
        &shop,
        busiest,
        "the leader of the busiest partitions",
    )
    .await;

    let controller = stack
        .active_controller()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    lose_a_node(&mut stack, &shop, controller, "the active controller").await;

    let stack = restart_the_stack(stack).await;
    let traffic = shop.traffic.lock().await;
    assert!(
        traffic.accepted.len() > 50,
        "the stream placed too few orders to mean anything"
    );
    let found = settle(&stack, &shop.products, &traffic).await;
    assert!(
        found.iter().all(|(_, n)| *n == 0),
        "invariants violated: {found:?}"
    );
    drop(traffic);
    stop_stack(stack).await;
}

/// Runs `mealkit kafka <args>` (what `./dev kafka` runs) against `stack`'s cluster.
async fn mealkit_kafka(stack: &Stack, args: &[&str]) -> String {
    let output = tokio::process::Command::new(stack.options.bin_dir.join("mealkit"))
        .arg("kafka")
        .args(args)
        .envs(stack.kafka_brokers.env())
        .output()
        .await
        .expect("mealkit runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "mealkit kafka {args:?}: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Kafka's tools sign in as the administrator; the services each as themselves, and
/// the broker refuses them everything else ([`identity`]).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafkas_own_tools_read_the_local_cluster_and_strangers_cannot() {
    let stack = support::start_stack(&[]).await;
    support::an_order_goes_through(&stack.gateway_url, "on a fresh stack").await;

    // Every service's group, with its lag (the README's `./dev kafka consumer-groups ...`).
    let groups = mealkit_kafka(&stack, &["consumer-groups", "--describe", "--all-groups"]).await;
    assert!(groups.contains("LAG"), "{groups}");
    for (service, _) in stack::SERVICES {
        assert!(
            groups
                .lines()
                .any(|l| l.split_whitespace().next() == Some(service)),
            "no group {service} in:\n{groups}"
        );
    }
    // A topic read from its beginning (`./dev kafka console-consumer ...`).
    let read = mealkit_kafka(
        &stack,
        &[
            "console-consumer",
            "--topic",
            "mealkit.order",
            "--from-beginning",
            "--max-messages",
            "1",
            "--timeout-ms",
            "30000",
        ],
    )
    .await;
    assert!(read.contains("\"eventType\":\"OrderPlaced\""), "{read}");
    identity::every_forgery_is_refused_by_the_broker(&stack).await;
    identity::reading_and_joining_are_refused_to_strangers(&stack).await;
    stop_stack(stack).await;
}
