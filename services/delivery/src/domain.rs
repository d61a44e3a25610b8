//! A delivery's status is the contract's [`DeliveryStatus`] (its lifecycle lives there, since
//! order and the seller page follow it); what is delivery's own is which event announces each.

use contracts::{DeliveryChanged, DeliveryStatus, Event};

/// The event announcing a delivery that is now in `change.status`.
pub fn announcement(change: DeliveryChanged) -> Event {
    match change.status {
        DeliveryStatus::Requested => Event::DeliveryRequested(change),
        DeliveryStatus::Started => Event::DeliveryStarted(change),
        DeliveryStatus::Completed => Event::DeliveryCompleted(change),
        DeliveryStatus::Cancelled => Event::DeliveryCancelled(change),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_status_has_its_own_event() {
        let mut types: Vec<&str> = DeliveryStatus::ALL
            .iter()
            .map(|status| {
                announcement(DeliveryChanged {
                    delivery_id: 1,
                    order_id: 1,
                    customer_id: 1,
                    seller_id: 1,
                    status: *status,
                })
                .event_type()
            })
            .collect();
        types.dedup();
        assert_eq!(types.len(), DeliveryStatus::ALL.len());
    }
}
