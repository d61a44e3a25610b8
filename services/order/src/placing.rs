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
        Outcome::Approved { payment_id } => Ok(confirm(pool, order.id, payment_id).await?),
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

/// Records the approved payment and puts `OrderPlaced` in the outbox, once.
pub async fn confirm(pool: &PgPool, order_id: i64, payment_id: i64) -> sqlx::Result<Order> {
    let mut tx = pool.begin().await?;
    let Some(order) = db::lock(&mut tx, order_id).await? else {
        return Err(sqlx::Error::RowNotFound);
    };
    if order.placed_at.is_some() || order.status() == Status::Rejected {
        return Ok(order);
    }
    let cancelled_already = matches!(order.status(), Status::CancelRequested | Status::Cancelled);
    let order = db::mark_placed(&mut tx, order_id, payment_id).await?;
    if cancelled_already {
        // Sold out before the payment's answer reached us: the cancellation is on its way, so
        // the customer is not told the order is placed.
        platform::outbox::commit(tx).await?;
        return Ok(order);
    }
    let event = Event::OrderPlaced(OrderPlaced {
        order_id: order.id,
        customer_id: order.customer_id,
        seller_id: order.seller_id,
        product_id: order.product_id,
        product_name: order.product_name.clone(),
        qty: order.qty,
        amount: order.amount,
        address: order.address.clone(),
    });
    platform::outbox::enqueue(&mut tx, &Envelope::new(SERVICE, event)).await?;
    platform::outbox::commit(tx).await?;
    Ok(order)
}

pub async fn reject(pool: &PgPool, order_id: i64, reason: &str) -> sqlx::Result<()> {
    let mut conn = pool.acquire().await?;
    db::transition(&mut conn, order_id, Status::Rejected, Some(reason)).await?;
    Ok(())
}
