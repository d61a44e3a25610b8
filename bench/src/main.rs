//! `./dev bench [--quick]`: one command that starts the whole stack (the same launcher) from
//! release binaries and measures it, writing `bench/results/<date>.md` and `.json`.
//!
//! `--quick` runs every phase for seconds instead of minutes: CI uses it to keep the harness
//! working; its numbers mean nothing and nothing asserts on them. `--cost` measures only what
//! an order costs (see [`cost`]).

mod ceiling;
mod cost;
mod kafka_traffic;
mod load;
mod proc;
mod report;
mod search;
mod shop;
mod statements;
mod tracing_cost;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use load::Shape;
use report::{PhaseSagas, Probe, Report, SagaCompletion};
use search::RateSearch;
use sqlx::PgPool;
use stack::{Options, Stack};

struct Plan {
    quick: bool,
    /// `--rate N`: the fixed-rate load (and the CPU per order measured at it) at N orders/s
    /// instead of half the fixed-concurrency throughput, to compare two configurations at one
    /// rate.
    rate: Option<u32>,
    siege_users: u32,
    phase: Duration,
    /// How long each rate of the sustained-rate search is offered.
    probe: Duration,
    pgbench_seconds: u32,
    /// How long the idle stack is watched before the first load.
    idle: Duration,
}

/// Every saga of a sustained rate completes within this (the target).
const SAGA_TARGET_MS: f64 = 2000.0;
/// How long after a load its sagas may take before they count as never completed.
const SAGA_GRACE: Duration = Duration::from_secs(10);
/// How long the harness waits, at most, for a backlog of sagas to drain before the next load.
const DRAIN: Duration = Duration::from_secs(180);
/// The share of the offered rate a sustained rate's orders must be answered at.
const KEPT_UP: f64 = 0.97;
/// Most rates the sustained-rate search tries ([`RateSearch`]).
const PROBES: usize = 7;

fn bin_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(PathBuf::from))
        .unwrap_or_default()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let cost_only = args.iter().any(|a| a == "--cost");
    let rate = args
        .iter()
        .position(|a| a == "--rate")
        .map(|i| args.get(i + 1).and_then(|n| n.parse().ok()))
        .map(|n| n.ok_or_else(|| anyhow::anyhow!("--rate takes a number of orders per second")))
        .transpose()?;
    let plan = if quick {
        Plan {
            quick,
            rate,
            siege_users: 10,
            phase: Duration::from_secs(3),
            probe: Duration::from_secs(2),
            pgbench_seconds: 2,
            idle: Duration::from_secs(3),
        }
    } else {
        Plan {
            quick,
            rate,
            siege_users: 100,
            phase: Duration::from_secs(30),
            probe: Duration::from_secs(15),
            pgbench_seconds: 10,
            idle: Duration::from_secs(30),
        }
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let data = std::env::temp_dir().join(format!("mealkit-bench-{}", std::process::id()));
    std::fs::create_dir_all(&data)?;
    // The cluster runs as the postgres user when this runs as root.
    let _ = std::process::Command::new("chmod")
        .arg("755")
        .arg(&data)
        .status();
    let mut options = Options::isolated(data.clone(), bin_dir())?;
    options.verbose = true;
    // siege and oha are one address and one customer at hundreds of orders a second, which the
    // gateway's default limits rightly refuse; the report counts 429s to show none happened.
    options.env = stack::UNTHROTTLED
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    eprintln!("==> starting the stack from {}", options.bin_dir.display());
    let mut stack = Stack::start(options).await?;
    let result = if cost_only {
        let rate = plan.rate.unwrap_or(cost::DEFAULT_RATE);
        cost::measure(&mut stack, rate, &root).await.map(|()| true)
    } else {
        run(&plan, &mut stack, &root).await
    };
    stack.stop().await;
    match &result {
        Ok(true) => {
            let _ = std::fs::remove_dir_all(&data);
        }
        _ => eprintln!(
            "==> kept the stack's data and logs for inspection: {}",
            data.display()
        ),
    }
    result.map(|_| ())
}

