//! `./dev bench --cost [--rate N]`: only the cost of an order, in two minutes instead of the
//! full run's ten: the stack started, warmed up, then N orders/s (130 unless `--rate`) for
//! 30 s measured as the full run measures `cpu_ms_per_order` (every process's CPU over the load,
//! its sagas and the exporter's flush time), with statements, commits, WAL and broker requests
//! per order and the machine's Postgres ceiling. For one change at a time, before and after; the
//! figures go to `bench/results/cost-<date>.json` (not committed) and to the terminal.

use std::time::Duration;

use chrono::Utc;
use serde::Serialize;
use sqlx::PgPool;
use stack::Stack;

use crate::load::{self, Shape};
use crate::statements::{self, StatementCounts};
use crate::tracing_cost::{self, CostRun};
use crate::{kafka_traffic, shop};

/// The rate when `--rate` is not given: what the full runs measured at on this hardware.
pub const DEFAULT_RATE: u32 = 130;
const MEASURED_FOR: Duration = Duration::from_secs(30);
const WARM_UP: Duration = Duration::from_secs(20);

#[derive(Serialize)]
struct Cost {
    date: String,
    broker: String,
    offered_per_s: u32,
    run: CostRun,
    statements: StatementCounts,
    kafka_traffic: kafka_traffic::KafkaTraffic,
    pgbench_commits_per_s: f64,
    /// `cpu_ms_per_order × pgbench / 13,759`: the host of the 5.28 ms figure (issue #27).
    scaled_cpu_ms_per_order: f64,
}

pub async fn measure(stack: &mut Stack, rate: u32, root: &std::path::Path) -> anyhow::Result<()> {
    let g = stack.gateway_url.clone();
    let product = shop::register(&g).await?;
    let token = shop::dev_token(&g, "customer", 1).await?;
    let body = format!("{{\"productId\": {product}, \"qty\": 1}}");
    let url = format!("{g}/orders");
    let pool = PgPool::connect(&stack.database_url).await?;
    // Kafka's JIT compiles its hot paths under load: measured cold, the broker costs twice
    // what it does warm. Fifty clients for 20 s push thousands of orders through it first.
    eprintln!("==> warming up: 50 clients for {}s", WARM_UP.as_secs());
    let started = Utc::now();
    load::oha(&url, Some(&body), &token, Shape::Concurrency(50), WARM_UP).await?;
    crate::settle(&pool, started).await?;

    eprintln!("==> measuring: {rate}/s for {}s", MEASURED_FOR.as_secs());
    let traffic_before = kafka_traffic::snapshot(stack).await?;
    let wal_before = statements::reset(&pool).await?;
    let run = tracing_cost::run(
        stack,
        &tracing_cost::Load {
            pool: &pool,
            url: &url,
            body: &body,
            token: &token,
            rate,
            duration: MEASURED_FOR,
        },
        None,
    )
    .await?;
    let kafka_traffic = kafka_traffic::per_order(
        &traffic_before,
        &kafka_traffic::snapshot(stack).await?,
        run.orders,
    );
    let statements = statements::per_order(&pool, &wal_before, run.orders).await?;
    let pgbench = crate::ceiling::pgbench(stack, 10).await?;
    let cost = Cost {
        date: Utc::now().format("%Y-%m-%dT%H%M%SZ").to_string(),
        broker: stack.broker_description(),
        offered_per_s: rate,
        scaled_cpu_ms_per_order: run.cpu_ms_per_order * pgbench / 13_759.0,
        run,
        statements,
        kafka_traffic,
        pgbench_commits_per_s: pgbench,
    };
    print(&cost);
    let file = root
        .join("results")
        .join(format!("cost-{}.json", cost.date));
    std::fs::write(&file, serde_json::to_string_pretty(&cost)?)?;
    eprintln!("==> wrote {}", file.display());
    Ok(())
}

fn print(cost: &Cost) {
    let run = &cost.run;
    eprintln!(
        "\n{} orders at {:.0}/s answered (offered {}), order p99 {:.1} ms, saga p99 {:.0} ms",
        run.orders, run.answered_per_s, cost.offered_per_s, run.order_p99_ms, run.saga_p99_ms
    );
    eprintln!(
        "CPU per order: {:.2} ms ({:.2} scaled: pgbench {:.0} commits/s)",
        run.cpu_ms_per_order, cost.scaled_cpu_ms_per_order, cost.pgbench_commits_per_s
    );
    let count = run.orders.max(1) as f64;
    let mut by_process: Vec<_> = run.cpu_seconds.iter().collect();
    by_process.sort_by(|a, b| b.1.total_cmp(a.1));
    for (name, seconds) in by_process {
        eprintln!("  {name:<12} {:.3} ms", 1000.0 * seconds / count);
    }
    let s = &cost.statements;
    eprintln!(
        "Postgres per order: {:.1} statements, {:.2} commits, {:.2} WAL flushes, {:.0} WAL bytes",
        s.per_order, s.commits_per_order, s.wal_syncs_per_order, s.wal_bytes_per_order
    );
    for (statement, calls) in &s.top {
        eprintln!("  {calls:.2}  {statement}");
    }
    let k = &cost.kafka_traffic;
    eprintln!(
        "Kafka per order: {:.2} requests ({}), {:.1} events produced, {:.1} received",
        k.requests_per_order,
        k.requests_by_kind
            .iter()
            .map(|(kind, n)| format!("{kind} {n:.2}"))
            .collect::<Vec<_>>()
            .join(", "),
        k.messages_sent_per_order,
        k.messages_received_per_order
    );
}
