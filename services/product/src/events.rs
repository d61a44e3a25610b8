//! What product does when a payment completes or is cancelled.

use std::collections::{BTreeSet, HashSet};

use contracts::{
    Envelope, Event, PaymentCancelled, PaymentCompleted, StockDecreased, StockRestored,
    StockShortage,
};
use platform::UnitOfWork;
use platform::consumer::{EventHandler, HandlerError, Run, runs};

use crate::db;
use crate::domain::MovementOutcome;

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

/// Takes each paid order's quantity, in order, or reports a shortage; never lets stock go
/// negative.
/// An order is applied at most once whatever the event ids (the movement row is keyed by
/// order). The stock of every product involved is locked and read once, and the outcome
/// written back in three statements, however many orders.
async fn on_payments_completed(
    work: &mut UnitOfWork,
    paid: &[&PaymentCompleted],
) -> Result<(), HandlerError> {
    let order_ids: Vec<i64> = paid.iter().map(|p| p.order_id).collect();
    let mut settled: HashSet<i64> = db::orders_with_movement(work, &order_ids).await?;
    let mut product_ids: Vec<i64> = paid.iter().map(|p| p.product_id).collect();
    product_ids.sort_unstable();
    product_ids.dedup();
    let mut stock = db::lock_stocks(work, &product_ids).await?;
    let mut changed = BTreeSet::new();
    let mut movements = Vec::with_capacity(paid.len());
    let mut events = Vec::with_capacity(paid.len());
    for paid in paid {
        if !settled.insert(paid.order_id) {
            continue;
        }
        let available = stock.get(&paid.product_id).copied().unwrap_or(0);
        let event = if available >= paid.qty {
            let remaining = available - paid.qty;
            stock.insert(paid.product_id, remaining);
            changed.insert(paid.product_id);
            movements.push((
                paid.order_id,
                paid.product_id,
                paid.qty,
                MovementOutcome::Decreased,
            ));
            Event::StockDecreased(StockDecreased {
                order_id: paid.order_id,
                product_id: paid.product_id,
                qty: paid.qty,
                remaining,
            })
        } else {
            movements.push((paid.order_id, paid.product_id, 0, MovementOutcome::Shortage));
            Event::StockShortage(StockShortage {
                order_id: paid.order_id,
                product_id: paid.product_id,
                requested: paid.qty,
                available,
            })
        };
        events.push(event);
    }
    let stocks: Vec<(i64, i32)> = changed.into_iter().map(|id| (id, stock[&id])).collect();
    db::set_stocks(work, &stocks).await?;
    db::record_movements(work, &movements).await?;
    work.publish_all(events);
    Ok(())
}

/// Restores exactly what this order took, once; nothing if it took nothing. A refund of
/// another kit or quantity than the order's stock movement is refused (dead-lettered).
async fn on_payment_cancelled(
    work: &mut UnitOfWork,
    cancelled: &PaymentCancelled,
) -> Result<(), HandlerError> {
    let movement = db::movement(work, cancelled.order_id).await?;
    if let Some(taken) = movement.as_ref().filter(|m| !fits(m, cancelled)) {
        return Err(HandlerError::contradicts(format!(
            "order {} took {} of kit {}; its refund names {} of kit {}",
            cancelled.order_id, taken.qty, taken.product_id, cancelled.qty, cancelled.product_id
        )));
    }
    let Some(movement) = movement else {
        // Cancelled before the stock was taken: make sure a late PaymentCompleted takes none.
        let void = MovementOutcome::Void;
        db::record_movement(work, cancelled.order_id, cancelled.product_id, 0, void).await?;
        return Ok(());
    };
    if movement.outcome != MovementOutcome::Decreased || movement.restored {
        return Ok(());
    }
    let stock = db::lock_stock(work, movement.product_id)
        .await?
        .unwrap_or(0);
    let remaining = stock + movement.qty;
    db::set_stock(work, movement.product_id, remaining).await?;
    db::mark_restored(work, cancelled.order_id).await?;
    work.publish(Event::StockRestored(StockRestored {
        order_id: cancelled.order_id,
        product_id: movement.product_id,
        qty: movement.qty,
        remaining,
    }));
    Ok(())
}

/// Whether a refund is for what the order's stock movement recorded: the same kit and, when
/// stock was taken, the same quantity.
fn fits(movement: &db::Movement, cancelled: &PaymentCancelled) -> bool {
    movement.product_id == cancelled.product_id
        && (movement.outcome != MovementOutcome::Decreased || movement.qty == cancelled.qty)
}
