//! What delivery does when a payment completes or is cancelled.

use contracts::{Envelope, Event, PaymentCancelled, PaymentCompleted};
use platform::consumer::{EventHandler, HandlerError};
use sqlx::PgConnection;

use crate::domain::Status;
use crate::{SERVICE, db};

pub struct Handler;

impl EventHandler for Handler {
    fn wants(&self, event: &Event) -> bool {
        matches!(
            event,
            Event::PaymentCompleted(_) | Event::PaymentCancelled(_)
        )
    }

    async fn handle(
        &self,
        conn: &mut PgConnection,
        envelope: &Envelope,
    ) -> Result<(), HandlerError> {
        match &envelope.event {
            Event::PaymentCompleted(paid) => request_delivery(conn, paid).await,
            Event::PaymentCancelled(cancelled) => cancel_delivery(conn, cancelled).await,
            _ => Ok(()),
        }
    }
}

async fn request_delivery(
    conn: &mut PgConnection,
    paid: &PaymentCompleted,
) -> Result<(), HandlerError> {
    let Some(delivery) = db::request(
        conn,
        paid.order_id,
        paid.customer_id,
        paid.seller_id,
        &paid.address,
    )
    .await?
    else {
        return Ok(());
    };
    let event = Status::Requested.event(delivery.change());
    platform::outbox::enqueue(conn, &Envelope::new(SERVICE, event)).await?;
    Ok(())
}

async fn cancel_delivery(
    conn: &mut PgConnection,
    cancelled: &PaymentCancelled,
) -> Result<(), HandlerError> {
    let Some(delivery) =
        db::transition(conn, "order_id", cancelled.order_id, Status::Cancelled).await?
    else {
        return Ok(());
    };
    let event = Status::Cancelled.event(delivery.change());
    platform::outbox::enqueue(conn, &Envelope::new(SERVICE, event)).await?;
    Ok(())
}
