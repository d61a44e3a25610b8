//! Cancelling an order: the start of the compensation chain, `CANCEL_REQUESTED` and
//! `OrderCancelled` in one unit of work. A customer's cancellation first alerts the seller
//! (synchronously, seed NFR 1.2); a stock shortage cancels without the alert.

use contracts::{CancelReason, Event, OrderCancelled};
use platform::client::CallError;
use platform::idempotency::{KeyedRequest, Prior};
use platform::{ApiError, Caller, Party, Store, UnitOfWork};

use crate::alerts::{AlertError, SellerAlerts};
use crate::db::{self, Order};
use crate::domain::OrderStatus;

/// Why a customer's cancellation was not accepted. Nothing changed in any of these cases.
#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error("no such order")]
    NotFound,
    /// Already being cancelled, or past the point of cancelling: the order as it stands.
    #[error("order {} is {}", .0.id, .0.status)]
    NotCancellable(Box<Order>),
    /// The seller could not be alerted; the customer should try again shortly.
    #[error("the seller could not be alerted: {0}")]
    AlertFailed(AlertError),
    /// The `Idempotency-Key` was used for another request.
    #[error("{}", .0.message)]
    KeyReused(ApiError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl CancelError {
    /// Whether the alert failed because marketing's breaker is open (it is overloaded or
    /// failing), rather than one call failing.
    pub fn breaker_open(&self) -> bool {
        matches!(
            self,
            CancelError::AlertFailed(AlertError::Call(CallError::Open(_)))
        )
    }
}

/// The customer's cancellation: accepted (the order `CANCEL_REQUESTED`) once the seller has
/// been alerted. With an `Idempotency-Key`, a repeated request is accepted again with the order
/// as it stands (the key is stored with the cancellation, in its unit of work); without one, it
/// is `NotCancellable`.
pub async fn by_customer(
    store: &Store,
    alerts: &SellerAlerts,
    caller: &Caller,
    order_id: i64,
    key: Option<&KeyedRequest>,
) -> Result<Order, CancelError> {
    let mut conn = store.read().await?;
    let found = db::find(&mut conn, order_id).await?;
    // Someone else's order is as unknown to the caller as a missing one.
    let order = found
        .filter(|order| caller.is_one_of(&[Party::Customer(order.customer_id), Party::Admins]))
        .ok_or(CancelError::NotFound)?;
    if let Some(key) = key {
        match key.prior(&mut conn).await? {
            Prior::Same(_) => return Ok(order),
            Prior::Different => return Err(CancelError::KeyReused(key.reused())),
            Prior::New => {}
        }
    }
    drop(conn);
    if !order.status.customer_may_cancel() {
        return Err(CancelError::NotCancellable(Box::new(order)));
    }
    if let Err(err) = alerts
        .alert(order.id, order.seller_id, CancelReason::CustomerRequest)
        .await
    {
        tracing::warn!(order_id, error = %err, "cancellation refused: seller alert failed");
        return Err(CancelError::AlertFailed(err));
    }
    let mut work = store.begin().await?;
    let accepted = request(&mut work, order_id, CancelReason::CustomerRequest).await?;
    if let (Some(order), Some(key)) = (&accepted, key)
        && !key.record(&mut work, order.id).await?
    {
        drop(work);
        return already_accepted(store, key, order_id).await;
    }
    let Some(order) = accepted else {
        drop(work);
        // The order moved on while the seller was being alerted, maybe by a twin request.
        if let Some(key) = key {
            return already_accepted(store, key, order_id).await;
        }
        let mut conn = store.read().await?;
        let current = db::find(&mut conn, order_id)
            .await?
            .ok_or(CancelError::NotFound)?;
        return Err(CancelError::NotCancellable(Box::new(current)));
    };
    work.commit().await?;
    Ok(order)
}

/// The order as it stands if a twin of this keyed request cancelled it; `NotCancellable` if
/// something else moved it on.
async fn already_accepted(
    store: &Store,
    key: &KeyedRequest,
    order_id: i64,
) -> Result<Order, CancelError> {
    let mut conn = store.read().await?;
    let prior = key.prior(&mut conn).await?;
    let current = db::find(&mut conn, order_id)
        .await?
        .ok_or(CancelError::NotFound)?;
    match prior {
        Prior::Same(_) => Ok(current),
        Prior::Different => Err(CancelError::KeyReused(key.reused())),
        Prior::New => Err(CancelError::NotCancellable(Box::new(current))),
    }
}

/// Marks the order `CANCEL_REQUESTED` and publishes `OrderCancelled`; `None` (and nothing
/// published) when its status does not allow it, a repeated request included.
pub async fn request(
    work: &mut UnitOfWork,
    order_id: i64,
    reason: CancelReason,
) -> sqlx::Result<Option<Order>> {
    let next = OrderStatus::CancelRequested;
    let Some(order) = db::transition(work, order_id, next, Some(reason.into())).await? else {
        return Ok(None);
    };
    work.publish(Event::OrderCancelled(OrderCancelled {
        order_id: order.id,
        customer_id: order.customer_id,
        seller_id: order.seller_id,
        product_id: order.product_id,
        qty: order.qty,
        reason,
    }));
    Ok(Some(order))
}
