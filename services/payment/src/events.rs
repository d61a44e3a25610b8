//! What payment does when an order is cancelled.

use contracts::{Envelope, Event, OrderCancelled, PaymentCancelled};
use platform::consumer::{EventHandler, HandlerError};
use sqlx::PgConnection;

use crate::{SERVICE, db};

pub struct Handler;

impl EventHandler for Handler {
    fn wants(&self, event: &Event) -> bool {
        matches!(event, Event::OrderCancelled(_))
    }

    async fn handle(
        &self,
        conn: &mut PgConnection,
        envelope: &Envelope,
    ) -> Result<(), HandlerError> {
        match &envelope.event {
            Event::OrderCancelled(cancelled) => cancel_payment(conn, cancelled).await,
            _ => Ok(()),
        }
    }
}

async fn cancel_payment(
    conn: &mut PgConnection,
    order: &OrderCancelled,
) -> Result<(), HandlerError> {
    let Some(payment) = db::cancel(conn, order.order_id).await? else {
        return Ok(());
    };
    let event = Event::PaymentCancelled(PaymentCancelled {
        payment_id: payment.id,
        order_id: payment.order_id,
        product_id: payment.product_id,
        qty: payment.qty,
        amount: payment.amount,
    });
    platform::outbox::enqueue(conn, &Envelope::new(SERVICE, event)).await?;
    Ok(())
}