/// Runs every measurement and writes the report; false when some saga is stuck (still
/// incomplete after draining).
async fn run(plan: &Plan, stack: &mut Stack, root: &std::path::Path) -> anyhow::Result<bool> {
    let g = stack.gateway_url.clone();
    let startup_ms = stack
        .startup_times()
        .into_iter()
        .map(|(n, d)| (n, d.as_millis()))
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    eprintln!("==> the idle stack for {}s", plan.idle.as_secs());
    let idle = proc::idle(&stack.pids(), plan.idle).await;

    let product = shop::register(&g).await?;
    // Every order is sent signed in, as the README's siege command: one customer's token (the
    // dev issuer's), verified at the gateway and again by order.
    let token = shop::dev_token(&g, "customer", 1).await?;
    let body = format!("{{\"productId\": {product}, \"qty\": 1}}");
    let orders_url = format!("{g}/orders");
    let pool = PgPool::connect(&stack.database_url).await?;

    // Cost: CPU seconds over the load, RSS peak sampled every 250 ms.
    let pids = stack.pids();
    let before = proc::sample(&pids);
    let peaks: Arc<Mutex<BTreeMap<String, f64>>> = Arc::default();
    let sampling = {
        let (pids, peaks) = (pids.clone(), peaks.clone());
        tokio::spawn(async move {
            loop {
                for (name, usage) in proc::sample(&pids) {
                    let mut peaks = peaks.lock().unwrap();
                    let peak = peaks.entry(name).or_insert(0.0);
                    *peak = peak.max(usage.rss_mib);
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    let load_started: DateTime<Utc> = Utc::now();
    let mut saga_by_load = Vec::new();

    // Each load starts once the sagas of the one before have completed (or had their grace), so
    // that every load is measured on its own and not on the backlog of the previous one.
    eprintln!(
        "==> siege -c{} -t{}S POST /orders",
        plan.siege_users,
        plan.phase.as_secs()
    );
    let started = Utc::now();
    let siege = load::siege(&orders_url, &body, &token, plan.siege_users, plan.phase).await?;
    saga_by_load.push(PhaseSagas {
        load: format!("siege -c{}", plan.siege_users),
        saga: settle(&pool, started).await?,
    });
    eprintln!(
        "==> oha: fixed concurrency 50 for {}s",
        plan.phase.as_secs()
    );
    let started = Utc::now();
    let fixed_concurrency = load::oha(
        &orders_url,
        Some(&body),
        &token,
        Shape::Concurrency(50),
        plan.phase,
    )
    .await?;
    saga_by_load.push(PhaseSagas {
        load: "fixed concurrency 50".into(),
        saga: settle(&pool, started).await?,
    });
    let fixed_rate_target = plan
        .rate
        .unwrap_or(((fixed_concurrency.requests_per_second / 2.0) as u32).max(1));
    eprintln!(
        "==> oha: fixed rate {fixed_rate_target}/s for {}s",
        plan.phase.as_secs()
    );
    let started = Utc::now();
    let traffic_before = kafka_traffic::snapshot(stack).await?;
    let wal_before = statements::reset(&pool).await?;
    let fixed_rate = load::oha(
        &orders_url,
        Some(&body),
        &token,
        Shape::Rate(fixed_rate_target),
        plan.phase,
    )
    .await?;
    let fixed_rate_sagas = settle(&pool, started).await?;
    let kafka_traffic = kafka_traffic::per_order(
        &traffic_before,
        &kafka_traffic::snapshot(stack).await?,
        fixed_rate_sagas.orders,
    );
    let statements = statements::per_order(&pool, &wal_before, fixed_rate_sagas.orders).await?;
    saga_by_load.push(PhaseSagas {
        load: format!("fixed rate {fixed_rate_target}/s"),
        saga: fixed_rate_sagas,
    });
    sampling.abort();
    let after = proc::sample(&pids);
    let cpu_seconds = after
        .iter()
        .map(|(n, u)| {
            (
                n.clone(),
                u.cpu_seconds - before.get(n).map_or(0.0, |b| b.cpu_seconds),
            )
        })
        .collect();
    let peak_rss_mib = peaks.lock().unwrap().clone();
    let saga = saga_completion(&pool, load_started).await?;

    let probes = sustained_rate(plan, &pool, &orders_url, &body, &token, fixed_rate_target).await?;
    // Late is measured above; never, even after draining, means a saga is stuck.
    let all_completed = saga_completion(&pool, load_started).await?.never_completed == 0;

    eprintln!("==> the machine's ceiling: pgbench inserts, gateway pass-through");
    let postgres_insert_commits_per_s = ceiling::pgbench(stack, plan.pgbench_seconds).await?;
    let gateway_pass_through = load::oha(
        &format!("{g}/orders?customerId=1&limit=0"),
        None,
        &token,
        Shape::Concurrency(50),
        plan.phase,
    )
    .await?;

    // Last: it restarts every service, exporting traces.
    eprintln!("==> tracing: CPU per order at {fixed_rate_target}/s without, then with OTLP export");
    let tracing = tracing_cost::measure(
        stack,
        &tracing_cost::Load {
            pool: &pool,
            url: &orders_url,
            body: &body,
            token: &token,
            rate: fixed_rate_target,
            duration: plan.phase,
        },
    )
    .await?;

    let (token_verification_us, token_reverification_us) =
        shop::verification_cost(&g, &token).await?;
    let rate_limit_check_ns = shop::rate_limit_cost(&g)?;
    let throttled_responses = [&fixed_concurrency, &fixed_rate, &gateway_pass_through]
        .iter()
        .filter_map(|run| run.status_codes.get("429"))
        .sum();

    let report = Report {
        date: Utc::now().format("%Y-%m-%dT%H%M%SZ").to_string(),
        quick: plan.quick,
        machine: format!(
            "{} cores, everything co-located",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        ),
        siege,
        fixed_concurrency,
        fixed_rate,
        fixed_rate_target,
        statements,
        kafka_traffic,
        event_json_us: shop::event_json_cost()?,
        saga,
        saga_by_load,
        probes,
        startup_ms,
        broker: stack.broker_description(),
        idle_rss_mib: idle.rss_mib,
        idle_cpu_percent: idle.cpu_percent,
        cpu_seconds,
        peak_rss_mib,
        postgres_insert_commits_per_s,
        token_verification_us,
        token_reverification_us,
        rate_limit_check_ns,
        throttled_responses,
        gateway_pass_through,
        cpu_ms_per_order: tracing.without_export.cpu_ms_per_order,
        tracing,
    };
    report::write(&report, root)?;
    Ok(all_completed)
}

/// Offers fixed arrival rates from `first` on, each after the sagas of the one before
/// completed, as [`RateSearch`] picks them, at most [`PROBES`]: how each went.
async fn sustained_rate(
    plan: &Plan,
    pool: &PgPool,
    orders_url: &str,
    body: &str,
    token: &str,
    first: u32,
) -> anyhow::Result<Vec<Probe>> {
    eprintln!("==> the highest rate whose sagas all complete within 2 s");
    let mut probes = Vec::new();
    let mut search = RateSearch::default();
    let mut rate = Some(first);
    while let Some(offered) = rate.filter(|_| probes.len() < PROBES) {
        eprintln!(
            "==> oha: fixed rate {offered}/s for {}s",
            plan.probe.as_secs()
        );
        let started = Utc::now();
        let orders = load::oha(
            orders_url,
            Some(body),
            token,
            Shape::Rate(offered),
            plan.probe,
        )
        .await?;
        let saga = settle(pool, started).await?;
        // Answered at the rate offered (oha holds back requests the stack is too slow to
        // take), every one of them, and every saga in time.
        let sustained = saga.never_completed == 0
            && saga.max_ms <= SAGA_TARGET_MS
            && orders.success_rate >= 1.0
            && orders.requests_per_second >= KEPT_UP * f64::from(offered);
        rate = search.next(offered, sustained);
        probes.push(Probe {
            offered_per_s: offered,
            orders,
            saga,
            sustained,
        });
    }
    Ok(probes)
}

/// The sagas of the orders accepted since `since` as they stand once all are complete or
/// [`SAGA_GRACE`] has passed; then, so that the next load starts on an idle pipeline, waits up
/// to [`DRAIN`] for the rest.
async fn settle(pool: &PgPool, since: DateTime<Utc>) -> anyhow::Result<SagaCompletion> {
    let stopped = Instant::now();
    let graced = loop {
        let saga = saga_completion(pool, since).await?;
        if saga.never_completed == 0 || stopped.elapsed() >= SAGA_GRACE {
            break saga;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    if graced.never_completed > 0 {
        eprintln!(
            "==> {} sagas still incomplete {} s after the load; draining before the next",
            graced.never_completed,
            SAGA_GRACE.as_secs()
        );
        while stopped.elapsed() < DRAIN && saga_completion(pool, since).await?.never_completed > 0 {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    Ok(graced)
}

/// For every order accepted since `since` (placed: paid for and answered `201`, or settled so
/// by order's recovery loop; a request cut off before its payment, as siege does to those in
/// flight when its time is up, places nothing): the time until its delivery is requested, its
/// stock taken and the seller page shows it, from the services' own commit timestamps.
async fn saga_completion(pool: &PgPool, since: DateTime<Utc>) -> anyhow::Result<SagaCompletion> {
    let rows: Vec<(Option<f64>,)> = sqlx::query_as(
        "SELECT CASE WHEN d.order_id IS NOT NULL AND m.order_id IS NOT NULL
                      AND s.delivery_status IS NOT NULL AND s.stock_status IS NOT NULL
                 THEN EXTRACT(EPOCH FROM GREATEST(d.created_at, m.created_at, s.updated_at) - o.created_at)::FLOAT8 * 1000 END
         FROM ordering.orders o
         LEFT JOIN delivery.deliveries d ON d.order_id = o.id
         LEFT JOIN product.stock_movements m ON m.order_id = o.id
         LEFT JOIN sellerpage.seller_orders s ON s.order_id = o.id
         WHERE o.placed_at IS NOT NULL AND o.created_at >= $1",
    )
    .bind(since)
    .fetch_all(pool)
    .await?;
    let mut done: Vec<f64> = rows.iter().filter_map(|(ms,)| *ms).collect();
    done.sort_by(f64::total_cmp);
    let at = |q: f64| {
        done.get(((done.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    Ok(SagaCompletion {
        orders: rows.len(),
        completed: done.len(),
        never_completed: rows.len() - done.len(),
        p50_ms: at(0.5),
        p99_ms: at(0.99),
        max_ms: done.last().copied().unwrap_or(f64::NAN),
    })
}
