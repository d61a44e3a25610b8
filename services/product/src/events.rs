//! What product does when a payment completes or is cancelled.

use contracts::{
    Envelope, Event, PaymentCancelled, PaymentCompleted, StockDecreased, StockRestored,
    StockShortage,
};
use platform::consumer::{EventHandler, HandlerError};
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
        match &envelope.event {
            Event::PaymentCompleted(paid) => take_stock(conn, paid).await,
            Event::PaymentCancelled(cancelled) => give_back_stock(conn, cancelled).await,
            _ => Ok(()),
        }
    }
}

/// Takes the order's quantity, or reports a shortage; never lets stock go negative. An order
/// is applied at most once whatever the event ids (the movement row is keyed by order).
async fn take_stock(conn: &mut PgConnection, paid: &PaymentCompleted) -> Result<(), HandlerError> {
    if db::movement(conn, paid.order_id).await?.is_some() {
        return Ok(());
    }
    let available = db::lock_stock(conn, paid.product_id).await?.unwrap_or(0);
    let event = if available >= paid.qty {
        let remaining = available - paid.qty;
        db::set_stock(conn, paid.product_id, remaining).await?;
        db::record_movement(conn, paid.order_id, paid.product_id, paid.qty, "DECREASED").await?;
        Event::StockDecreased(StockDecreased {
            order_id: paid.order_id,
            product_id: paid.product_id,
            qty: paid.qty,
            remaining,
        })
    } else {
        db::record_movement(conn, paid.order_id, paid.product_id, 0, "SHORTAGE").await?;
        Event::StockShortage(StockShortage {
            order_id: paid.order_id,
            product_id: paid.product_id,
            requested: paid.qty,
            available,
        })
    };
    platform::outbox::enqueue(conn, &Envelope::new(SERVICE, event)).await?;
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
