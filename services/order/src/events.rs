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
                | Event::StockDecreased(_)
                | Event::StockShortage(_)
                | Event::StockRestored(_)
        )
    }

    /// `DeliveryRequested`, one per order on the saga's path, moves a run of orders with one
    /// statement; the stock levels of the whole batch go in with one more; everything else goes
    /// one by one.
    async fn apply(&self, work: &mut UnitOfWork, batch: &[&Envelope]) -> Result<(), HandlerError> {
        // Stock levels do not depend on the order they are applied in: the ones that only carry
        // a level stay out of the runs, so they do not split a run of `DeliveryRequested`.
        let saga: Vec<&Envelope> = batch
            .iter()
            .copied()
            .filter(|e| !matches!(e.event, Event::StockDecreased(_) | Event::StockRestored(_)))
            .collect();
        for run in runs(&saga, delivery_requested) {
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
        // Last, once the catalog events of the batch have made their kits' rows.
        on_stock_levels(work, batch).await?;
        Ok(())
    }
}

/// What `event` says a kit's stock is: the catalog's stock, what an order's stock movement
/// left, or what a shortage found.
fn stock_level(event: &Event) -> Option<(i64, i32)> {
    match event {
        Event::ProductRegistered(p) => Some((p.product_id, p.stock)),
        Event::ProductUpdated(p) => Some((p.product_id, p.stock)),
        Event::StockDecreased(s) => Some((s.product_id, s.remaining)),
        Event::StockRestored(s) => Some((s.product_id, s.remaining)),
        Event::StockShortage(s) => Some((s.product_id, s.available)),
        _ => None,
    }
}

/// Keeps each kit's stock as product last announced it, for `POST /orders` to refuse what it
/// cannot fill. One statement for the whole batch.
///
/// Stock events arrive out of order: catalog events are keyed by product, stock movements by
/// order, so they travel on different partitions and a level announced earlier can be consumed
/// later. A late lower level would refuse good orders, so each level goes with its envelope's
/// `occurred_at` and replaces only an older one (`stock_as_of`). That order is product's: it
/// stamps every stock event after taking the kit's row lock and before committing, so for one
/// kit the stamps follow the changes (as far as the clocks of product's replicas agree).
/// Several events of one product transaction may share a stamp; see
/// [`db::record_stock_levels`].
async fn on_stock_levels(work: &mut UnitOfWork, batch: &[&Envelope]) -> sqlx::Result<()> {
    let mut levels = db::StockLevels::default();
    for envelope in batch {
        if let Some((product_id, stock)) = stock_level(&envelope.event) {
            levels.push(product_id, stock, envelope.occurred_at);
        }
    }
    db::record_stock_levels(work, &levels).await
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
