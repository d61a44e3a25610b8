//! Statements per order, from `pg_stat_statements`: what every order costs the database in round
//! trips (the services', relays' and consumers' statements alike), independent of how fast the
//! machine happens to be.

use serde::Serialize;
use sqlx::PgPool;

/// The statements of one load, most frequent first.
#[derive(Serialize, Default)]
pub struct StatementCounts {
    pub orders: usize,
    pub per_order: f64,
    /// The most frequent statements, with their calls per order.
    pub top: Vec<(String, f64)>,
    /// Explicit transactions (`COMMIT` statements) per order; a statement run on its own commits
    /// too, without one.
    pub commits_per_order: f64,
    /// WAL flushes to disk per order: what commits cost the disk, after group commit merged them.
    pub wal_syncs_per_order: f64,
    pub wal_bytes_per_order: f64,
}

/// The cluster's WAL counters when counting started.
pub struct WalBaseline {
    syncs: i64,
    bytes: f64,
}

async fn wal(pool: &PgPool) -> anyhow::Result<WalBaseline> {
    let (syncs, bytes): (i64, f64) =
        sqlx::query_as("SELECT wal_sync, wal_bytes::float8 FROM pg_stat_wal")
            .fetch_one(pool)
            .await?;
    Ok(WalBaseline { syncs, bytes })
}

/// Starts counting from zero.
pub async fn reset(pool: &PgPool) -> anyhow::Result<WalBaseline> {
    sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .execute(pool)
        .await?;
    sqlx::query("SELECT pg_stat_statements_reset()")
        .execute(pool)
        .await?;
    wal(pool).await
}

/// Every statement counted since [`reset`] but the harness's own, divided by `orders`.
pub async fn per_order(
    pool: &PgPool,
    since: &WalBaseline,
    orders: usize,
) -> anyhow::Result<StatementCounts> {
    // The harness's saga query joins the seller page's table under this alias; nothing else does.
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT query, calls FROM pg_stat_statements
         WHERE query NOT LIKE '%pg_stat_statements%' AND query NOT LIKE '%seller_orders s ON%'
         ORDER BY calls DESC",
    )
    .fetch_all(pool)
    .await?;
    let divisor = orders.max(1) as f64;
    let total: i64 = rows.iter().map(|(_, calls)| calls).sum();
    let commits: i64 = rows
        .iter()
        .filter(|(query, _)| query.trim().eq_ignore_ascii_case("COMMIT"))
        .map(|(_, calls)| calls)
        .sum();
    let now = wal(pool).await?;
    let top = rows
        .into_iter()
        .take(15)
        .map(|(query, calls)| {
            let text: String = query.split_whitespace().collect::<Vec<_>>().join(" ");
            let short: String = text.chars().take(110).collect();
            (short, calls as f64 / divisor)
        })
        .collect();
    Ok(StatementCounts {
        orders,
        per_order: total as f64 / divisor,
        top,
        commits_per_order: commits as f64 / divisor,
        wal_syncs_per_order: (now.syncs - since.syncs) as f64 / divisor,
        wal_bytes_per_order: (now.bytes - since.bytes) / divisor,
    })
}
