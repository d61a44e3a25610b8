//! Queries. Each takes the caller's connection or transaction; the caller owns the commit.

use std::time::Duration;

use chrono::{DateTime, Utc};
use contracts::{DeliveryChanged, Event, OrderPlaced};
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
    /// The stock product last announced; `None` until it announces one (a kit replicated
    /// before order kept stock).
    pub stock: Option<i32>,
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
    sqlx::query_as(
        "SELECT product_id, seller_id, name, price, stock FROM products WHERE product_id = $1",
    )
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

/// Stock levels heard from product, one per event, as columns ready to bind.
#[derive(Debug, Default)]
pub struct StockLevels {
    pub product_ids: Vec<i64>,
    pub stocks: Vec<i32>,
    /// The `occurred_at` of the event each level came from.
    pub as_of: Vec<DateTime<Utc>>,
}

impl StockLevels {
    pub fn push(&mut self, product_id: i64, stock: i32, as_of: DateTime<Utc>) {
        self.product_ids.push(product_id);
        self.stocks.push(stock);
        self.as_of.push(as_of);
    }
}

/// Stores, for each kit of `levels`, the newest of its levels, unless the replica holds a newer
/// one already: newest by `as_of`, then by the higher stock (two levels stamped in the same
/// microsecond by one transaction of product: a stale higher stock only lets through an order
/// that product then refuses, a stale lower one would refuse good orders). So the outcome does
/// not depend on the order levels arrive in. The rows are locked in `product_id` order, as
/// another replica of order may be storing levels of the same kits. A kit not replicated yet is
/// skipped: its `ProductRegistered` brings a stock of its own. One statement however many.
pub async fn record_stock_levels(
    conn: &mut PgConnection,
    levels: &StockLevels,
) -> sqlx::Result<()> {
    if levels.product_ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "WITH heard AS (
             SELECT DISTINCT ON (product_id) product_id, stock, as_of
             FROM unnest($1::BIGINT[], $2::INTEGER[], $3::TIMESTAMPTZ[]) AS l(product_id, stock, as_of)
             ORDER BY product_id, as_of DESC, stock DESC
         ), newer AS MATERIALIZED (
             SELECT p.product_id, h.stock, h.as_of FROM products p JOIN heard h USING (product_id)
             WHERE p.stock_as_of IS NULL OR (h.as_of, h.stock) > (p.stock_as_of, p.stock)
             ORDER BY p.product_id FOR UPDATE OF p
         )
         UPDATE products p SET stock = n.stock, stock_as_of = n.as_of
         FROM newer n WHERE p.product_id = n.product_id",
    )
    .bind(&levels.product_ids)
    .bind(&levels.stocks)
    .bind(&levels.as_of)
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

/// Moves the order of `delivery` to `next` if its status allows and it is the customer's and
/// seller's the delivery names; `None` otherwise (unknown, not allowed, or someone else's).
pub async fn follow_delivery(
    conn: &mut PgConnection,
    delivery: &DeliveryChanged,
    next: OrderStatus,
) -> sqlx::Result<Option<Order>> {
    sqlx::query_as(&format!(
        "UPDATE orders SET status = $2, updated_at = now()
         WHERE id = $1 AND status = ANY($3) AND (customer_id, seller_id) = ($4, $5)
         RETURNING {COLUMNS}"
    ))
    .bind(delivery.order_id)
    .bind(next)
    .bind(next.reachable_from())
    .bind(delivery.customer_id)
    .bind(delivery.seller_id)
    .fetch_optional(conn)
    .await
}

/// [`follow_delivery`] for each of `deliveries`, in one statement. Returns the ids of the
/// orders that moved; the others stay as they are.
pub async fn follow_deliveries(
    conn: &mut PgConnection,
    deliveries: &[&DeliveryChanged],
    next: OrderStatus,
) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar(
        "UPDATE orders AS o SET status = $4, updated_at = now()
         FROM unnest($1::BIGINT[], $2::BIGINT[], $3::BIGINT[]) AS d(id, customer_id, seller_id)
         WHERE o.id = d.id AND o.status = ANY($5)
           AND (o.customer_id, o.seller_id) = (d.customer_id, d.seller_id)
         RETURNING o.id",
    )
    .bind(deliveries.iter().map(|d| d.order_id).collect::<Vec<_>>())
    .bind(deliveries.iter().map(|d| d.customer_id).collect::<Vec<_>>())
    .bind(deliveries.iter().map(|d| d.seller_id).collect::<Vec<_>>())
    .bind(next)
    .bind(next.reachable_from())
    .fetch_all(conn)
    .await
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
