//! What order does with catalog, stock and delivery events.

use contracts::{CancelReason, DeliveryChanged, DeliveryStatus, Envelope, Event, StockShortage};
use platform::UnitOfWork;
use platform::consumer::{EventHandler, HandlerError, Run, runs};

use crate::domain::OrderStatus;
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

    /// `DeliveryRequested`, one per order on the saga's path, moves a run of orders with one
    /// statement; everything else goes one by one.
    async fn apply(&self, work: &mut UnitOfWork, batch: &[&Envelope]) -> Result<(), HandlerError> {
        for run in runs(batch, delivery_requested) {
            match run {
                Run::Together(requested) => on_deliveries_requested(work, &requested).await?,
                Run::Alone(envelope) => match &envelope.event {
                    Event::ProductRegistered(p) => {
                        db::upsert_product(work, p.product_id, Some(p.seller_id), &p.name, p.price)
                            .await?;
                    }
                    Event::ProductUpdated(p) => {
                        db::upsert_product(work, p.product_id, p.seller_id, &p.name, p.price)
                            .await?;
                    }
                    Event::DeliveryStarted(d)
                    | Event::DeliveryCompleted(d)
                    | Event::DeliveryCancelled(d) => on_delivery_changed(work, d).await?,
                    Event::StockShortage(shortage) => on_stock_shortage(work, shortage).await?,
                    _ => {}
                },
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

async fn on_deliveries_requested(
    work: &mut UnitOfWork,
    requested: &[&DeliveryChanged],
) -> sqlx::Result<()> {
    let ids: Vec<i64> = requested.iter().map(|d| d.order_id).collect();
    db::transition_all(
        work,
        &ids,
        OrderStatus::following(DeliveryStatus::Requested),
    )
    .await?;
    Ok(())
}

/// The order follows its delivery. A move its status does not allow (a late event, a terminal
/// order) is ignored: the event is recorded as processed and changes nothing.
async fn on_delivery_changed(
    work: &mut UnitOfWork,
    delivery: &DeliveryChanged,
) -> sqlx::Result<()> {
    let next = OrderStatus::following(delivery.status);
    if db::transition(work, delivery.order_id, next, None)
        .await?
        .is_none()
    {
        tracing::debug!(%next, "delivery event ignored by the order's status");
    }
    Ok(())
}

/// Sold out after the payment: the order is cancelled, the same chain as a customer's
/// cancellation without the seller alert (marketing tells the seller from `OrderCancelled`).
async fn on_stock_shortage(work: &mut UnitOfWork, shortage: &StockShortage) -> sqlx::Result<()> {
    cancelling::request(work, shortage.order_id, CancelReason::OutOfStock).await?;
    Ok(())
}
