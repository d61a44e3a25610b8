//! What product does when a payment completes or is cancelled.

use std::collections::{BTreeSet, HashSet};

use contracts::{
    Envelope, Event, PaymentCancelled, PaymentCompleted, StockDecreased, StockRestored,
    StockShortage,
};
use platform::consumer::{EventHandler, HandlerError, Run, runs};
use sqlx::PgConnection;

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
                Run::Together(paid) => take_stock(conn, &paid).await?,
                Run::Alone(envelope) => {
                    if let Event::PaymentCancelled(cancelled) = &envelope.event {
                        give_back_stock(conn, cancelled).await?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Takes each order's quantity, in order, or reports a shortage; never lets stock go negative.
/// An order is applied at most once whatever the event ids (the movement row is keyed by
/// order). The stock of every product involved is locked and read once, and the outcome
/// written back in three statements, however many orders.
async fn take_stock(
    conn: &mut PgConnection,
    paid: &[&PaymentCompleted],
) -> Result<(), HandlerError> {
    let order_ids: Vec<i64> = paid.iter().map(|p| p.order_id).collect();
    let mut settled: HashSet<i64> = db::orders_with_movement(conn, &order_ids).await?;
    let mut product_ids: Vec<i64> = paid.iter().map(|p| p.product_id).collect();
    product_ids.sort_unstable();
    product_ids.dedup();
    let mut stock = db::lock_stocks(conn, &product_ids).await?;
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
            movements.push((paid.order_id, paid.product_id, paid.qty, "DECREASED"));
            Event::StockDecreased(StockDecreased {
                order_id: paid.order_id,
                product_id: paid.product_id,
                qty: paid.qty,
                remaining,
            })
        } else {
            movements.push((paid.order_id, paid.product_id, 0, "SHORTAGE"));
            Event::StockShortage(StockShortage {
                order_id: paid.order_id,
                product_id: paid.product_id,
                requested: paid.qty,
                available,
            })
        };
        events.push(Envelope::new(SERVICE, event));
    }
    let stocks: Vec<(i64, i32)> = changed.into_iter().map(|id| (id, stock[&id])).collect();
    db::set_stocks(conn, &stocks).await?;
    db::record_movements(conn, &movements).await?;
    platform::outbox::enqueue_many(conn, &events).await?;
    Ok(())
}

/// Restores exactly what this order took, once; nothing if it took nothing.
async fn give_back_stock(
    conn: &mut PgConnection,
    cancelled: &PaymentCancelled,
) -> Result<(), HandlerError> {
    let Some(movement) = db::movement(conn, cancelled.order_id).await? else {
        // Cancelled before the stock was taken: make sure a late PaymentCompleted takes none.
        db::record_movement(conn, cancelled.order_id, cancelled.product_id, 0, "VOID").await?;
        return Ok(());
    };
    if movement.outcome != "DECREASED" || movement.restored {
        return Ok(());
    }
    let stock = db::lock_stock(conn, movement.product_id)
        .await?
        .unwrap_or(0);
    let remaining = stock + movement.qty;
    db::set_stock(conn, movement.product_id, remaining).await?;
    db::mark_restored(conn, cancelled.order_id).await?;
    let event = Event::StockRestored(StockRestored {
        order_id: cancelled.order_id,
        product_id: movement.product_id,
        qty: movement.qty,
        remaining,
    });
    platform::outbox::enqueue(conn, &Envelope::new(SERVICE, event)).await?;
    Ok(())
}
