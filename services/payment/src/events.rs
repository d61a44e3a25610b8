//! What payment does when an order's delivery is cancelled.

use contracts::{DeliveryChanged, Envelope, Event, PaymentCancelled, PaymentStatus};
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

/// Refunds the order's approved payment (`PaymentCancelled`). A delivery is cancelled only
/// for an order that was paid, so what does not fit the payment payment holds is refused
/// (dead-lettered, nothing refunded): no payment for that order, another customer or seller,
/// a declined payment. One refunded already is a repeat and changes nothing.
async fn on_delivery_cancelled(
    work: &mut UnitOfWork,
    delivery: &DeliveryChanged,
) -> Result<(), HandlerError> {
    let order_id = delivery.order_id;
    let Some(held) = db::by_order(work, order_id).await? else {
        return Err(HandlerError::contradicts(format!(
            "no payment for order {order_id}: nothing to refund"
        )));
    };
    if (held.customer_id, held.seller_id) != (delivery.customer_id, delivery.seller_id) {
        return Err(HandlerError::contradicts(format!(
            "order {order_id} was paid by customer {} to seller {}, not {} to {}",
            held.customer_id, held.seller_id, delivery.customer_id, delivery.seller_id
        )));
    }
    match held.status {
        PaymentStatus::Approved => {}
        PaymentStatus::Cancelled => {
            tracing::info!(order_id, "payment refunded already");
            return Ok(());
        }
        PaymentStatus::Declined => {
            return Err(HandlerError::contradicts(format!(
                "the payment of order {order_id} was declined: nothing to refund"
            )));
        }
    }
    let Some(payment) = db::cancel(work, order_id).await? else {
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
