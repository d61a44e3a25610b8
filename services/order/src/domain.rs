//! The order and its status machine. No I/O.

use platform::ApiError;
use platform::extract::{card_number, check};

pub const MAX_QTY: i64 = 100;
/// Customer of orders that name none (the seed's `siege` body is `{"productId":1,"qty":5}`).
pub const GUEST_CUSTOMER: i64 = 0;
pub const DEFAULT_ADDRESS: &str = "pick-up at the store";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Placed,
    DeliveryRequested,
    Shipping,
    Delivered,
    Rejected,
    CancelRequested,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::Pending,
        Status::Placed,
        Status::DeliveryRequested,
        Status::Shipping,
        Status::Delivered,
        Status::Rejected,
        Status::CancelRequested,
        Status::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::Placed => "PLACED",
            Status::DeliveryRequested => "DELIVERY_REQUESTED",
            Status::Shipping => "SHIPPING",
            Status::Delivered => "DELIVERED",
            Status::Rejected => "REJECTED",
            Status::CancelRequested => "CANCEL_REQUESTED",
            Status::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Status::Delivered | Status::Rejected | Status::Cancelled
        )
    }

    /// Where an order may be for a move to `self`. The delivery path only moves forward, and may
    /// skip steps: events of other topics can overtake each other (a `DeliveryRequested` may
    /// arrive while the order is still `PENDING`, its payment answer in flight).
    pub fn reachable_from(self) -> &'static [&'static str] {
        match self {
            Status::Pending => &[],
            Status::Placed => &["PENDING"],
            Status::DeliveryRequested => &["PENDING", "PLACED"],
            Status::Shipping => &["PENDING", "PLACED", "DELIVERY_REQUESTED"],
            Status::Delivered => &["PENDING", "PLACED", "DELIVERY_REQUESTED", "SHIPPING"],
            Status::Rejected => &["PENDING"],
            // PENDING only for a stock shortage that overtook the payment's answer; customers
            // cancel only what `customer_may_cancel` allows.
            Status::CancelRequested => &["PENDING", "PLACED", "DELIVERY_REQUESTED", "SHIPPING"],
            Status::Cancelled => &[
                "PLACED",
                "DELIVERY_REQUESTED",
                "SHIPPING",
                "CANCEL_REQUESTED",
            ],
        }
    }

    /// Whether a customer may ask to cancel an order in this state.
    pub fn customer_may_cancel(self) -> bool {
        matches!(
            self,
            Status::Placed | Status::DeliveryRequested | Status::Shipping
        )
    }

    pub fn can_become(self, next: Status) -> bool {
        next.reachable_from().contains(&self.as_str())
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
        customer_id: Option<i64>,
        address: Option<&str>,
        card: Option<&str>,
    ) -> Result<Self, ApiError> {
        check::positive("productId", product_id)?;
        check::range("qty", qty, 1, MAX_QTY)?;
        let customer_id = match customer_id {
            Some(id) => {
                check::positive("customerId", id)?;
                id
            }
            None => GUEST_CUSTOMER,
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_states_stick() {
        for from in Status::ALL.into_iter().filter(|s| s.is_terminal()) {
            for to in Status::ALL {
                assert!(!from.can_become(to), "{from:?} -> {to:?}");
            }
        }
    }

    #[test]
    fn the_delivery_path_only_moves_forward() {
        assert!(Status::Pending.can_become(Status::Placed));
        assert!(Status::Placed.can_become(Status::DeliveryRequested));
        assert!(Status::Pending.can_become(Status::DeliveryRequested));
        assert!(Status::Shipping.can_become(Status::Delivered));
        assert!(!Status::Shipping.can_become(Status::DeliveryRequested));
        assert!(!Status::Placed.can_become(Status::Placed));
        assert!(!Status::Pending.customer_may_cancel());
        assert!(!Status::Delivered.customer_may_cancel());
        assert!(!Status::CancelRequested.customer_may_cancel());
        assert!(Status::Shipping.customer_may_cancel());
        assert!(Status::Shipping.can_become(Status::CancelRequested));
    }

    #[test]
    fn the_seed_siege_body_is_a_valid_order() {
        let order = NewOrder::parse(1, 5, None, None, None).unwrap();
        assert_eq!(order.customer_id, GUEST_CUSTOMER);
        assert_eq!(order.address, DEFAULT_ADDRESS);
    }

    #[test]
    fn bad_values_are_refused() {
        for bad in [
            NewOrder::parse(1, 0, None, None, None),
            NewOrder::parse(1, -1, None, None, None),
            NewOrder::parse(1, 101, None, None, None),
            NewOrder::parse(0, 1, None, None, None),
            NewOrder::parse(1, 1, Some(-4), None, None),
            NewOrder::parse(1, 1, None, Some(" "), None),
            NewOrder::parse(1, 1, None, None, Some("not a card")),
        ] {
            assert_eq!(bad.unwrap_err().status.as_u16(), 422);
        }
    }
}
