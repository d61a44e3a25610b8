//! What tracing costs: CPU per order, its saga included, measured twice at the same fixed rate:
//! with traces made and propagated but not exported (the local default), and with every span
//! exported over OTLP to a receiver in this process (what Compose and Kubernetes do, to Jaeger).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use serde::Serialize;
use sqlx::PgPool;
use stack::{GATEWAY, SERVICES, Stack};
use testkit::otlp::Received;

use crate::load::{self, Shape};
use crate::proc;

/// Longer than the exporter's batch delay (5 s), so that a run's spans are sent within it.
pub const EXPORT_FLUSH: Duration = Duration::from_secs(6);

#[derive(Serialize)]
pub struct TracingCost {
    pub offered_per_s: u32,
    pub seconds: u64,
    pub without_export: CostRun,
    pub with_export: CostRun,
}

#[derive(Serialize)]
pub struct CostRun {
    pub orders: usize,
    pub answered_per_s: f64,
    pub order_p99_ms: f64,
    pub saga_p99_ms: f64,
    /// Every process of the stack (services, gateway, broker, Postgres), over the load, its
    /// sagas and [`EXPORT_FLUSH`].
    pub cpu_seconds: BTreeMap<String, f64>,
    pub cpu_ms_per_order: f64,
    pub spans_per_order: f64,
    pub exported_bytes_per_order: f64,
}

pub struct Load<'a> {
    pub pool: &'a PgPool,
    pub url: &'a str,
    pub body: &'a str,
    pub token: &'a str,
    pub rate: u32,
    pub duration: Duration,
}

/// Measures without export, restarts every service and the gateway exporting to a receiver
/// started here, warms them up, and measures again.
pub async fn measure(stack: &mut Stack, load: &Load<'_>) -> anyhow::Result<TracingCost> {
    let without_export = run(stack, load, None).await?;
    let (endpoint, received) = testkit::otlp::receiver().await?;
    stack
        .options
        .env
        .push(("OTEL_EXPORTER_OTLP_ENDPOINT".into(), endpoint));
    for name in SERVICES.iter().map(|(name, _)| *name).chain([GATEWAY.0]) {
        stack.stop_service(name).await;
        stack.restart_service(name).await?;
    }
    let started = Utc::now();
    load::oha(
        load.url,
        Some(load.body),
        load.token,
        Shape::Rate(load.rate),
        Duration::from_secs(3),
    )
    .await?;
    crate::settle(load.pool, started).await?;
    let with_export = run(stack, load, Some(&received)).await?;
    Ok(TracingCost {
        offered_per_s: load.rate,
        seconds: load.duration.as_secs(),
        without_export,
        with_export,
    })
}

pub async fn run(
    stack: &Stack,
    load: &Load<'_>,
    received: Option<&Received>,
) -> anyhow::Result<CostRun> {
    let pids = stack.pids();
    let before = proc::sample(&pids);
    let (spans_before, bytes_before) = received.map_or((0, 0), |r| (r.spans().len(), r.bytes()));
    let started = Utc::now();
    let orders = load::oha(
        load.url,
        Some(load.body),
        load.token,
        Shape::Rate(load.rate),
        load.duration,
    )
    .await?;
    let saga = crate::settle(load.pool, started).await?;
    tokio::time::sleep(EXPORT_FLUSH).await;
    let after = proc::sample(&pids);
    let cpu_seconds: BTreeMap<String, f64> = after
        .iter()
        .map(|(name, usage)| {
            let was = before.get(name).map_or(0.0, |b| b.cpu_seconds);
            (name.clone(), usage.cpu_seconds - was)
        })
        .collect();
    let count = saga.orders.max(1) as f64;
    let (spans, bytes) = received.map_or((0, 0), |r| {
        (r.spans().len() - spans_before, r.bytes() - bytes_before)
    });
    Ok(CostRun {
        orders: saga.orders,
        answered_per_s: orders.requests_per_second,
        order_p99_ms: orders.p99_ms,
        saga_p99_ms: saga.p99_ms,
        cpu_ms_per_order: 1000.0 * cpu_seconds.values().sum::<f64>() / count,
        cpu_seconds,
        spans_per_order: spans as f64 / count,
        exported_bytes_per_order: bytes as f64 / count,
    })
}
