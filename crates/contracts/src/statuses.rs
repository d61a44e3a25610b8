//! The statuses that cross service boundaries: a delivery's (carried by every `Delivery*`
//! event) and a payment's (what the synchronous charge answers).

crate::labels! {
    /// A delivery's status: `REQUESTED` → `STARTED` → `COMPLETED`, or `CANCELLED` from either
    /// of the first two. `COMPLETED` and `CANCELLED` are final.
    pub enum DeliveryStatus {
        Requested = "REQUESTED",
        Started = "STARTED",
        Completed = "COMPLETED",
        Cancelled = "CANCELLED",
    }
}

impl DeliveryStatus {
    /// The states a delivery may be in for a move to `self`.
    pub fn reachable_from(self) -> &'static [DeliveryStatus] {
        match self {
            DeliveryStatus::Requested => &[],
            DeliveryStatus::Started => &[DeliveryStatus::Requested],
            DeliveryStatus::Completed => &[DeliveryStatus::Started],
            DeliveryStatus::Cancelled => &[DeliveryStatus::Requested, DeliveryStatus::Started],
        }
    }

    pub fn can_become(self, next: DeliveryStatus) -> bool {
        next.reachable_from().contains(&self)
    }

    pub fn is_final(self) -> bool {
        matches!(self, DeliveryStatus::Completed | DeliveryStatus::Cancelled)
    }

    /// How far along its path a delivery is: a consumer that sees the statuses out of order
    /// keeps the furthest. Both final states rank last.
    pub fn progress(self) -> u8 {
        match self {
            DeliveryStatus::Requested => 1,
            DeliveryStatus::Started => 2,
            DeliveryStatus::Completed | DeliveryStatus::Cancelled => 3,
        }
    }
}

/// The delivery status a `Delivery*` event announces; `None` for any other event.
pub(crate) fn announced_by(event: &crate::Event) -> Option<DeliveryStatus> {
    use crate::Event;
    match event {
        Event::DeliveryRequested(_) => Some(DeliveryStatus::Requested),
        Event::DeliveryStarted(_) => Some(DeliveryStatus::Started),
        Event::DeliveryCompleted(_) => Some(DeliveryStatus::Completed),
        Event::DeliveryCancelled(_) => Some(DeliveryStatus::Cancelled),
        _ => None,
    }
}

crate::labels! {
    /// Why an order is cancelled (`OrderCancelled`): the customer asked, or the stock ran out
    /// after the payment.
    pub enum CancelReason {
        CustomerRequest = "CUSTOMER_REQUEST",
        OutOfStock = "OUT_OF_STOCK",
    }
}

crate::labels! {
    /// A payment's status: `APPROVED` or `DECLINED` when charged; an approved one becomes
    /// `CANCELLED` when its order is cancelled.
    pub enum PaymentStatus {
        Approved = "APPROVED",
        Declined = "DECLINED",
        Cancelled = "CANCELLED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_delivery_states_have_no_way_out() {
        for from in DeliveryStatus::ALL.iter().filter(|s| s.is_final()) {
            for to in DeliveryStatus::ALL {
                assert!(!from.can_become(*to), "{from} -> {to}");
            }
        }
        assert!(DeliveryStatus::Started.can_become(DeliveryStatus::Completed));
        assert!(!DeliveryStatus::Requested.can_become(DeliveryStatus::Completed));
    }
}
