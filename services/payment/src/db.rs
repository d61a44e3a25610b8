//! Queries. Each takes the caller's connection or unit of work; the caller owns the commit.

use chrono::{DateTime, Utc};
use contracts::PaymentStatus;
use platform::Store;
use platform::outbox::Statement;
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
    pub status: PaymentStatus,
    pub decline_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, order_id, customer_id, seller_id, product_id, qty, amount, address, \
                       card_last4, status, decline_reason, created_at, cancelled_at";

/// A fresh payment id, drawn before the insert so that the event can carry it.
pub async fn next_id(conn: &mut PgConnection) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT nextval(pg_get_serial_sequence('payments', 'id'))")
        .fetch_one(conn)
        .await
}

/// The statement that inserts the payment as `id` unless the order has one already (it returns
/// no row then). The caller adds the event it publishes.
pub fn insert<'s>(
    store: &'s Store,
    id: i64,
    charge: &Charge,
    status: PaymentStatus,
    decline_reason: Option<&'static str>,
) -> Statement<'s> {
    store
        .statement(format!(
            "INSERT INTO payments (id, order_id, customer_id, seller_id, product_id, qty, amount,
                                   address, card_last4, status, decline_reason)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (order_id) DO NOTHING
             RETURNING {COLUMNS}"
        ))
        .bind(id)
        .bind(charge.order_id)
        .bind(charge.customer_id)
        .bind(charge.seller_id)
        .bind(charge.product_id)
        .bind(charge.qty)
        .bind(charge.amount)
        .bind(charge.address.as_str())
        .bind(charge.card_last4())
        .bind(status)
        .bind(decline_reason)
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
        "UPDATE payments SET status = $2, cancelled_at = now()
         WHERE order_id = $1 AND status = $3 RETURNING {COLUMNS}"
    ))
    .bind(order_id)
    .bind(PaymentStatus::Cancelled)
    .bind(PaymentStatus::Approved)
    .fetch_optional(conn)
    .await
}
