//! The report: what a run measured, written as `bench/results/<date>.json` and `.md`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::kafka_traffic::KafkaTraffic;
use crate::load::{Percentiles, Siege};
use crate::shop::EventJson;
use crate::statements::StatementCounts;
use crate::tracing_cost::TracingCost;

#[derive(Serialize, Default)]
pub struct SagaCompletion {
    pub orders: usize,
    pub completed: usize,
    pub never_completed: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// The orders of one load and how their sagas went.
#[derive(Serialize)]
pub struct PhaseSagas {
    pub load: String,
    pub saga: SagaCompletion,
}

/// One rate of the sustained-rate search.
#[derive(Serialize)]
pub struct Probe {
    pub offered_per_s: u32,
    pub orders: Percentiles,
    pub saga: SagaCompletion,
    /// Every saga complete within [`crate::SAGA_TARGET_MS`] and every order answered.
    pub sustained: bool,
}

#[derive(Serialize)]
pub struct Report {
    pub date: String,
    pub quick: bool,
    pub machine: String,
    /// The broker the stack ran on.
    pub broker: String,
    pub siege: Siege,
    pub fixed_concurrency: Percentiles,
    pub fixed_rate: Percentiles,
    pub fixed_rate_target: u32,
    /// Database statements per order over the fixed-rate load, its sagas included.
    pub statements: StatementCounts,
    /// Requests to the broker and events carried per order over the same load.
    pub kafka_traffic: KafkaTraffic,
    /// One event's JSON encode and decode, measured in the bench's process.
    pub event_json_us: EventJson,
    pub saga: SagaCompletion,
    pub saga_by_load: Vec<PhaseSagas>,
    pub probes: Vec<Probe>,
    pub startup_ms: BTreeMap<String, u128>,
    pub idle_rss_mib: BTreeMap<String, f64>,
    /// CPU while idle, before any load, as a percentage of one core.
    pub idle_cpu_percent: BTreeMap<String, f64>,
    pub cpu_seconds: BTreeMap<String, f64>,
    pub peak_rss_mib: BTreeMap<String, f64>,
    pub postgres_insert_commits_per_s: f64,
    pub gateway_pass_through: Percentiles,
    /// What verifying one bearer token costs the first time a process sees it (keys cached),
    /// measured in the bench's process with the services' own verifier.
    pub token_verification_us: f64,
    /// What verifying a token the process verified before costs (the verified-token cache).
    pub token_reverification_us: f64,
    /// What the gateway's two rate-limit checks cost per request, in the bench's process.
    pub rate_limit_check_ns: f64,
    /// `429` answers in the oha runs: none, since the bench lifts the limits
    /// (`stack::UNTHROTTLED`): its load is one address and one customer by design.
    pub throttled_responses: u64,
    /// CPU of every process of the stack per order, its saga included, at the fixed rate, as
    /// `./dev up` runs (traces not exported).
    pub cpu_ms_per_order: f64,
    pub tracing: TracingCost,
}

pub fn write(report: &Report, root: &std::path::Path) -> anyhow::Result<()> {
    let dir = root.join("results");
    std::fs::create_dir_all(&dir)?;
    let stem = if report.quick {
        format!("quick-{}", report.date)
    } else {
        report.date.clone()
    };
    std::fs::write(
        dir.join(format!("{stem}.json")),
        serde_json::to_string_pretty(report)?,
    )?;
    let md = markdown(report);
    std::fs::write(dir.join(format!("{stem}.md")), &md)?;
    println!("{md}");
    println!("written to {}", dir.join(format!("{stem}.md")).display());
    Ok(())
}

fn saga_row(load: &str, s: &SagaCompletion) -> String {
    format!(
        "| {load} | {} | {} | {} | {:.0} | {:.0} | {:.0} |\n",
        s.orders, s.completed, s.never_completed, s.p50_ms, s.p99_ms, s.max_ms
    )
}

fn markdown(r: &Report) -> String {
    let mut md = format!(
        "# Benchmark {}{}\n\n{}; broker: {}.\n\n",
        r.date,
        if r.quick {
            " (quick: not a measurement)"
        } else {
            ""
        },
        r.machine,
        r.broker
    );
    md += "## siege (the seed's load: POST /orders through the gateway)\n\n| figure | value |\n|---|---|\n";
    for (k, v) in &r.siege.figures {
        md += &format!("| {k} | {v} |\n");
    }
    md += "\n## Percentiles (oha, POST /orders through the gateway)\n\n| load | req/s | p50 ms | p90 ms | p99 ms | max ms | success |\n|---|---|---|---|---|---|---|\n";
    for (name, p) in [
        ("fixed concurrency 50".to_owned(), &r.fixed_concurrency),
        (
            format!("fixed rate {}/s", r.fixed_rate_target),
            &r.fixed_rate,
        ),
        (
            "gateway pass-through (GET, rejected by order before any I/O)".to_owned(),
            &r.gateway_pass_through,
        ),
    ] {
        md += &format!(
            "| {name} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {:.3} |\n",
            p.requests_per_second, p.p50_ms, p.p90_ms, p.p99_ms, p.max_ms, p.success_rate
        );
    }
    let st = &r.statements;
    md += &format!(
        "\n## Statements per order (pg_stat_statements, fixed rate {}/s, sagas included)\n\n{:.1} statements per order over {} orders: every service, relay and consumer.\n\n| calls per order | statement |\n|---|---|\n",
        r.fixed_rate_target, st.per_order, st.orders
    );
    for (query, per_order) in &st.top {
        md += &format!("| {per_order:.2} | `{}` |\n", query.replace('|', "\\|"));
    }
    md += &format!(
        "\n{:.2} explicit transactions (`COMMIT`) per order; {:.2} WAL flushes and {:.0} WAL bytes per order.\n",
        st.commits_per_order, st.wal_syncs_per_order, st.wal_bytes_per_order
    );
    let k = &r.kafka_traffic;
    let json = &r.event_json_us;
    md += &format!(
        "\n## Broker requests and events per order (librdkafka's counts, fixed rate {}/s, sagas included)\n\n{:.2} requests per order over {} orders, from every service's producer and consumers. {:.2} events produced and {:.2} received per order (one per consuming group). Their JSON: {:.2} µs to encode an event, {:.2} µs to decode one (in the bench's process), {:.3} ms per order.\n\n| requests per order | kind |\n|---|---|\n",
        r.fixed_rate_target,
        k.requests_per_order,
        k.orders,
        k.messages_sent_per_order,
        k.messages_received_per_order,
        json.encode_us,
        json.decode_us,
        (k.messages_sent_per_order * json.encode_us
            + k.messages_received_per_order * json.decode_us)
            / 1000.0,
    );
    for (kind, per_order) in &k.requests_by_kind {
        md += &format!("| {per_order:.3} | {kind} |\n");
    }
    let s = &r.saga;
    md += &format!(
        "\n## Saga completion (delivery requested, stock taken, seller page updated)\n\n{} orders accepted, {} completed, {} never completed within 10 s after their load. p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms, from the order's acceptance.\n\nBy load (each starts once the sagas of the one before have completed):\n\n| load | orders | completed | never completed | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|---|---|\n",
        s.orders, s.completed, s.never_completed, s.p50_ms, s.p99_ms, s.max_ms
    );
    for p in &r.saga_by_load {
        md += &saga_row(&p.load, &p.saga);
    }
    md += "\n## Sustained rate: every saga within 2 s\n\nFixed arrival rates, each after the sagas of the one before completed; a rate is sustained when its orders were all answered, at 97% of the rate offered or more, and every saga completed within 2 s.\n\n| offered/s | answered/s | order p99 ms | saga p50 ms | saga p99 ms | saga max ms | never completed | sustained |\n|---|---|---|---|---|---|---|---|\n";
    for p in &r.probes {
        md += &format!(
            "| {} | {:.0} | {:.1} | {:.0} | {:.0} | {:.0} | {} | {} |\n",
            p.offered_per_s,
            p.orders.requests_per_second,
            p.orders.p99_ms,
            p.saga.p50_ms,
            p.saga.p99_ms,
            p.saga.max_ms,
            p.saga.never_completed,
            if p.sustained { "yes" } else { "no" }
        );
    }
    match r
        .probes
        .iter()
        .filter(|p| p.sustained)
        .map(|p| p.offered_per_s)
        .max()
    {
        Some(best) => md += &format!("\nHighest sustained rate found: {best} orders/s.\n"),
        None => md += "\nNo rate tried was sustained.\n",
    }
    md += "\n## Cost\n\n| process | start to ready ms | idle CPU % of a core | idle memory (PSS) MiB | CPU s during load | peak memory (PSS) MiB |\n|---|---|---|---|---|---|\n";
    for (name, cpu) in &r.cpu_seconds {
        md += &format!(
            "| {name} | {} | {:.1} | {:.1} | {cpu:.1} | {:.1} |\n",
            r.startup_ms
                .get(name)
                .map_or("-".to_owned(), |m| m.to_string()),
            r.idle_cpu_percent.get(name).copied().unwrap_or(0.0),
            r.idle_rss_mib.get(name).copied().unwrap_or(0.0),
            r.peak_rss_mib.get(name).copied().unwrap_or(0.0)
        );
    }
    let orders_per_s = r.fixed_concurrency.requests_per_second;
    md += &format!(
        "\n## Ceiling\n\nPostgres single-row insert commits: {:.0}/s (pgbench, 8 clients). Gateway pass-through: {:.0} req/s. Orders/s at fixed concurrency: {orders_per_s:.0}, i.e. {:.1}% of the pass-through rate and {:.2} orders per thousand insert commits/s.\n",
        r.postgres_insert_commits_per_s,
        r.gateway_pass_through.requests_per_second,
        100.0 * orders_per_s / r.gateway_pass_through.requests_per_second.max(1.0),
        1000.0 * orders_per_s / r.postgres_insert_commits_per_s.max(1.0)
    );
    md += &format!(
        "\n## Identity\n\nEvery request carries a bearer token (the dev issuer's, EdDSA). Verifying one the first time a process sees it, its key cached: {:.1} µs of one core; again, from the process's verified-token cache: {:.2} µs. An order's token is verified at the gateway and at order, and order's own token at payment: the bench's one customer and order's one service token are seen again on every order, so its orders pay {:.4} ms of CPU for them (three first sights would be {:.3} ms).\n",
        r.token_verification_us,
        r.token_reverification_us,
        3.0 * r.token_reverification_us / 1000.0,
        3.0 * r.token_verification_us / 1000.0
    );
    md += &format!(
        "\n## Limits\n\nThe gateway checks two rate limits per request (client address, caller). The checks cost {:.0} ns per request together (governor, in-process, 4,096 clients), {:.4} ms of CPU per order; the bench lifts the limits' values (its load is one address and one customer, which the defaults refuse by design) and got {} `429` answers. The in-flight bound ({} requests) and the 30 s timeouts stay at their defaults.\n",
        r.rate_limit_check_ns,
        r.rate_limit_check_ns / 1e6,
        r.throttled_responses,
        gateway::limits::DEFAULT_MAX_CONCURRENT
    );
    let t = &r.tracing;
    md += &format!(
        "\n## Tracing\n\nEvery request and every applied event is a span of its order's trace (W3C `traceparent` over HTTP, in the outbox and in the Kafka headers). CPU of the whole stack per order, its saga included, at {}/s for {} s, each run followed by its sagas and {} s for the exporter's last batch:\n\n| traces | orders | answered/s | order p99 ms | saga p99 ms | CPU ms per order | spans per order | exported bytes per order |\n|---|---|---|---|---|---|---|---|\n",
        t.offered_per_s,
        t.seconds,
        crate::tracing_cost::EXPORT_FLUSH.as_secs()
    );
    for (name, run) in [
        ("made, not exported (`./dev up`)", &t.without_export),
        ("exported over OTLP (Compose, Kubernetes)", &t.with_export),
    ] {
        md += &format!(
            "| {name} | {} | {:.0} | {:.1} | {:.0} | {:.2} | {:.1} | {:.0} |\n",
            run.orders,
            run.answered_per_s,
            run.order_p99_ms,
            run.saga_p99_ms,
            run.cpu_ms_per_order,
            run.spans_per_order,
            run.exported_bytes_per_order
        );
    }
    md += &format!(
        "\nExporting costs {:+.2} ms of CPU per order ({:+.1}%).\n",
        t.with_export.cpu_ms_per_order - t.without_export.cpu_ms_per_order,
        100.0
            * (t.with_export.cpu_ms_per_order / t.without_export.cpu_ms_per_order.max(1e-9) - 1.0)
    );
    let run = &t.without_export;
    md += &format!(
        "\nWhere the CPU goes, without export: ms of CPU per order, by process ({:.2} in all).\n\n| process | ms per order |\n|---|---|\n",
        run.cpu_ms_per_order
    );
    let mut by_process: Vec<_> = run.cpu_seconds.iter().collect();
    by_process.sort_by(|a, b| b.1.total_cmp(a.1));
    for (process, seconds) in by_process {
        md += &format!(
            "| {process} | {:.2} |\n",
            1000.0 * seconds / (run.orders.max(1) as f64)
        );
    }
    md
}
