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

use crate::db;
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

/// Requests the delivery of each paid order that has none yet (`DeliveryRequested`).
async fn on_payments_completed(
    work: &mut UnitOfWork,
    paid: &[&PaymentCompleted],
) -> Result<(), HandlerError> {
    let requested = db::request(work, paid).await?;
    work.publish_all(requested.iter().map(|d| announcement(d.change())));
    Ok(())
}

/// Cancels the order's delivery unless it is final already (`DeliveryCancelled`, which the
/// refund follows).
async fn on_order_cancelled(
    work: &mut UnitOfWork,
    cancelled: &OrderCancelled,
) -> Result<(), HandlerError> {
    let Some(delivery) = db::cancel(work, cancelled).await? else {
        tracing::info!(
            order_id = cancelled.order_id,
            "cancellation refused: the delivery was completed first"
        );
        return Ok(());
    };
    work.publish(announcement(delivery.change()));
    Ok(())
}
