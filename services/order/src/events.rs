//! What order does with catalog and delivery events.

use contracts::{DeliveryChanged, Envelope, Event};
use platform::consumer::{EventHandler, HandlerError, Run, runs};
use sqlx::PgConnection;

use crate::domain::Status;
use crate::{cancelling, db};

pub struct Handler;

impl EventHandler for Handler {
    fn wants(&self, event: &Event) -> bool {
        matches!(
            event,
            Event::ProductRegistered(_)
                | Event::ProductUpdated(_)
                | Event::DeliveryRequested(_)
                | Event::DeliveryStarted(_)
                | Event::DeliveryCompleted(_)
                | Event::DeliveryCancelled(_)
                | Event::StockShortage(_)
        )
    }

    async fn handle(
        &self,
        conn: &mut PgConnection,
        envelope: &Envelope,
    ) -> Result<(), HandlerError> {
        match &envelope.event {
            Event::ProductRegistered(p) => {
                db::upsert_product(conn, p.product_id, Some(p.seller_id), &p.name, p.price).await?;
            }
            Event::ProductUpdated(p) => {
                db::upsert_product(conn, p.product_id, p.seller_id, &p.name, p.price).await?;
            }
            Event::DeliveryRequested(d) => {
                follow(conn, d.order_id, Status::DeliveryRequested).await?
            }
            Event::DeliveryStarted(d) => follow(conn, d.order_id, Status::Shipping).await?,
            Event::DeliveryCompleted(d) => follow(conn, d.order_id, Status::Delivered).await?,
            Event::DeliveryCancelled(d) => follow(conn, d.order_id, Status::Cancelled).await?,
            Event::StockShortage(s) => {
                cancelling::request(conn, s.order_id, cancelling::OUT_OF_STOCK).await?;
            }
            _ => {}
        }
        Ok(())
    }

    /// `DeliveryRequested`, one per order on the saga's path, moves a run of orders with one
    /// statement; everything else goes one by one.
    async fn handle_batch(
        &self,
        conn: &mut PgConnection,
        envelopes: &[&Envelope],
    ) -> Result<(), HandlerError> {
        for run in runs(envelopes, delivery_requested) {
            match run {
                Run::Together(requested) => {
                    let ids: Vec<i64> = requested.iter().map(|d| d.order_id).collect();
                    db::transition_all(conn, &ids, Status::DeliveryRequested).await?;
                }
                Run::Alone(envelope) => self.handle(conn, envelope).await?,
            }
        }
        Ok(())
    }
}

fn delivery_requested(event: &Event) -> Option<&DeliveryChanged> {
    match event {
        Event::DeliveryRequested(requested) => Some(requested),
        _ => None,
    }
}

/// The order follows its delivery. A move its status does not allow (a late event, a terminal
/// order) is ignored: the event is recorded as processed and changes nothing.
async fn follow(conn: &mut PgConnection, order_id: i64, next: Status) -> sqlx::Result<()> {
    if db::transition(conn, order_id, next, None).await?.is_none() {
        tracing::debug!(
            order_id,
            next = next.as_str(),
            "delivery event ignored by the order's status"
        );
    }
    Ok(())
}
