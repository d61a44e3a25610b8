//! Placing an order: the synchronous half of the saga.

use axum::http::StatusCode;
use platform::idempotency::{KeyedRequest, Prior};
use platform::{ApiError, Store, idempotency};

use crate::db::{self, Order};
use crate::domain::{self, NewOrder, OrderStatus, Reason};
use crate::payments::{Outcome, Payments};

/// Stores the order, pays for it and answers with the placed order, or says why not. An order
/// above the kit's stock as the replica knows it is refused before it is stored; one whose
/// payment is not approved is never placed and publishes nothing.
///
/// With an `Idempotency-Key`, a repeated request gets the first one's answer (the order as it
/// stands, or its decline) and places nothing more; the key is stored with the `PENDING` order,
/// in one transaction.
pub async fn place(
    store: &Store,
    payments: &Payments,
    new: NewOrder,
    key: Option<&KeyedRequest>,
) -> Result<Order, ApiError> {
    if let Some(key) = key
        && let Some(answer) = answer_of_first(store, key).await?
    {
        return answer;
    }
    let mut conn = store.read().await?;
    let (product, amount) = orderable(&mut conn, &new).await?;
    let order = match key {
        None => {
            let order = db::insert_pending(&mut conn, &new, &product, amount).await?;
            // Not held while payment answers.
            drop(conn);
            order
        }
        Some(key) => {
            drop(conn);
            let mut work = store.begin().await?;
            let order = db::insert_pending(&mut work, &new, &product, amount).await?;
            if !key.record(&mut work, order.id).await? {
                // A twin of this request got there first; this one placed nothing.
                drop(work);
                return answer_of_first(store, key)
                    .await?
                    .unwrap_or_else(|| Err(key.in_progress()));
            }
            work.commit().await?;
            order
        }
    };

    match payments.charge(&order, new.card_number.as_deref()).await {
        Outcome::Approved { payment_id } => Ok(confirm(store, &order, payment_id).await?),
        Outcome::Declined { message } => {
            reject(store, order.id, Reason::PaymentDeclined).await?;
            Err(declined(message))
        }
        Outcome::Refused { message } => {
            reject(store, order.id, Reason::PaymentRefused).await?;
            Err(refused(message))
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

/// The kit `new` asks for, from the replica, and what it costs; or why it cannot be ordered
/// (not in the catalog yet, more than is left, an amount out of range). Before anything is
/// stored or charged: the customer is told at once.
async fn orderable(
    conn: &mut sqlx::PgConnection,
    new: &NewOrder,
) -> Result<(db::ReplicaProduct, i64), ApiError> {
    let product = db::product(conn, new.product_id).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_product",
            // Order learns of a new kit from product's events, within a second or so.
            format!(
                "product {} is not in the catalog, or was registered moments ago and cannot \
                 be ordered yet; try again in a few seconds",
                new.product_id
            ),
        )
    })?;
    domain::within_stock(&product.name, product.stock, new.qty)?;
    let amount = product
        .price
        .checked_mul(i64::from(new.qty))
        .ok_or_else(|| ApiError::invalid("the order's amount is too large"))?;
    Ok((product, amount))
}

fn declined(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::PAYMENT_REQUIRED, "payment_declined", message)
}

fn refused(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "payment_refused", message)
}

/// The answer the first request with `key` got, if there was one: the order as it stands,
/// the decline or refusal it met, `409` while it is still being paid for, `422` when the key
/// was used for another request.
async fn answer_of_first(
    store: &Store,
    key: &KeyedRequest,
) -> sqlx::Result<Option<Result<Order, ApiError>>> {
    let mut conn = store.read().await?;
    let id = match key.prior(&mut conn).await? {
        Prior::New => return Ok(None),
        Prior::Different => return Ok(Some(Err(key.reused()))),
        Prior::Same(id) => id,
    };
    let Some(order) = db::find(&mut conn, id).await? else {
        return Ok(Some(Err(key.in_progress())));
    };
    Ok(Some(match (order.status, order.reason) {
        (OrderStatus::Rejected, Some(Reason::PaymentDeclined)) => Err(declined(format!(
            "the card was declined (order {}); use another card",
            order.id
        ))),
        (OrderStatus::Rejected, Some(Reason::PaymentRefused)) => {
            Err(refused(format!("payment refused order {}", order.id)))
        }
        // Still being paid for, or rejected a moment ago for a reason that frees the key.
        (OrderStatus::Pending | OrderStatus::Rejected, _) => Err(key.in_progress()),
        _ => Ok(order),
    }))
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

/// Rejects a pending order; when nothing was charged and the customer is asked to retry, its
/// idempotency key is released in the same transaction.
pub async fn reject(store: &Store, order_id: i64, reason: Reason) -> sqlx::Result<()> {
    if !reason.invites_a_retry() {
        let mut conn = store.read().await?;
        db::transition(&mut conn, order_id, OrderStatus::Rejected, Some(reason)).await?;
        return Ok(());
    }
    let mut work = store.begin().await?;
    db::transition(&mut work, order_id, OrderStatus::Rejected, Some(reason)).await?;
    idempotency::release(&mut work, order_id).await?;
    work.commit().await
}
