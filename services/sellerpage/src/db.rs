//! Queries. Each takes the caller's connection or unit of work; the caller owns the commit.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::PgConnection;

use crate::domain::{CancellationStep, SellerOrder, SellerOrderStatus};
use crate::journey::{StepName, Steps};

const COLUMNS: &str = "order_id, seller_id, customer_id, product_id, product_name, qty, amount, \
    address, placed_at, payment_status, delivery_status, stock_status, cancel_reason, cancel_requested_at, \
    payment_cancelled_at, delivery_cancelled_at, stock_restored_at";

/// One order's row: the seller's view of it and its journey, two read models folded from the
/// same events.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct OrderRow {
    #[sqlx(flatten)]
    pub view: SellerOrder,
    #[sqlx(json)]
    pub journey: Steps,
}

/// The rows of `order_ids`, locked until the transaction ends (fresh ones for orders not seen
/// yet), by order id.
pub async fn load_for_update(
    conn: &mut PgConnection,
    order_ids: &[i64],
) -> sqlx::Result<HashMap<i64, OrderRow>> {
    // Insert-then-lock, in id order: two consumers holding events of the same orders (they come
    // from different topics) serialize here instead of deadlocking.
    sqlx::query(
        "INSERT INTO seller_orders (order_id)
         SELECT id FROM unnest($1::BIGINT[]) AS id ORDER BY id ON CONFLICT DO NOTHING",
    )
    .bind(order_ids)
    .execute(&mut *conn)
    .await?;
    let rows: Vec<OrderRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS}, journey FROM seller_orders WHERE order_id = ANY($1)
         ORDER BY order_id FOR UPDATE"
    ))
    .bind(order_ids)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.view.order_id, r)).collect())
}

/// A view as the `UPDATE` in [`save`] reads it: every column, the derived statuses included.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Saved<'a> {
    #[serde(flatten)]
    view: &'a SellerOrder,
    status: SellerOrderStatus,
    cancellation_status: Option<CancellationStep>,
    journey: &'a Steps,
    awaiting_step: Option<StepName>,
    awaiting_since: Option<chrono::DateTime<chrono::Utc>>,
    /// Whether the seller's view changed (`updated_at` is when it last did; a step of the
    /// journey alone, a notification say, leaves it).
    view_changed: bool,
}

