//! What payment does when an order's delivery is cancelled.

use contracts::{DeliveryChanged, Envelope, Event, PaymentCancelled};
use platform::UnitOfWork;
use platform::consumer::{EventHandler, HandlerError};

use crate::db;

pub struct Handler;

impl EventHandler for Handler {
    fn wants(&self, event: &Event) -> bool {
        matches!(event, Event::DeliveryCancelled(_))
    }

    async fn apply(&self, work: &mut UnitOfWork, batch: &[&Envelope]) -> Result<(), HandlerError> {
        for envelope in batch {
            if let Event::DeliveryCancelled(cancelled) = &envelope.event {
                on_delivery_cancelled(work, cancelled).await?;
            }
        }
        Ok(())
    }
}

/// Refunds the order's approved payment (`PaymentCancelled`); nothing if there is none.
async fn on_delivery_cancelled(
    work: &mut UnitOfWork,
    delivery: &DeliveryChanged,
) -> Result<(), HandlerError> {
    let Some(payment) = db::cancel(work, delivery.order_id).await? else {
        return Ok(());
    };
    work.publish(Event::PaymentCancelled(PaymentCancelled {
        payment_id: payment.id,
        order_id: payment.order_id,
        product_id: payment.product_id,
        qty: payment.qty,
        amount: payment.amount,
    }));
    Ok(())
}
