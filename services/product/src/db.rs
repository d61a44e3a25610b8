//! Queries. Each takes the caller's connection or transaction; the caller owns the commit.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use crate::domain::{MovementOutcome, NewProduct, ProductChanges};

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub id: i64,
    pub seller_id: i64,
    pub name: String,
    pub price: i64,
    pub stock: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, seller_id, name, price, stock, created_at, updated_at";

pub async fn insert(conn: &mut PgConnection, new: &NewProduct) -> sqlx::Result<Product> {
    sqlx::query_as(&format!(
        "INSERT INTO products (seller_id, name, price, stock) VALUES ($1, $2, $3, $4)
         RETURNING {COLUMNS}"
    ))
    .bind(new.seller_id)
    .bind(&new.name)
    .bind(new.price)
    .bind(new.stock)
    .fetch_one(conn)
    .await
}

pub async fn update(
    conn: &mut PgConnection,
    id: i64,
    changes: &ProductChanges,
) -> sqlx::Result<Option<Product>> {
    sqlx::query_as(&format!(
        "UPDATE products SET name = COALESCE($2, name), price = COALESCE($3, price),
             stock = COALESCE($4, stock), updated_at = now()
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(&changes.name)
    .bind(changes.price)
    .bind(changes.stock)
    .fetch_optional(conn)
    .await
}

pub async fn find(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<Product>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM products WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
}

pub async fn list(
    conn: &mut PgConnection,
    seller_id: Option<i64>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Product>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM products WHERE ($1::BIGINT IS NULL OR seller_id = $1)
         ORDER BY id LIMIT $2 OFFSET $3"
    ))
    .bind(seller_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(conn)
    .await
}

/// The product's stock, locked until the transaction ends.
pub async fn lock_stock(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<i32>> {
    sqlx::query_scalar("SELECT stock FROM products WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(conn)
        .await
}

pub async fn set_stock(conn: &mut PgConnection, id: i64, stock: i32) -> sqlx::Result<()> {
    sqlx::query("UPDATE products SET stock = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(stock)
        .execute(conn)
        .await?;
    Ok(())
}

/// The stock of each of `ids` that exists, locked until the transaction ends (in id order, so
/// that two transactions locking several products cannot deadlock).
pub async fn lock_stocks(conn: &mut PgConnection, ids: &[i64]) -> sqlx::Result<HashMap<i64, i32>> {
    let rows: Vec<(i64, i32)> =
        sqlx::query_as("SELECT id, stock FROM products WHERE id = ANY($1) ORDER BY id FOR UPDATE")
            .bind(ids)
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().collect())
}

/// Sets the stock of each `(product, stock)`.
pub async fn set_stocks(conn: &mut PgConnection, stocks: &[(i64, i32)]) -> sqlx::Result<()> {
    if stocks.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE products AS p SET stock = v.stock, updated_at = now()
         FROM unnest($1::BIGINT[], $2::INTEGER[]) AS v(id, stock) WHERE p.id = v.id",
    )
    .bind(stocks.iter().map(|s| s.0).collect::<Vec<_>>())
    .bind(stocks.iter().map(|s| s.1).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

/// Which of `order_ids` have a stock movement already.
pub async fn orders_with_movement(
    conn: &mut PgConnection,
    order_ids: &[i64],
) -> sqlx::Result<HashSet<i64>> {
    let found: Vec<i64> =
        sqlx::query_scalar("SELECT order_id FROM stock_movements WHERE order_id = ANY($1)")
            .bind(order_ids)
            .fetch_all(conn)
            .await?;
    Ok(found.into_iter().collect())
}

/// Records `(order, product, qty, outcome)` movements.
pub async fn record_movements(
    conn: &mut PgConnection,
    movements: &[(i64, i64, i32, MovementOutcome)],
) -> sqlx::Result<()> {
    if movements.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO stock_movements (order_id, product_id, qty, outcome)
         SELECT * FROM unnest($1::BIGINT[], $2::BIGINT[], $3::INTEGER[], $4::TEXT[])",
    )
    .bind(movements.iter().map(|m| m.0).collect::<Vec<_>>())
    .bind(movements.iter().map(|m| m.1).collect::<Vec<_>>())
    .bind(movements.iter().map(|m| m.2).collect::<Vec<_>>())
    .bind(movements.iter().map(|m| m.3).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, sqlx::FromRow)]
pub struct Movement {
    pub product_id: i64,
    pub qty: i32,
    pub outcome: MovementOutcome,
    pub restored: bool,
}

pub async fn movement(conn: &mut PgConnection, order_id: i64) -> sqlx::Result<Option<Movement>> {
    sqlx::query_as(
        "SELECT product_id, qty, outcome, restored_at IS NOT NULL AS restored
         FROM stock_movements WHERE order_id = $1 FOR UPDATE",
    )
    .bind(order_id)
    .fetch_optional(conn)
    .await
}

pub async fn record_movement(
    conn: &mut PgConnection,
    order_id: i64,
    product_id: i64,
    qty: i32,
    outcome: MovementOutcome,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO stock_movements (order_id, product_id, qty, outcome) VALUES ($1, $2, $3, $4)",
    )
    .bind(order_id)
    .bind(product_id)
    .bind(qty)
    .bind(outcome)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn mark_restored(conn: &mut PgConnection, order_id: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE stock_movements SET restored_at = now() WHERE order_id = $1")
        .bind(order_id)
        .execute(conn)
        .await?;
    Ok(())
}
