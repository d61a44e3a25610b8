//! Advancing a delivery: the seller ships it (`STARTED`), the customer confirms it
//! (`COMPLETED`). Each move publishes its `Delivery*` event.

use contracts::DeliveryStatus;
use platform::{ApiError, Caller, Party, Store};

use crate::db::{self, Delivery};
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
    /// The caller may see the delivery but not make this move.
    #[error("{}", .0.message)]
    Forbidden(ApiError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Who may see a delivery: the order's customer, its seller, any courier, admins.
pub fn owners(delivery: &Delivery) -> [Party; 4] {
    [
        Party::Customer(delivery.customer_id),
        Party::Seller(delivery.seller_id),
        Party::Couriers,
        Party::Admins,
    ]
}

/// Moves delivery `id` to `next` if its status allows and the caller may: the seller or a
/// courier ships it, the customer or a courier confirms it.
pub async fn advance(
    store: &Store,
    caller: &Caller,
    id: i64,
    next: DeliveryStatus,
) -> Result<Delivery, AdvanceError> {
    let mut conn = store.read().await?;
    let found = db::by_id(&mut conn, id).await?;
    drop(conn);
    let delivery = found
        .filter(|delivery| caller.is_one_of(&owners(delivery)))
        .ok_or(AdvanceError::NotFound)?;
    // Customer and seller never change on a delivery, so this check cannot go stale.
    let (movers, who) = match next {
        DeliveryStatus::Started => (
            Party::Seller(delivery.seller_id),
            "the order's seller or a courier",
        ),
        _ => (
            Party::Customer(delivery.customer_id),
            "the order's customer or a courier",
        ),
    };
    caller
        .must_be(&[movers, Party::Couriers], who)
        .map_err(AdvanceError::Forbidden)?;
    let mut work = store.begin().await?;
    let Some(delivery) = db::transition(&mut work, id, next).await? else {
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
