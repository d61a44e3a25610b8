//! Placing an order: the synchronous half of the saga.

use axum::http::StatusCode;
use platform::{ApiError, Store};

use crate::db::{self, Order};
use crate::domain::{NewOrder, OrderStatus, Reason};
use crate::payments::{Outcome, Payments};

/// Stores the order, pays for it and answers with the placed order, or says why not. An order
/// whose payment is not approved is never placed and publishes nothing.
pub async fn place(store: &Store, payments: &Payments, new: NewOrder) -> Result<Order, ApiError> {
    let mut conn = store.read().await?;
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
        Outcome::Approved { payment_id } => Ok(confirm(store, &order, payment_id).await?),
        Outcome::Declined { message } => {
            reject(store, order.id, Reason::PaymentDeclined).await?;
            Err(ApiError::new(
                StatusCode::PAYMENT_REQUIRED,
                "payment_declined",
                message,
            ))
        }
        Outcome::Refused { message } => {
            reject(store, order.id, Reason::PaymentRefused).await?;
            Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "payment_refused",
                message,
            ))
        }
        Outcome::Unavailable(err) => {
            reject(store, order.id, Reason::PaymentUnavailable).await?;
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

/// Records the approved payment of `pending` and publishes `OrderPlaced`, once.
pub async fn confirm(store: &Store, pending: &Order, payment_id: i64) -> sqlx::Result<Order> {
    let mut conn = store.read().await?;
    match db::mark_placed(store, &mut conn, pending, payment_id).await? {
        Some(order) => Ok(order),
        // Placed by the recovery loop meanwhile, or rejected: the order as it stands.
        None => db::find(&mut conn, pending.id)
            .await?
            .ok_or(sqlx::Error::RowNotFound),
    }
}

pub async fn reject(store: &Store, order_id: i64, reason: Reason) -> sqlx::Result<()> {
    let mut conn = store.read().await?;
    db::transition(&mut conn, order_id, OrderStatus::Rejected, Some(reason)).await?;
    Ok(())
}
