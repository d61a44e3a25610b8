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
}

/// Starts counting from zero.
pub async fn reset(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .execute(pool)
        .await?;
    sqlx::query("SELECT pg_stat_statements_reset()")
        .execute(pool)
        .await?;
    Ok(())
}

/// Every statement counted since [`reset`] but the harness's own, divided by `orders`.
pub async fn per_order(pool: &PgPool, orders: usize) -> anyhow::Result<StatementCounts> {
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
    })
}
