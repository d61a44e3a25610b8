//! What delivery does when a payment completes or is cancelled.

use contracts::{DeliveryStatus, Envelope, Event, PaymentCancelled, PaymentCompleted};
use platform::UnitOfWork;
use platform::consumer::{EventHandler, HandlerError, Run, runs};

use crate::db::{self, Key};
use crate::domain::announcement;

pub struct Handler;

impl EventHandler for Handler {
    fn wants(&self, event: &Event) -> bool {
        matches!(
            event,
            Event::PaymentCompleted(_) | Event::PaymentCancelled(_)
        )
    }

    async fn apply(&self, work: &mut UnitOfWork, batch: &[&Envelope]) -> Result<(), HandlerError> {
        for run in runs(batch, Event::as_payment_completed) {
            match run {
                Run::Together(paid) => on_payments_completed(work, &paid).await?,
                Run::Alone(envelope) => {
                    if let Event::PaymentCancelled(cancelled) = &envelope.event {
                        on_payment_cancelled(work, cancelled).await?;
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

/// Cancels the order's delivery unless it is final already (`DeliveryCancelled`).
async fn on_payment_cancelled(
    work: &mut UnitOfWork,
    cancelled: &PaymentCancelled,
) -> Result<(), HandlerError> {
    let cancellation = db::transition(
        work,
        Key::Order(cancelled.order_id),
        DeliveryStatus::Cancelled,
    );
    let Some(delivery) = cancellation.await? else {
        return Ok(());
    };
    work.publish(announcement(delivery.change()));
    Ok(())
}
