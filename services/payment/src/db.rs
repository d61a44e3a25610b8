use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use crate::domain::Charge;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    pub id: i64,
    pub order_id: i64,
    pub customer_id: i64,
    pub seller_id: i64,
    pub product_id: i64,
    pub qty: i32,
    pub amount: i64,
    pub address: String,
    pub card_last4: Option<String>,
    pub status: String,
    pub decline_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, order_id, customer_id, seller_id, product_id, qty, amount, address, \
                       card_last4, status, decline_reason, created_at, cancelled_at";

/// Inserts the payment unless the order has one already (`None` then).
pub async fn insert(
    conn: &mut PgConnection,
    charge: &Charge,
    status: &str,
    decline_reason: Option<&str>,
) -> sqlx::Result<Option<Payment>> {
    sqlx::query_as(&format!(
        "INSERT INTO payments (order_id, customer_id, seller_id, product_id, qty, amount, address,
                               card_last4, status, decline_reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (order_id) DO NOTHING
         RETURNING {COLUMNS}"
    ))
    .bind(charge.order_id)
    .bind(charge.customer_id)
    .bind(charge.seller_id)
    .bind(charge.product_id)
    .bind(charge.qty)
    .bind(charge.amount)
    .bind(&charge.address)
    .bind(charge.card_last4())
    .bind(status)
    .bind(decline_reason)
    .fetch_optional(conn)
    .await
}

pub async fn by_order(conn: &mut PgConnection, order_id: i64) -> sqlx::Result<Option<Payment>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM payments WHERE order_id = $1"
    ))
    .bind(order_id)
    .fetch_optional(conn)
    .await
}

pub async fn by_id(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<Payment>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM payments WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Cancels an approved payment; `None` when there is none to cancel.
pub async fn cancel(conn: &mut PgConnection, order_id: i64) -> sqlx::Result<Option<Payment>> {
    sqlx::query_as(&format!(
        "UPDATE payments SET status = 'CANCELLED', cancelled_at = now()
         WHERE order_id = $1 AND status = 'APPROVED' RETURNING {COLUMNS}"
    ))
    .bind(order_id)
    .fetch_optional(conn)
    .await
}
