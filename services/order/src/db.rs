//! Queries. Each takes the caller's connection or transaction; the caller owns the commit.

use std::time::Duration;

use chrono::{DateTime, Utc};
use contracts::{Event, OrderPlaced};
use platform::Store;
use serde::Serialize;
use sqlx::PgConnection;
use sqlx::pool::PoolConnection;

use crate::domain::{NewOrder, OrderStatus, Reason};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReplicaProduct {
    pub product_id: i64,
    pub seller_id: i64,
    pub name: String,
    pub price: i64,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub id: i64,
    pub customer_id: i64,
    pub seller_id: i64,
    pub product_id: i64,
    pub product_name: String,
    pub qty: i32,
    pub amount: i64,
    pub address: String,
    pub status: OrderStatus,
    pub reason: Option<Reason>,
    pub payment_id: Option<i64>,
    pub placed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Order {
    /// The event that announces this order, placed.
    pub fn placed(&self) -> Event {
        Event::OrderPlaced(OrderPlaced {
            order_id: self.id,
            customer_id: self.customer_id,
            seller_id: self.seller_id,
            product_id: self.product_id,
            product_name: self.product_name.clone(),
            qty: self.qty,
            amount: self.amount,
            address: self.address.clone(),
        })
    }
}

const COLUMNS: &str = "id, customer_id, seller_id, product_id, product_name, qty, amount, address, \
                       status, reason, payment_id, placed_at, created_at, updated_at";

pub async fn product(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<ReplicaProduct>> {
    sqlx::query_as("SELECT product_id, seller_id, name, price FROM products WHERE product_id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Creates or refreshes the replica row. `seller_id` is kept when the event does not carry it.
pub async fn upsert_product(
    conn: &mut PgConnection,
    product_id: i64,
    seller_id: Option<i64>,
    name: &str,
    price: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO products (product_id, seller_id, name, price) VALUES ($1, COALESCE($2, 0), $3, $4)
         ON CONFLICT (product_id) DO UPDATE SET seller_id = COALESCE($2, products.seller_id),
             name = $3, price = $4, updated_at = now()",
    )
    .bind(product_id)
    .bind(seller_id)
    .bind(name)
    .bind(price)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn insert_pending(
    conn: &mut PgConnection,
    new: &NewOrder,
    product: &ReplicaProduct,
    amount: i64,
) -> sqlx::Result<Order> {
    sqlx::query_as(&format!(
        "INSERT INTO orders (customer_id, seller_id, product_id, product_name, qty, amount, address, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
    ))
    .bind(new.customer_id)
    .bind(product.seller_id)
    .bind(product.product_id)
    .bind(&product.name)
    .bind(new.qty)
    .bind(amount)
    .bind(&new.address)
    .bind(OrderStatus::Pending)
    .fetch_one(conn)
    .await
}

pub async fn find(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<Order>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM orders WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
}

pub async fn by_customer(
    conn: &mut PgConnection,
    customer_id: i64,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Order>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM orders WHERE customer_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3"
    ))
    .bind(customer_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(conn)
    .await
}

/// Records the approved payment of `pending`, in one statement: `PENDING` becomes `PLACED` (a
/// delivery event may have moved the order further already; that stays), `placed_at` marks that
/// `OrderPlaced` is out, and `OrderPlaced` is published, unless the order is being cancelled
/// (sold out before the payment's answer reached us: the customer is not told it is placed).
/// `None` when the order is placed already, rejected or unknown.
pub async fn mark_placed(
    store: &Store,
    conn: &mut PoolConnection<sqlx::Postgres>,
    pending: &Order,
    payment_id: i64,
) -> sqlx::Result<Option<Order>> {
    store
        .statement(format!(
            "UPDATE orders SET status = CASE WHEN status = $3 THEN $4 ELSE status END,
                 payment_id = $2, placed_at = now(), updated_at = now()
             WHERE id = $1 AND placed_at IS NULL AND status <> $5
             RETURNING {COLUMNS}"
        ))
        .bind(pending.id)
        .bind(payment_id)
        .bind(OrderStatus::Pending)
        .bind(OrderStatus::Placed)
        .bind(OrderStatus::Rejected)
        .bind(vec![OrderStatus::CancelRequested, OrderStatus::Cancelled])
        .publish_if(pending.placed(), "status <> ALL($6)")
        .fetch_optional(conn)
        .await
}

/// Moves the order to `next` if its status allows; `None` otherwise (unknown or not allowed).
pub async fn transition(
    conn: &mut PgConnection,
    id: i64,
    next: OrderStatus,
    reason: Option<Reason>,
) -> sqlx::Result<Option<Order>> {
    sqlx::query_as(&format!(
        "UPDATE orders SET status = $2, reason = COALESCE($3, reason), updated_at = now()
         WHERE id = $1 AND status = ANY($4) RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(next)
    .bind(reason)
    .bind(next.reachable_from())
    .fetch_optional(conn)
    .await
}

/// Moves each of `ids` to `next` where its status allows; the others stay as they are (a late
/// or repeated event). Returns how many moved.
pub async fn transition_all(
    conn: &mut PgConnection,
    ids: &[i64],
    next: OrderStatus,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE orders SET status = $2, updated_at = now() WHERE id = ANY($1) AND status = ANY($3)",
    )
    .bind(ids)
    .bind(next)
    .bind(next.reachable_from())
    .execute(conn)
    .await?
    .rows_affected())
}

pub async fn pending_older_than(
    conn: &mut PgConnection,
    age: Duration,
    limit: i64,
) -> sqlx::Result<Vec<Order>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM orders WHERE status = $3
           AND created_at < now() - make_interval(secs => $1)
         ORDER BY created_at LIMIT $2"
    ))
    .bind(age.as_secs_f64())
    .bind(limit)
    .bind(OrderStatus::Pending)
    .fetch_all(conn)
    .await
}
