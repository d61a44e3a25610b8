//! Queries. Each takes the caller's connection or unit of work; the caller owns the commit.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::PgConnection;

use crate::domain::{CancellationStep, SellerOrder, SellerOrderStatus};

const COLUMNS: &str = "order_id, seller_id, customer_id, product_id, product_name, qty, amount, \
    placed_at, payment_status, delivery_status, stock_status, cancel_reason, cancel_requested_at, \
    payment_cancelled_at, delivery_cancelled_at, stock_restored_at";

/// The views of `order_ids`, locked until the transaction ends (fresh ones for orders not seen
/// yet), by order id.
pub async fn load_for_update(
    conn: &mut PgConnection,
    order_ids: &[i64],
) -> sqlx::Result<HashMap<i64, SellerOrder>> {
    // Insert-then-lock, in id order: two consumers holding events of the same orders (they come
    // from different topics) serialize here instead of deadlocking.
    sqlx::query(
        "INSERT INTO seller_orders (order_id)
         SELECT id FROM unnest($1::BIGINT[]) AS id ORDER BY id ON CONFLICT DO NOTHING",
    )
    .bind(order_ids)
    .execute(&mut *conn)
    .await?;
    let views: Vec<SellerOrder> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM seller_orders WHERE order_id = ANY($1) ORDER BY order_id FOR UPDATE"
    ))
    .bind(order_ids)
    .fetch_all(conn)
    .await?;
    Ok(views.into_iter().map(|v| (v.order_id, v)).collect())
}

/// A view as the `UPDATE` in [`save`] reads it: every column, the derived statuses included.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Saved<'a> {
    #[serde(flatten)]
    view: &'a SellerOrder,
    status: SellerOrderStatus,
    cancellation_status: Option<CancellationStep>,
}

/// Writes `views` back in one statement.
pub async fn save<'a>(
    conn: &mut PgConnection,
    views: impl Iterator<Item = &'a SellerOrder>,
) -> sqlx::Result<()> {
    let rows: Vec<Saved<'_>> = views
        .map(|view| Saved {
            view,
            status: view.status(),
            cancellation_status: view.cancellation_status(),
        })
        .collect();
    sqlx::query(
        r#"UPDATE seller_orders AS s SET seller_id = v."sellerId", customer_id = v."customerId",
             product_id = v."productId", product_name = v."productName", qty = v.qty,
             amount = v.amount, placed_at = v."placedAt", payment_status = v."paymentStatus",
             delivery_status = v."deliveryStatus", stock_status = v."stockStatus",
             cancel_reason = v."cancelReason", cancel_requested_at = v."cancelRequestedAt",
             payment_cancelled_at = v."paymentCancelledAt",
             delivery_cancelled_at = v."deliveryCancelledAt",
             stock_restored_at = v."stockRestoredAt", status = v.status,
             cancellation_status = v."cancellationStatus", updated_at = now()
         FROM jsonb_to_recordset($1) AS v(
             "orderId" BIGINT, "sellerId" BIGINT, "customerId" BIGINT, "productId" BIGINT,
             "productName" TEXT, qty INTEGER, amount BIGINT, "placedAt" TIMESTAMPTZ,
             "paymentStatus" TEXT, "deliveryStatus" TEXT, "stockStatus" TEXT,
             "cancelReason" TEXT, "cancelRequestedAt" TIMESTAMPTZ,
             "paymentCancelledAt" TIMESTAMPTZ, "deliveryCancelledAt" TIMESTAMPTZ,
             "stockRestoredAt" TIMESTAMPTZ, status TEXT, "cancellationStatus" TEXT)
         WHERE s.order_id = v."orderId""#,
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
