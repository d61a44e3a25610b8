//! What an event's values must be, beyond its shape: a consumer applies only events that keep
//! the contract and dead-letters the others with the reason (a `PaymentCompleted` with a
//! negative quantity would otherwise raise the stock).

use std::fmt;

use crate::{ENVELOPE_VERSION, Envelope, Event};

/// Most of one kit an order may ask for (and so any event about an order's quantity carry).
pub const MAX_QTY: i64 = 100;

/// How an event breaks its contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation(String);

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Violation {}

type Checked = Result<(), Violation>;

fn positive(field: &str, value: i64) -> Checked {
    if value > 0 {
        Ok(())
    } else {
        Err(Violation(format!("{field} must be positive, not {value}")))
    }
}

fn not_negative(field: &str, value: i64) -> Checked {
    if value >= 0 {
        Ok(())
    } else {
        Err(Violation(format!(
            "{field} must not be negative, not {value}"
        )))
    }
}

fn qty(field: &str, value: i32) -> Checked {
    if (1..=MAX_QTY).contains(&i64::from(value)) {
        Ok(())
    } else {
        Err(Violation(format!(
            "{field} must be 1 to {MAX_QTY}, not {value}"
        )))
    }
}

fn text(field: &str, value: &str) -> Checked {
    if value.trim().is_empty() {
        Err(Violation(format!("{field} must not be blank")))
    } else {
        Ok(())
    }
}

impl Envelope {
    /// Whether this envelope keeps its contract: a version this build reads, the order id of
    /// its payload, and every value in range. Unknown event types pass (nobody applies them).
    pub fn validate(&self) -> Checked {
        if self.version != ENVELOPE_VERSION {
            return Err(Violation(format!(
                "version {} is not the version this build reads ({ENVELOPE_VERSION})",
                self.version
            )));
        }
        if let (Some(envelope), Some(payload)) = (self.order_id, self.event.order_id())
            && envelope != payload
        {
            return Err(Violation(format!(
                "the envelope's orderId {envelope} is not the payload's {payload}"
            )));
        }
        self.event.validate()
    }
}

impl Event {
    /// Whether the payload's values are in range (see [`Envelope::validate`]).
    pub fn validate(&self) -> Checked {
        match self {
            Event::ProductRegistered(e) => {
                positive("productId", e.product_id)?;
                positive("sellerId", e.seller_id)?;
                text("name", &e.name)?;
                not_negative("price", e.price)?;
                not_negative("stock", e.stock.into())
            }
            Event::ProductUpdated(e) => {
                positive("productId", e.product_id)?;
                if let Some(seller_id) = e.seller_id {
                    positive("sellerId", seller_id)?;
                }
                text("name", &e.name)?;
                not_negative("price", e.price)?;
                not_negative("stock", e.stock.into())
            }
            Event::StockDecreased(e) => {
                positive("orderId", e.order_id)?;
                positive("productId", e.product_id)?;
                qty("qty", e.qty)?;
                not_negative("remaining", e.remaining.into())
            }
            Event::StockRestored(e) => {
                positive("orderId", e.order_id)?;
                positive("productId", e.product_id)?;
                qty("qty", e.qty)?;
                not_negative("remaining", e.remaining.into())
            }
            Event::StockShortage(e) => {
                positive("orderId", e.order_id)?;
                positive("productId", e.product_id)?;
                qty("requested", e.requested)?;
                not_negative("available", e.available.into())
            }
            Event::OrderPlaced(e) => {
                positive("orderId", e.order_id)?;
                not_negative("customerId", e.customer_id)?;
                positive("sellerId", e.seller_id)?;
                positive("productId", e.product_id)?;
                text("productName", &e.product_name)?;
                qty("qty", e.qty)?;
                not_negative("amount", e.amount)?;
                text("address", &e.address)
            }
            Event::OrderCancelled(e) => {
                positive("orderId", e.order_id)?;
                not_negative("customerId", e.customer_id)?;
                positive("sellerId", e.seller_id)?;
                positive("productId", e.product_id)?;
                qty("qty", e.qty)
            }
            Event::PaymentCompleted(e) => {
                positive("paymentId", e.payment_id)?;
                positive("orderId", e.order_id)?;
                not_negative("customerId", e.customer_id)?;
                positive("sellerId", e.seller_id)?;
                positive("productId", e.product_id)?;
                qty("qty", e.qty)?;
                not_negative("amount", e.amount)?;
                text("address", &e.address)
            }
            Event::PaymentCancelled(e) => {
                positive("paymentId", e.payment_id)?;
                positive("orderId", e.order_id)?;
                positive("productId", e.product_id)?;
                qty("qty", e.qty)?;
                not_negative("amount", e.amount)
            }
            Event::DeliveryRequested(e)
            | Event::DeliveryStarted(e)
            | Event::DeliveryCompleted(e)
            | Event::DeliveryCancelled(e) => {
                positive("deliveryId", e.delivery_id)?;
                positive("orderId", e.order_id)?;
                not_negative("customerId", e.customer_id)?;
                positive("sellerId", e.seller_id)?;
                let announced = crate::statuses::announced_by(self);
                if Some(e.status) != announced {
                    return Err(Violation(format!(
                        "a {} carries status {}",
                        self.event_type(),
                        e.status
                    )));
                }
                Ok(())
            }
            Event::CustomerNotified(e) | Event::SellerNotified(e) => {
                positive("notificationId", e.notification_id)?;
                positive("orderId", e.order_id)?;
                text("kind", &e.kind)
            }
            Event::Unknown => Ok(()),
        }
    }
}
