//! Queries. Each takes the caller's connection or unit of work; the caller owns the commit.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use contracts::{DeliveryChanged, DeliveryStatus, OrderCancelled, PaymentCompleted};
use serde::Serialize;
use sqlx::PgConnection;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub id: i64,
    pub order_id: i64,
    pub customer_id: i64,
    pub seller_id: i64,
    pub address: String,
    pub status: DeliveryStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Delivery {
    pub fn change(&self) -> DeliveryChanged {
        DeliveryChanged {
            delivery_id: self.id,
            order_id: self.order_id,
            customer_id: self.customer_id,
            seller_id: self.seller_id,
            status: self.status,
        }
    }
}

const COLUMNS: &str =
    "id, order_id, customer_id, seller_id, address, status, created_at, updated_at";

/// Requests the delivery of each paid order that has none yet; returns those it created.
pub async fn request(
    conn: &mut PgConnection,
    paid: &[&PaymentCompleted],
) -> sqlx::Result<Vec<Delivery>> {
    sqlx::query_as(&format!(
        "INSERT INTO deliveries (order_id, customer_id, seller_id, address, status)
         SELECT order_id, customer_id, seller_id, address, $5
         FROM unnest($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::TEXT[])
             WITH ORDINALITY AS p(order_id, customer_id, seller_id, address, position)
         ORDER BY position
         ON CONFLICT (order_id) DO NOTHING
         RETURNING {COLUMNS}"
    ))
    .bind(paid.iter().map(|p| p.order_id).collect::<Vec<_>>())
    .bind(paid.iter().map(|p| p.customer_id).collect::<Vec<_>>())
    .bind(paid.iter().map(|p| p.seller_id).collect::<Vec<_>>())
    .bind(paid.iter().map(|p| p.address.as_str()).collect::<Vec<_>>())
    .bind(DeliveryStatus::Requested)
    .fetch_all(conn)
    .await
}

/// Cancels the order's delivery if it is not final yet, or records it cancelled if it was
/// never requested (no address: nothing is to be delivered); `None` when it is final already
/// or belongs to another customer or seller.
pub async fn cancel(
    conn: &mut PgConnection,
    order: &OrderCancelled,
) -> sqlx::Result<Option<Delivery>> {
    sqlx::query_as(&format!(
        "INSERT INTO deliveries (order_id, customer_id, seller_id, address, status)
         VALUES ($1, $2, $3, '', $4)
         ON CONFLICT (order_id) DO UPDATE SET status = $4, updated_at = now()
             WHERE deliveries.status = ANY($5)
               AND (deliveries.customer_id, deliveries.seller_id) = ($2, $3)
         RETURNING {COLUMNS}"
    ))
    .bind(order.order_id)
    .bind(order.customer_id)
    .bind(order.seller_id)
    .bind(DeliveryStatus::Cancelled)
    .bind(DeliveryStatus::Cancelled.reachable_from())
    .fetch_optional(conn)
    .await
}

/// Moves delivery `id` to `next` if its current state allows; `None` otherwise.
pub async fn transition(
    conn: &mut PgConnection,
    id: i64,
    next: DeliveryStatus,
) -> sqlx::Result<Option<Delivery>> {
    sqlx::query_as(&format!(
        "UPDATE deliveries SET status = $2, updated_at = now()
         WHERE id = $1 AND status = ANY($3) RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(next)
    .bind(next.reachable_from())
    .fetch_optional(conn)
    .await
}

/// The deliveries of `order_ids` that exist, by order.
pub async fn by_orders(
    conn: &mut PgConnection,
    order_ids: &[i64],
) -> sqlx::Result<HashMap<i64, Delivery>> {
    let found: Vec<Delivery> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM deliveries WHERE order_id = ANY($1)"
    ))
    .bind(order_ids)
    .fetch_all(conn)
    .await?;
    Ok(found.into_iter().map(|d| (d.order_id, d)).collect())
}

pub async fn by_id(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<Delivery>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM deliveries WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
}

pub async fn by_order(conn: &mut PgConnection, order_id: i64) -> sqlx::Result<Option<Delivery>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM deliveries WHERE order_id = $1"
    ))
    .bind(order_id)
    .fetch_optional(conn)
    .await
}
