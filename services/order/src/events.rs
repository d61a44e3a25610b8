//! What order does with catalog, stock and delivery events.

use std::collections::HashSet;

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

/// Each order follows its delivery to `DELIVERY_REQUESTED`; see [`on_delivery_changed`] for
/// what is refused.
async fn on_deliveries_requested(
    work: &mut UnitOfWork,
    requested: &[&DeliveryChanged],
) -> Result<(), HandlerError> {
    let next = OrderStatus::following(DeliveryStatus::Requested);
    let moved: HashSet<i64> = db::follow_deliveries(work, requested, next)
        .await?
        .into_iter()
        .collect();
    for delivery in requested.iter().filter(|d| !moved.contains(&d.order_id)) {
        unmoved(work, delivery).await?;
    }
    Ok(())
}

/// The order follows its delivery. Refused (dead-lettered, nothing changes) when it
/// contradicts the order: an order order never took, another customer or seller, a state the
/// delivery's cannot follow ([`OrderStatus::contradicted_by`]). Any other move the order's
/// status does not allow (a late or repeated event, a terminal order) is recorded as processed
/// and changes nothing.
async fn on_delivery_changed(
    work: &mut UnitOfWork,
    delivery: &DeliveryChanged,
) -> Result<(), HandlerError> {
    let next = OrderStatus::following(delivery.status);
    if db::follow_delivery(work, delivery, next).await?.is_none() {
        unmoved(work, delivery).await?;
    }
    Ok(())
}

/// Why `delivery` did not move its order: refused if it contradicts the order, else ignored.
async fn unmoved(work: &mut UnitOfWork, delivery: &DeliveryChanged) -> Result<(), HandlerError> {
    let order_id = delivery.order_id;
    let Some(order) = db::find(work, order_id).await? else {
        return Err(HandlerError::contradicts(format!(
            "no order {order_id}: its delivery cannot be {}",
            delivery.status
        )));
    };
    if (order.customer_id, order.seller_id) != (delivery.customer_id, delivery.seller_id) {
        return Err(HandlerError::contradicts(format!(
            "order {order_id} is customer {}'s of seller {}, not {}'s of {}",
            order.customer_id, order.seller_id, delivery.customer_id, delivery.seller_id
        )));
    }
    if let Some(why) = order.status.contradicted_by(delivery.status) {
        return Err(HandlerError::contradicts(format!(
            "order {order_id} is {}: its delivery cannot be {} ({why})",
            order.status, delivery.status
        )));
    }
    tracing::debug!(order_id, status = %order.status, delivery = %delivery.status, "delivery event ignored by the order's status");
    Ok(())
}

/// Sold out after the payment: the order is cancelled, the same chain as a customer's
/// cancellation without the seller alert (marketing tells the seller from `OrderCancelled`).
async fn on_stock_shortage(work: &mut UnitOfWork, shortage: &StockShortage) -> sqlx::Result<()> {
    cancelling::request(work, shortage.order_id, CancelReason::OutOfStock).await?;
    Ok(())
}
