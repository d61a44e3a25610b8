use sqlx::PgConnection;

use crate::domain::SellerOrder;

const COLUMNS: &str = "order_id, seller_id, customer_id, product_id, product_name, qty, amount, \
    placed_at, payment_status, delivery_status, stock_status, cancel_reason, cancel_requested_at, \
    payment_cancelled_at, delivery_cancelled_at, stock_restored_at";

/// The order's view, locked until the transaction ends (a fresh one if none yet).
pub async fn load_for_update(conn: &mut PgConnection, order_id: i64) -> sqlx::Result<SellerOrder> {
    // Insert-then-lock: two events of one order arriving on different consumers serialize here.
    sqlx::query("INSERT INTO seller_orders (order_id) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(order_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM seller_orders WHERE order_id = $1 FOR UPDATE"
    ))
    .bind(order_id)
    .fetch_one(conn)
    .await
}

pub async fn save(conn: &mut PgConnection, view: &SellerOrder) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE seller_orders SET seller_id = $2, customer_id = $3, product_id = $4,
             product_name = $5, qty = $6, amount = $7, placed_at = $8, payment_status = $9,
             delivery_status = $10, stock_status = $11, cancel_reason = $12,
             cancel_requested_at = $13, payment_cancelled_at = $14, delivery_cancelled_at = $15,
             stock_restored_at = $16, status = $17, cancellation_status = $18, updated_at = now()
         WHERE order_id = $1",
    )
    .bind(view.order_id)
    .bind(view.seller_id)
    .bind(view.customer_id)
    .bind(view.product_id)
    .bind(&view.product_name)
    .bind(view.qty)
    .bind(view.amount)
    .bind(view.placed_at)
    .bind(&view.payment_status)
    .bind(&view.delivery_status)
    .bind(&view.stock_status)
    .bind(&view.cancel_reason)
    .bind(view.cancel_requested_at)
    .bind(view.payment_cancelled_at)
    .bind(view.delivery_cancelled_at)
    .bind(view.stock_restored_at)
    .bind(view.status())
    .bind(view.cancellation_status())
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn orders(
    conn: &mut PgConnection,
    seller_id: i64,
    status: Option<&str>,
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
    status: Option<&str>,
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
