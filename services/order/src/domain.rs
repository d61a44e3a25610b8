//! The order and its status machine. No I/O.

use contracts::{CancelReason, DeliveryStatus};
use platform::ApiError;
use platform::extract::{card_number, check};

pub use contracts::MAX_QTY;
pub const DEFAULT_ADDRESS: &str = "pick-up at the store";

contracts::labels! {
    /// Where an order is in its saga. `DELIVERED`, `REJECTED` and `CANCELLED` are terminal.
    pub enum OrderStatus {
        Pending = "PENDING",
        Placed = "PLACED",
        DeliveryRequested = "DELIVERY_REQUESTED",
        Shipping = "SHIPPING",
        Delivered = "DELIVERED",
        Rejected = "REJECTED",
        CancelRequested = "CANCEL_REQUESTED",
        Cancelled = "CANCELLED",
    }
}

impl OrderStatus {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            OrderStatus::Delivered | OrderStatus::Rejected | OrderStatus::Cancelled
        )
    }

    /// Where an order may be for a move to `self`. The delivery path only moves forward, and may
    /// skip steps: events of other topics can overtake each other (a `DeliveryRequested` may
    /// arrive while the order is still `PENDING`, its payment answer in flight).
    pub fn reachable_from(self) -> &'static [OrderStatus] {
        use OrderStatus::*;
        match self {
            Pending => &[],
            Placed => &[Pending],
            DeliveryRequested => &[Pending, Placed],
            Shipping => &[Pending, Placed, DeliveryRequested],
            // From CANCEL_REQUESTED when the goods arrived before the cancellation reached
            // delivery, which decides that race: the cancellation is refused, the payment kept.
            Delivered => &[
                Pending,
                Placed,
                DeliveryRequested,
                Shipping,
                CancelRequested,
            ],
            Rejected => &[Pending],
            // PENDING only for a stock shortage that overtook the payment's answer; customers
            // cancel only what `customer_may_cancel` allows.
            CancelRequested => &[Pending, Placed, DeliveryRequested, Shipping],
            // Only on `DeliveryCancelled`, which only follows the order's own `OrderCancelled`.
            Cancelled => &[CancelRequested],
        }
    }

    /// Whether a customer may ask to cancel an order in this state.
    pub fn customer_may_cancel(self) -> bool {
        matches!(
            self,
            OrderStatus::Placed | OrderStatus::DeliveryRequested | OrderStatus::Shipping
        )
    }

    /// Whether the order is being, or has been, cancelled.
    pub fn is_cancellation(self) -> bool {
        matches!(self, OrderStatus::CancelRequested | OrderStatus::Cancelled)
    }

    pub fn can_become(self, next: OrderStatus) -> bool {
        next.reachable_from().contains(&self)
    }

    /// Why an order in this state cannot be the one a delivery that reached `delivery` is for,
    /// if it cannot: a delivery is cancelled only after the order asked (`CANCEL_REQUESTED`),
    /// and a delivery cancelled is never completed. Any other move the state does not allow is
    /// late or repeated (events of other topics overtake each other, a dead letter is
    /// redriven) and changes nothing.
    pub fn contradicted_by(self, delivery: DeliveryStatus) -> Option<&'static str> {
        use OrderStatus::*;
        match (delivery, self) {
            (DeliveryStatus::Cancelled, CancelRequested | Cancelled) => None,
            (DeliveryStatus::Cancelled, _) => Some("its cancellation was never asked for"),
            (DeliveryStatus::Completed, Cancelled) => Some("its delivery was cancelled"),
            _ => None,
        }
    }

    /// Where the order goes when its delivery reaches `delivery`.
    pub fn following(delivery: DeliveryStatus) -> OrderStatus {
        match delivery {
            DeliveryStatus::Requested => OrderStatus::DeliveryRequested,
            DeliveryStatus::Started => OrderStatus::Shipping,
            DeliveryStatus::Completed => OrderStatus::Delivered,
            DeliveryStatus::Cancelled => OrderStatus::Cancelled,
        }
    }
}

contracts::labels! {
    /// Why an order was cancelled (the contract's [`CancelReason`]s) or rejected.
    pub enum Reason {
        CustomerRequest = "CUSTOMER_REQUEST",
        OutOfStock = "OUT_OF_STOCK",
        PaymentDeclined = "PAYMENT_DECLINED",
        PaymentRefused = "PAYMENT_REFUSED",
        PaymentUnavailable = "PAYMENT_UNAVAILABLE",
        PaymentNotCompleted = "PAYMENT_NOT_COMPLETED",
    }
}

impl Reason {
    /// Whether an order rejected for this reason was never charged and the customer is asked to
    /// try again: its `Idempotency-Key` is released, so the retry runs anew. A declined or
    /// refused payment is an answer, and a retry gets it again.
    pub fn invites_a_retry(self) -> bool {
        matches!(
            self,
            Reason::PaymentUnavailable | Reason::PaymentNotCompleted
        )
    }
}

impl From<CancelReason> for Reason {
    fn from(reason: CancelReason) -> Self {
        match reason {
            CancelReason::CustomerRequest => Reason::CustomerRequest,
            CancelReason::OutOfStock => Reason::OutOfStock,
        }
    }
}

/// A validated order request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub product_id: i64,
    pub qty: i32,
    pub customer_id: i64,
    pub address: String,
    pub card_number: Option<String>,
}

