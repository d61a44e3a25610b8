//! Every order-scoped event updates that order's row.

use contracts::{Envelope, Event};
use platform::UnitOfWork;
use platform::consumer::{EventHandler, HandlerError};

use crate::db;

pub struct Handler;

impl EventHandler for Handler {
    fn wants(&self, event: &Event) -> bool {
        !matches!(
            event,
            Event::ProductRegistered(_) | Event::ProductUpdated(_) | Event::Unknown
        ) && event.order_id().is_some()
    }

    /// Each order's row is read and written once per batch, however many of its events the
    /// batch holds; the events fold in any order (see [`crate::domain::SellerOrder::apply`]).
    async fn apply(&self, work: &mut UnitOfWork, batch: &[&Envelope]) -> Result<(), HandlerError> {
        let mut order_ids: Vec<i64> = batch.iter().filter_map(|e| e.event.order_id()).collect();
        order_ids.sort_unstable();
        order_ids.dedup();
        if order_ids.is_empty() {
            return Ok(());
        }
        let mut views = db::load_for_update(work, &order_ids).await?;
        for envelope in batch {
            let Some(order_id) = envelope.event.order_id() else {
                continue;
            };
            // Inserted and locked above, in this transaction: it is there.
            let view = views.get_mut(&order_id).ok_or_else(|| {
                HandlerError::Rejected(format!("seller-page row of order {order_id} vanished"))
            })?;
            view.apply(&envelope.event, envelope.occurred_at);
        }
        db::save(work, views.values()).await?;
        Ok(())
    }
}
