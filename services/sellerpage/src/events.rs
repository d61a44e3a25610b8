//! Every order-scoped event updates that order's row.

use contracts::{Envelope, Event};
use platform::consumer::{EventHandler, HandlerError};
use sqlx::PgConnection;

use crate::db;

pub struct Handler;

impl EventHandler for Handler {
    fn wants(&self, event: &Event) -> bool {
        !matches!(
            event,
            Event::ProductRegistered(_) | Event::ProductUpdated(_) | Event::Unknown
        ) && event.order_id().is_some()
    }

    async fn handle(
        &self,
        conn: &mut PgConnection,
        envelope: &Envelope,
    ) -> Result<(), HandlerError> {
        let Some(order_id) = envelope.event.order_id() else {
            return Ok(());
        };
        let mut view = db::load_for_update(conn, order_id).await?;
        view.apply(&envelope.event, envelope.occurred_at);
        db::save(conn, &view).await?;
        Ok(())
    }
}