impl NewOrder {
    pub fn parse(
        product_id: i64,
        qty: i64,
        customer_id: i64,
        address: Option<&str>,
        card: Option<&str>,
    ) -> Result<Self, ApiError> {
        check::positive("productId", product_id)?;
        check::range("qty", qty, 1, MAX_QTY)?;
        check::positive("customerId", customer_id)?;
        let address = match address {
            Some(address) => check::text("address", address, 500)?,
            None => DEFAULT_ADDRESS.to_owned(),
        };
        let card_number = card.map(card_number).transpose()?;
        Ok(Self {
            product_id,
            qty: qty as i32,
            customer_id,
            address,
            card_number,
        })
    }
}

/// Refuses `qty` of kit `name` above `stock`, the stock product last announced (`409
/// insufficient_stock`, with what can be ordered). An unknown stock refuses nothing. The
/// replica may lag behind product; an order that gets past it on a stock already taken is
/// cancelled and refunded on its `StockShortage`.
pub fn within_stock(name: &str, stock: Option<i32>, qty: i32) -> Result<(), ApiError> {
    let Some(stock) = stock.filter(|&stock| qty > stock) else {
        return Ok(());
    };
    let message = match stock {
        ..=0 => format!("{name} is sold out; it can be ordered again once the seller restocks it"),
        1 => format!("only 1 of {name} is left; order at most 1"),
        _ => format!("only {stock} of {name} are left; order at most {stock}"),
    };
    Err(ApiError::conflict("insufficient_stock", message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_states_stick() {
        for from in OrderStatus::ALL.iter().filter(|s| s.is_terminal()) {
            for to in OrderStatus::ALL {
                assert!(!from.can_become(*to), "{from:?} -> {to:?}");
            }
        }
    }

    #[test]
    fn the_delivery_path_only_moves_forward() {
        assert!(OrderStatus::Pending.can_become(OrderStatus::Placed));
        assert!(OrderStatus::Placed.can_become(OrderStatus::DeliveryRequested));
        assert!(OrderStatus::Pending.can_become(OrderStatus::DeliveryRequested));
        assert!(OrderStatus::Shipping.can_become(OrderStatus::Delivered));
        assert!(!OrderStatus::Shipping.can_become(OrderStatus::DeliveryRequested));
        assert!(!OrderStatus::Placed.can_become(OrderStatus::Placed));
        assert!(!OrderStatus::Pending.customer_may_cancel());
        assert!(!OrderStatus::Delivered.customer_may_cancel());
        assert!(!OrderStatus::CancelRequested.customer_may_cancel());
        assert!(OrderStatus::Shipping.customer_may_cancel());
        assert!(OrderStatus::Shipping.can_become(OrderStatus::CancelRequested));
        // Delivered before the cancellation reached delivery: the cancellation is refused.
        assert!(OrderStatus::CancelRequested.can_become(OrderStatus::Delivered));
        assert!(!OrderStatus::Cancelled.can_become(OrderStatus::Delivered));
    }

    #[test]
    fn a_delivery_event_contradicts_only_what_cannot_follow() {
        use DeliveryStatus as D;
        use OrderStatus as O;
        for order in OrderStatus::ALL {
            let cancelling = matches!(order, O::CancelRequested | O::Cancelled);
            assert_eq!(order.contradicted_by(D::Cancelled).is_some(), !cancelling);
            assert_eq!(
                order.contradicted_by(D::Completed).is_some(),
                *order == O::Cancelled
            );
            assert!(order.contradicted_by(D::Requested).is_none());
            assert!(order.contradicted_by(D::Started).is_none(), "late: {order}");
            // What is not contradicted either moves the order or changes nothing.
            assert!(
                order.contradicted_by(D::Cancelled).is_some()
                    || *order == O::Cancelled
                    || order.can_become(O::Cancelled)
            );
        }
    }

    #[test]
    fn a_cancellation_is_recorded_under_the_contract_s_spelling() {
        for reason in CancelReason::ALL {
            assert_eq!(Reason::from(*reason).as_str(), reason.as_str());
        }
    }

    #[test]
    fn the_seed_siege_body_is_a_valid_order() {
        let order = NewOrder::parse(1, 5, 7, None, None).unwrap();
        assert_eq!(order.customer_id, 7);
        assert_eq!(order.address, DEFAULT_ADDRESS);
    }

    #[test]
    fn a_quantity_above_the_stock_is_refused_with_what_can_be_ordered() {
        assert!(within_stock("Bibimbap kit", Some(20), 20).is_ok());
        assert!(
            within_stock("Bibimbap kit", None, 100).is_ok(),
            "stock unknown"
        );
        let refused = within_stock("Bibimbap kit", Some(20), 21).unwrap_err();
        assert_eq!(
            (refused.status.as_u16(), refused.code),
            (409, "insufficient_stock")
        );
        assert_eq!(
            refused.message,
            "only 20 of Bibimbap kit are left; order at most 20"
        );
        let last = within_stock("Bibimbap kit", Some(1), 2).unwrap_err();
        assert_eq!(
            last.message,
            "only 1 of Bibimbap kit is left; order at most 1"
        );
        let none = within_stock("Bibimbap kit", Some(0), 1).unwrap_err();
        assert!(none.message.contains("sold out"), "{}", none.message);
    }

    #[test]
    fn bad_values_are_refused() {
        for bad in [
            NewOrder::parse(1, 0, 7, None, None),
            NewOrder::parse(1, -1, 7, None, None),
            NewOrder::parse(1, 101, 7, None, None),
            NewOrder::parse(0, 1, 7, None, None),
            NewOrder::parse(1, 1, -4, None, None),
            NewOrder::parse(1, 1, 7, Some(" "), None),
            NewOrder::parse(1, 1, 7, None, Some("not a card")),
        ] {
            assert_eq!(bad.unwrap_err().status.as_u16(), 422);
        }
    }
}
