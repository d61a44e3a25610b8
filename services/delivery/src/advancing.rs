//! Advancing a delivery: the seller ships it (`STARTED`), the customer confirms it
//! (`COMPLETED`). Each move publishes its `Delivery*` event.

use contracts::DeliveryStatus;
use platform::Store;

use crate::db::{self, Delivery, Key};
use crate::domain::announcement;

#[derive(Debug, thiserror::Error)]
pub enum AdvanceError {
    #[error("no such delivery")]
    NotFound,
    #[error("the delivery is {current} and cannot become {next}")]
    InvalidState {
        current: DeliveryStatus,
        next: DeliveryStatus,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Moves delivery `id` to `next` if its status allows.
pub async fn advance(
    store: &Store,
    id: i64,
    next: DeliveryStatus,
) -> Result<Delivery, AdvanceError> {
    let mut work = store.begin().await?;
    let Some(delivery) = db::transition(&mut work, Key::Id(id), next).await? else {
        let current = db::by_id(&mut work, id)
            .await?
            .ok_or(AdvanceError::NotFound)?;
        return Err(AdvanceError::InvalidState {
            current: current.status,
            next,
        });
    };
    work.publish(announcement(delivery.change()));
    work.commit().await?;
    Ok(delivery)
}
