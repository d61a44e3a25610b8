//! Starting the compensation chain: `CANCEL_REQUESTED` and `OrderCancelled`, in one transaction.

use contracts::{Envelope, Event, OrderCancelled};
use sqlx::PgConnection;

use crate::SERVICE;
use crate::db::{self, Order};
use crate::domain::Status;

pub const CUSTOMER_REQUEST: &str = "CUSTOMER_REQUEST";
pub const OUT_OF_STOCK: &str = "OUT_OF_STOCK";

/// Marks the order `CANCEL_REQUESTED` and publishes `OrderCancelled`; `None` (and nothing
/// published) when its status does not allow it, a repeated request included.
pub async fn request(
    conn: &mut PgConnection,
    order_id: i64,
    reason: &str,
) -> sqlx::Result<Option<Order>> {
    let Some(order) = db::transition(conn, order_id, Status::CancelRequested, Some(reason)).await?
    else {
        return Ok(None);
    };
    let event = Event::OrderCancelled(OrderCancelled {
        order_id: order.id,
        customer_id: order.customer_id,
        seller_id: order.seller_id,
        product_id: order.product_id,
        qty: order.qty,
        reason: reason.to_owned(),
    });
    platform::outbox::enqueue(conn, &Envelope::new(SERVICE, event)).await?;
    Ok(Some(order))
}
