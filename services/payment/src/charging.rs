//! Charging an order: the synchronous step of placing it (order → payment, idempotent per
//! order).

use contracts::{Event, PaymentCompleted, PaymentStatus};
use platform::Store;

use crate::db::{self, Payment};
use crate::domain::Charge;

/// What a charge came to.
pub enum Charged {
    /// Approved now: `PaymentCompleted` is published.
    Approved(Payment),
    /// Answered by an earlier call for the same order: approved then (and maybe cancelled since).
    Earlier(Payment),
    /// Declined, now or earlier.
    Declined,
    /// The order was charged before with other contents: this request is refused.
    Conflicting(Payment),
}

#[derive(Debug, thiserror::Error)]
pub enum ChargeError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// The insert met an existing payment that then could not be read.
    #[error("the payment of order {0} vanished after a conflict")]
    Vanished(i64),
}

/// Approves or declines `charge`. The payment and its `PaymentCompleted` are written by one
/// statement, the id drawn first so that the event can carry it: two round trips instead of a
/// four-step transaction. A repeated call for the same order answers what the first decided.
pub async fn charge(store: &Store, charge: &Charge) -> Result<Charged, ChargeError> {
    let verdict = charge.verdict();
    let mut conn = store.read().await?;
    let id = db::next_id(&mut conn).await?;
    let insert = db::insert(store, id, charge, verdict, charge.decline_reason());
    let insert = match verdict {
        PaymentStatus::Approved => insert.publish(Event::PaymentCompleted(PaymentCompleted {
            payment_id: id,
            order_id: charge.order_id,
            customer_id: charge.customer_id,
            seller_id: charge.seller_id,
            product_id: charge.product_id,
            qty: charge.qty,
            amount: charge.amount,
            address: charge.address.clone(),
        })),
        PaymentStatus::Declined | PaymentStatus::Cancelled => insert,
    };
    let (payment, new) = match insert.fetch_optional::<Payment>(&mut conn).await? {
        Some(payment) => (payment, true),
        None => (
            db::by_order(&mut conn, charge.order_id)
                .await?
                .ok_or(ChargeError::Vanished(charge.order_id))?,
            false,
        ),
    };
    Ok(match (payment.status, new) {
        (_, false) if !charge.matches(&payment) => Charged::Conflicting(payment),
        (PaymentStatus::Declined, _) => Charged::Declined,
        (_, true) => Charged::Approved(payment),
        (_, false) => Charged::Earlier(payment),
    })
}