/// Writes `rows` back in one statement, each with whether its seller's view changed, and
/// notifies the live streams of every replica which orders changed ([`crate::changes`]; sent on
/// commit, in payloads well under Postgres' 8,000-byte limit).
pub async fn save<'a>(
    conn: &mut PgConnection,
    rows: impl Iterator<Item = (&'a OrderRow, bool)>,
) -> sqlx::Result<()> {
    let rows: Vec<Saved<'_>> = rows
        .map(|(row, view_changed)| {
            let awaiting = row.journey.overdue_candidate();
            Saved {
                view: &row.view,
                status: row.view.status(),
                cancellation_status: row.view.cancellation_status(),
                journey: &row.journey,
                awaiting_step: awaiting.as_ref().map(|p| p.step),
                awaiting_since: awaiting.map(|p| p.since),
                view_changed,
            }
        })
        .collect();
    sqlx::query(
        r#"WITH saved AS (
         UPDATE seller_orders AS s SET seller_id = v."sellerId", customer_id = v."customerId",
             product_id = v."productId", product_name = v."productName", qty = v.qty,
             amount = v.amount, address = v.address, placed_at = v."placedAt", payment_status = v."paymentStatus",
             delivery_status = v."deliveryStatus", stock_status = v."stockStatus",
             cancel_reason = v."cancelReason", cancel_requested_at = v."cancelRequestedAt",
             payment_cancelled_at = v."paymentCancelledAt",
             delivery_cancelled_at = v."deliveryCancelledAt",
             stock_restored_at = v."stockRestoredAt", status = v.status,
             cancellation_status = v."cancellationStatus", journey = v.journey,
             awaiting_step = v."awaitingStep", awaiting_since = v."awaitingSince",
             updated_at = CASE WHEN v."viewChanged" THEN now() ELSE s.updated_at END
         FROM jsonb_to_recordset($1) AS v(
             "orderId" BIGINT, "sellerId" BIGINT, "customerId" BIGINT, "productId" BIGINT,
             "productName" TEXT, qty INTEGER, amount BIGINT, address TEXT, "placedAt" TIMESTAMPTZ,
             "paymentStatus" TEXT, "deliveryStatus" TEXT, "stockStatus" TEXT,
             "cancelReason" TEXT, "cancelRequestedAt" TIMESTAMPTZ,
             "paymentCancelledAt" TIMESTAMPTZ, "deliveryCancelledAt" TIMESTAMPTZ,
             "stockRestoredAt" TIMESTAMPTZ, status TEXT, "cancellationStatus" TEXT,
             journey JSONB, "awaitingStep" TEXT, "awaitingSince" TIMESTAMPTZ,
             "viewChanged" BOOLEAN)
         WHERE s.order_id = v."orderId"
         RETURNING s.order_id, s.seller_id, v."viewChanged" AS view_changed)
         SELECT pg_notify(current_schema() || '_seller_orders', string_agg(item, ','))
         FROM (SELECT order_id || ':' || coalesce(seller_id, 0) || ':' || view_changed::INT AS item,
                      (row_number() OVER ()) / 150 AS chunk FROM saved) AS pairs
         GROUP BY chunk"#,
    )
    .bind(sqlx::types::Json(rows))
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn orders(
    conn: &mut PgConnection,
    seller_id: i64,
    status: Option<SellerOrderStatus>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<SellerOrder>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM seller_orders WHERE seller_id = $1 AND ($2::TEXT IS NULL OR status = $2)
         ORDER BY order_id DESC LIMIT $3 OFFSET $4"
    ))
    .bind(seller_id)
    .bind(status)
    .bind(limit)
    .bind(offset)
    .fetch_all(conn)
    .await
}

pub async fn cancellations(
    conn: &mut PgConnection,
    seller_id: i64,
    status: Option<CancellationStep>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<SellerOrder>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM seller_orders
         WHERE seller_id = $1 AND cancel_requested_at IS NOT NULL
           AND ($2::TEXT IS NULL OR cancellation_status = $2)
         ORDER BY cancel_requested_at DESC, order_id DESC LIMIT $3 OFFSET $4"
    ))
    .bind(seller_id)
    .bind(status)
    .bind(limit)
    .bind(offset)
    .fetch_all(conn)
    .await
}

/// One order's row, if any of its events arrived.
pub async fn find(conn: &mut PgConnection, order_id: i64) -> sqlx::Result<Option<OrderRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS}, journey FROM seller_orders WHERE order_id = $1"
    ))
    .bind(order_id)
    .fetch_optional(conn)
    .await
}

/// An order whose saga waits on the system past its deadline.
#[derive(Debug, sqlx::FromRow)]
pub struct Overdue {
    pub order_id: i64,
    pub awaiting_step: StepName,
    pub awaiting_since: chrono::DateTime<chrono::Utc>,
}

/// The orders waiting on the system since before `before`, oldest first, at most `limit`; and
/// how many are waiting at each step.
pub async fn overdue(
    conn: &mut PgConnection,
    before: chrono::DateTime<chrono::Utc>,
    limit: i64,
) -> sqlx::Result<(Vec<Overdue>, Vec<(StepName, i64)>)> {
    let oldest = sqlx::query_as(
        "SELECT order_id, awaiting_step, awaiting_since FROM seller_orders
         WHERE awaiting_since < $1 ORDER BY awaiting_since LIMIT $2",
    )
    .bind(before)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let counts = sqlx::query_as(
        "SELECT awaiting_step, count(*) FROM seller_orders
         WHERE awaiting_since < $1 GROUP BY awaiting_step",
    )
    .bind(before)
    .fetch_all(conn)
    .await?;
    Ok((oldest, counts))
}
