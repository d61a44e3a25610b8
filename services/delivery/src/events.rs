//! What delivery does when a payment completes or an order is cancelled.
//!
//! A cancellation and the courier's completion race for the delivery's row; the first to lock
//! it wins. `OrderCancelled` on a `COMPLETED` delivery changes nothing (the goods arrived first:
//! the order follows `DeliveryCompleted` to `DELIVERED` and the payment is kept), and a
//! completion after the cancellation answers `409`. `OrderCancelled` may also overtake the
//! order's `PaymentCompleted` (another topic): the delivery is then recorded `CANCELLED` at
//! once, so the late payment requests nothing.

use contracts::{Envelope, Event, OrderCancelled, PaymentCompleted};
use platform::UnitOfWork;
use platform::consumer::{EventHandler, HandlerError, Run, runs};

use crate::db::{self, Delivery};
use crate::domain::announcement;

pub struct Handler;

impl EventHandler for Handler {
    fn wants(&self, event: &Event) -> bool {
        matches!(event, Event::PaymentCompleted(_) | Event::OrderCancelled(_))
    }

    async fn apply(&self, work: &mut UnitOfWork, batch: &[&Envelope]) -> Result<(), HandlerError> {
        for run in runs(batch, Event::as_payment_completed) {
            match run {
                Run::Together(paid) => on_payments_completed(work, &paid).await?,
                Run::Alone(envelope) => {
                    if let Event::OrderCancelled(cancelled) = &envelope.event {
                        on_order_cancelled(work, cancelled).await?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Requests the delivery of each paid order that has none yet (`DeliveryRequested`). An order
/// with a delivery already (a repeat, or the cancellation that overtook its payment) keeps it,
/// unless the payment names another customer or seller than that delivery: refused.
async fn on_payments_completed(
    work: &mut UnitOfWork,
    paid: &[&PaymentCompleted],
) -> Result<(), HandlerError> {
    let requested = db::request(work, paid).await?;
    if requested.len() < paid.len() {
        let existing = db::by_orders(work, &order_ids(paid)).await?;
        for payment in paid {
            if let Some(delivery) = existing.get(&payment.order_id) {
                same_parties(delivery, payment.customer_id, payment.seller_id)?;
            }
        }
    }
    work.publish_all(requested.iter().map(|d| announcement(d.change())));
    Ok(())
}

fn order_ids(paid: &[&PaymentCompleted]) -> Vec<i64> {
    paid.iter().map(|p| p.order_id).collect()
}

/// Refuses an event about `delivery`'s order that names another customer or seller.
fn same_parties(delivery: &Delivery, customer_id: i64, seller_id: i64) -> Result<(), HandlerError> {
    if (delivery.customer_id, delivery.seller_id) == (customer_id, seller_id) {
        return Ok(());
    }
    Err(HandlerError::contradicts(format!(
        "the delivery of order {} is for customer {} of seller {}, not {customer_id} of \
         {seller_id}",
        delivery.order_id, delivery.customer_id, delivery.seller_id
    )))
}

/// Cancels the order's delivery unless it is final already (`DeliveryCancelled`, which the
/// refund follows); one the cancellation overtook is recorded `CANCELLED` at once. A
/// cancellation naming another customer or seller than the order's delivery is refused.
async fn on_order_cancelled(
    work: &mut UnitOfWork,
    cancelled: &OrderCancelled,
) -> Result<(), HandlerError> {
    if let Some(delivery) = db::cancel(work, cancelled).await? {
        work.publish(announcement(delivery.change()));
        return Ok(());
    }
    let order_id = cancelled.order_id;
    if let Some(delivery) = db::by_order(work, order_id).await? {
        same_parties(&delivery, cancelled.customer_id, cancelled.seller_id)?;
        tracing::info!(
            order_id,
            status = %delivery.status,
            "cancellation refused: the delivery is final already (completed first, or cancelled)"
        );
    }
    Ok(())
}
