//! Cancelling an order: the start of the compensation chain, `CANCEL_REQUESTED` and
//! `OrderCancelled` in one unit of work. A customer's cancellation first alerts the seller
//! (synchronously, seed NFR 1.2); a stock shortage cancels without the alert.

use contracts::{CancelReason, Event, OrderCancelled};
use platform::client::CallError;
use platform::{Caller, Party, Store, UnitOfWork};

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
/// been alerted.
pub async fn by_customer(
    store: &Store,
    alerts: &SellerAlerts,
    caller: &Caller,
    order_id: i64,
) -> Result<Order, CancelError> {
    let mut conn = store.read().await?;
    let found = db::find(&mut conn, order_id).await?;
    // Someone else's order is as unknown to the caller as a missing one.
    let order = found
        .filter(|order| caller.is_one_of(&[Party::Customer(order.customer_id), Party::Admins]))
        .ok_or(CancelError::NotFound)?;
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
    let Some(order) = request(&mut work, order_id, CancelReason::CustomerRequest).await? else {
        // The order moved on while the seller was being alerted.
        let current = db::find(&mut work, order_id)
            .await?
            .ok_or(CancelError::NotFound)?;
        return Err(CancelError::NotCancellable(Box::new(current)));
    };
    work.commit().await?;
    Ok(order)
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
