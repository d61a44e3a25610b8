//! What delivery does when a payment completes or is cancelled.

use contracts::{Envelope, Event, PaymentCancelled, PaymentCompleted};
use platform::consumer::{EventHandler, HandlerError, Run, runs};
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
        self.handle_batch(conn, &[envelope]).await
    }

    async fn handle_batch(
        &self,
        conn: &mut PgConnection,
        envelopes: &[&Envelope],
    ) -> Result<(), HandlerError> {
        for run in runs(envelopes, Event::as_payment_completed) {
            match run {
                Run::Together(paid) => request_deliveries(conn, &paid).await?,
                Run::Alone(envelope) => {
                    if let Event::PaymentCancelled(cancelled) = &envelope.event {
                        cancel_delivery(conn, cancelled).await?;
                    }
                }
            }
        }
        Ok(())
    }
}

async fn request_deliveries(
    conn: &mut PgConnection,
    paid: &[&PaymentCompleted],
) -> Result<(), HandlerError> {
    let requested: Vec<Envelope> = db::request(conn, paid)
        .await?
        .iter()
        .map(|delivery| Envelope::new(SERVICE, Status::Requested.event(delivery.change())))
        .collect();
    platform::outbox::enqueue_many(conn, &requested).await?;
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
