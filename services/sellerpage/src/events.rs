//! Every order-scoped event updates that order's row: the seller's view and the order's journey.
//! One that names another customer or seller than the row knows is refused (dead-lettered):
//! an order's owners never change here.

use std::collections::HashMap;

use contracts::{Envelope, Event};
use platform::UnitOfWork;
use platform::consumer::{EventHandler, HandlerError};

use crate::db;
use crate::domain::SellerOrder;

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
        let mut rows = db::load_for_update(work, &order_ids).await?;
        let before: HashMap<i64, SellerOrder> = rows
            .iter()
            .map(|(id, row)| (*id, row.view.clone()))
            .collect();
        let now = chrono::Utc::now();
        for envelope in batch {
            let Some(order_id) = envelope.event.order_id() else {
                continue;
            };
            // Inserted and locked above, in this transaction: it is there.
            let row = rows.get_mut(&order_id).ok_or_else(|| {
                HandlerError::Rejected(format!("seller-page row of order {order_id} vanished"))
            })?;
            if let Some(why) = row.view.contradiction(&envelope.event) {
                return Err(HandlerError::contradicts(why));
            }
            row.view.apply(&envelope.event, envelope.occurred_at);
            row.journey.record(envelope, now);
        }
        let saved = rows
            .values()
            .map(|row| (row, before.get(&row.view.order_id) != Some(&row.view)));
        db::save(work, saved).await?;
        Ok(())
    }
}
