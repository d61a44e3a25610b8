//! Placing an order: the synchronous half of the saga.

use axum::http::StatusCode;
use contracts::{Envelope, Event, OrderPlaced};
use platform::ApiError;
use sqlx::PgPool;

use crate::SERVICE;
use crate::db::{self, Order};
use crate::domain::{NewOrder, Status};
use crate::payments::{Outcome, Payments};

/// Stores the order, pays for it and answers with the placed order, or says why not. An order
/// whose payment is not approved is never placed and publishes nothing.
pub async fn place(pool: &PgPool, payments: &Payments, new: NewOrder) -> Result<Order, ApiError> {
    let mut conn = pool.acquire().await?;
    let product = db::product(&mut conn, new.product_id)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_product",
                format!("product {} is not in the catalog", new.product_id),
            )
        })?;
    let amount = product
        .price
        .checked_mul(i64::from(new.qty))
        .ok_or_else(|| ApiError::invalid("the order's amount is too large"))?;
    let order = db::insert_pending(&mut conn, &new, &product, amount).await?;
    drop(conn);

    match payments.charge(&order, new.card_number.as_deref()).await {
        Outcome::Approved { payment_id } => Ok(confirm(pool, &order, payment_id).await?),
        Outcome::Declined { message } => {
            reject(pool, order.id, "PAYMENT_DECLINED").await?;
            Err(ApiError::new(
                StatusCode::PAYMENT_REQUIRED,
                "payment_declined",
                message,
            ))
        }
        Outcome::Refused { message } => {
            reject(pool, order.id, "PAYMENT_REFUSED").await?;
            Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "payment_refused",
                message,
            ))
        }
        Outcome::Unavailable(err) => {
            reject(pool, order.id, "PAYMENT_UNAVAILABLE").await?;
            Err(ApiError::unavailable(
                "payment_unavailable",
                format!(
                    "payment is unavailable ({err}); the order was not placed, try again shortly"
                ),
                5,
            ))
        }
        Outcome::Uncertain(err) => Err(ApiError::unavailable(
            "payment_uncertain",
            format!(
                "payment did not confirm in time ({err}); order {} is not placed yet and will be \
                 settled within seconds: check GET /orders/{}",
                order.id, order.id
            ),
            5,
        )),
    }
}

/// Records the approved payment of `pending` and puts `OrderPlaced` in the outbox, once.
pub async fn confirm(pool: &PgPool, pending: &Order, payment_id: i64) -> sqlx::Result<Order> {
    let event = Event::OrderPlaced(OrderPlaced {
        order_id: pending.id,
        customer_id: pending.customer_id,
        seller_id: pending.seller_id,
        product_id: pending.product_id,
        product_name: pending.product_name.clone(),
        qty: pending.qty,
        amount: pending.amount,
        address: pending.address.clone(),
    });
    let mut conn = pool.acquire().await?;
    match db::mark_placed(
        &mut conn,
        pending.id,
        payment_id,
        &Envelope::new(SERVICE, event),
    )
    .await?
    {
        Some(order) => {
            platform::outbox::committed_alone();
            Ok(order)
        }
        // Placed by the recovery loop meanwhile, or rejected: the order as it stands.
        None => db::find(&mut conn, pending.id)
            .await?
            .ok_or(sqlx::Error::RowNotFound),
    }
}

pub async fn reject(pool: &PgPool, order_id: i64, reason: &str) -> sqlx::Result<()> {
    let mut conn = pool.acquire().await?;
    db::transition(&mut conn, order_id, Status::Rejected, Some(reason)).await?;
    Ok(())
}
