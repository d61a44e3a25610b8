//! A seller's view of one order, folded from events in any order. No I/O.

use chrono::{DateTime, Utc};
use contracts::{CancelReason, DeliveryStatus, Event, PaymentStatus};
use serde::Serialize;

contracts::labels! {
    /// What an order did to the stock, as the seller page has heard.
    pub enum StockStatus {
        Decreased = "DECREASED",
        Shortage = "SHORTAGE",
        Restored = "RESTORED",
    }
}

impl StockStatus {
    fn progress(self) -> u8 {
        match self {
            StockStatus::Decreased | StockStatus::Shortage => 1,
            StockStatus::Restored => 2,
        }
    }
}

contracts::labels! {
    /// The order's state as the seller sees it (the order service's states but `REJECTED`,
    /// which the seller never hears of).
    pub enum SellerOrderStatus {
        Pending = "PENDING",
        Placed = "PLACED",
        DeliveryRequested = "DELIVERY_REQUESTED",
        Shipping = "SHIPPING",
        Delivered = "DELIVERED",
        CancelRequested = "CANCEL_REQUESTED",
        Cancelled = "CANCELLED",
    }
}

contracts::labels! {
    /// How far a cancellation has come: requested, delivery cancelled, payment refunded, then
    /// cancelled once the stock the order took is back; or refused, the goods having been
    /// delivered before the cancellation reached delivery.
    pub enum CancellationStep {
        Requested = "REQUESTED",
        DeliveryCancelled = "DELIVERY_CANCELLED",
        PaymentCancelled = "PAYMENT_CANCELLED",
        Cancelled = "CANCELLED",
        Refused = "REFUSED",
    }
}

/// A seller's view of one order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SellerOrder {
    pub order_id: i64,
    pub seller_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub product_id: Option<i64>,
    pub product_name: Option<String>,
    pub qty: Option<i32>,
    pub amount: Option<i64>,
    /// Where to ship it.
    pub address: Option<String>,
    pub placed_at: Option<DateTime<Utc>>,
    pub payment_status: Option<PaymentStatus>,
    pub delivery_status: Option<DeliveryStatus>,
    pub stock_status: Option<StockStatus>,
    pub cancel_reason: Option<CancelReason>,
    pub cancel_requested_at: Option<DateTime<Utc>>,
    pub payment_cancelled_at: Option<DateTime<Utc>>,
    pub delivery_cancelled_at: Option<DateTime<Utc>>,
    pub stock_restored_at: Option<DateTime<Utc>>,
}

/// Sets `slot` to `status` unless it holds one as far along already.
fn advance<T: Copy>(slot: &mut Option<T>, status: T, progress: fn(T) -> u8) {
    if slot.is_none_or(|current| progress(status) > progress(current)) {
        *slot = Some(status);
    }
}

fn keep<T>(slot: &mut Option<T>, value: T) {
    if slot.is_none() {
        *slot = Some(value);
    }
}

impl SellerOrder {
    pub fn new(order_id: i64) -> Self {
        Self {
            order_id,
            ..Self::default()
        }
    }

    /// Why `event` cannot be about this order, if it cannot: it names another customer or
    /// seller than the ones already known. Every event of an order names the same two, so the
    /// read side never hands an order (its journey, its seller's page) to someone else.
    pub fn contradiction(&self, event: &Event) -> Option<String> {
        let (customer, seller) = parties(event)?;
        let known = |slot: Option<i64>, named: i64| slot.is_some_and(|id| id != named);
        if known(self.customer_id, customer) || known(self.seller_id, seller) {
            return Some(format!(
                "order {} is customer {}'s of seller {}; {} names customer {customer} of \
                 seller {seller}",
                self.order_id,
                self.customer_id.map_or("?".into(), |id| id.to_string()),
                self.seller_id.map_or("?".into(), |id| id.to_string()),
                event.event_type()
            ));
        }
        None
    }

    /// Folds `event` (which happened at `at`) into the view. Commutes with every other event
    /// of the same order, so arrival order across topics does not matter.
    pub fn apply(&mut self, event: &Event, at: DateTime<Utc>) {
        match event {
            Event::OrderPlaced(e) => {
                self.seller_id = Some(e.seller_id);
                self.customer_id = Some(e.customer_id);
                self.product_id = Some(e.product_id);
                self.product_name = Some(e.product_name.clone());
                self.qty = Some(e.qty);
                self.amount = Some(e.amount);
                self.address = Some(e.address.clone());
                keep(&mut self.placed_at, at);
            }
            Event::OrderCancelled(e) => {
                self.seller_id = Some(e.seller_id);
                keep(&mut self.customer_id, e.customer_id);
                keep(&mut self.product_id, e.product_id);
                keep(&mut self.qty, e.qty);
                keep(&mut self.cancel_reason, e.reason);
                keep(&mut self.cancel_requested_at, at);
            }
            Event::PaymentCompleted(e) => {
                self.seller_id = Some(e.seller_id);
                keep(&mut self.customer_id, e.customer_id);
                keep(&mut self.product_id, e.product_id);
                keep(&mut self.qty, e.qty);
                keep(&mut self.amount, e.amount);
                keep(&mut self.payment_status, PaymentStatus::Approved);
            }
            Event::PaymentCancelled(_) => {
                self.payment_status = Some(PaymentStatus::Cancelled);
                keep(&mut self.payment_cancelled_at, at);
            }
            Event::DeliveryRequested(e)
            | Event::DeliveryStarted(e)
            | Event::DeliveryCompleted(e)
            | Event::DeliveryCancelled(e) => {
                self.seller_id = Some(e.seller_id);
                keep(&mut self.customer_id, e.customer_id);
                advance(
                    &mut self.delivery_status,
                    e.status,
                    DeliveryStatus::progress,
                );
                if e.status == DeliveryStatus::Cancelled {
                    keep(&mut self.delivery_cancelled_at, at);
                }
            }
            Event::StockDecreased(_) | Event::StockShortage(_) | Event::StockRestored(_) => {
                let status = match event {
                    Event::StockDecreased(_) => StockStatus::Decreased,
                    Event::StockShortage(_) => StockStatus::Shortage,
                    _ => StockStatus::Restored,
                };
                advance(&mut self.stock_status, status, StockStatus::progress);
                if status == StockStatus::Restored {
                    keep(&mut self.stock_restored_at, at);
                }
            }
            _ => {}
        }
    }

    /// Progress of the cancellation, if one was requested: `REQUESTED`, `DELIVERY_CANCELLED`,
    /// `PAYMENT_CANCELLED` (refunded), then `CANCELLED` once the stock the order took is back too
    /// (an order that took none, sold out say, has nothing to wait for); `REFUSED` when the
    /// delivery was completed first.
    pub fn cancellation_status(&self) -> Option<CancellationStep> {
        self.cancel_requested_at?;
        if self.delivery_status == Some(DeliveryStatus::Completed) {
            return Some(CancellationStep::Refused);
        }
        let stock_pending = self.stock_status == Some(StockStatus::Decreased);
        Some(
            match (self.delivery_cancelled_at, self.payment_cancelled_at) {
                (Some(_), Some(_)) if !stock_pending => CancellationStep::Cancelled,
                (_, Some(_)) => CancellationStep::PaymentCancelled,
                (Some(_), None) => CancellationStep::DeliveryCancelled,
                (None, None) => CancellationStep::Requested,
            },
        )
    }

    /// The order's overall status as the seller sees it.
    pub fn status(&self) -> SellerOrderStatus {
        use SellerOrderStatus::*;
        match (self.delivery_status, self.cancel_requested_at) {
            (Some(DeliveryStatus::Cancelled), _) => Cancelled,
            (Some(DeliveryStatus::Completed), _) => Delivered,
            (_, Some(_)) => CancelRequested,
            (Some(DeliveryStatus::Started), _) => Shipping,
            (Some(DeliveryStatus::Requested), _) => DeliveryRequested,
            _ if self.placed_at.is_some() || self.payment_status.is_some() => Placed,
            _ => Pending,
        }
    }
}

/// The customer and seller an event names, if it names them.
fn parties(event: &Event) -> Option<(i64, i64)> {
    match event {
        Event::OrderPlaced(e) => Some((e.customer_id, e.seller_id)),
        Event::OrderCancelled(e) => Some((e.customer_id, e.seller_id)),
        Event::PaymentCompleted(e) => Some((e.customer_id, e.seller_id)),
        Event::DeliveryRequested(e)
        | Event::DeliveryStarted(e)
        | Event::DeliveryCompleted(e)
        | Event::DeliveryCancelled(e) => Some((e.customer_id, e.seller_id)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_events::*;

    fn events() -> Vec<Event> {
        vec![
            placed(),
            paid(),
            stock_taken(),
            delivery(DeliveryStatus::Requested),
            delivery(DeliveryStatus::Started),
        ]
    }

    #[test]
    fn arrival_order_does_not_change_the_view() {
        let at = Utc::now();
        let mut forward = SellerOrder::new(5);
        for e in events() {
            forward.apply(&e, at);
        }
        let mut backward = SellerOrder::new(5);
        for e in events().iter().rev() {
            backward.apply(e, at);
        }
        assert_eq!(forward, backward);
        assert_eq!(forward.status(), SellerOrderStatus::Shipping);
        assert_eq!(forward.seller_id, Some(3));
        assert_eq!(forward.stock_status, Some(StockStatus::Decreased));
    }

    #[test]
    fn a_later_delivery_state_is_never_undone() {
        let at = Utc::now();
        let mut view = SellerOrder::new(5);
        let evs = events();
        view.apply(&evs[4], at);
        view.apply(&evs[3], at);
        assert_eq!(view.delivery_status, Some(DeliveryStatus::Started));
    }

    #[test]
    fn a_cancellation_progresses_whatever_order_its_events_arrive_in() {
        let at = Utc::now();
        let cancelled = customer_cancelled();
        let payment = refunded();
        let delivery = delivery(DeliveryStatus::Cancelled);
        let restored = stock_restored();
        let mut view = SellerOrder::new(5);
        for e in events()
            .iter()
            .chain([&delivery, &restored, &payment, &cancelled])
        {
            view.apply(e, at);
        }
        assert_eq!(
            view.cancellation_status(),
            Some(CancellationStep::Cancelled)
        );
        assert_eq!(view.status(), SellerOrderStatus::Cancelled);
        assert_eq!(view.stock_status, Some(StockStatus::Restored));
        assert_eq!(view.cancel_reason, Some(CancelReason::CustomerRequest));
        let mut partial = SellerOrder::new(5);
        partial.apply(&payment, at);
        assert_eq!(partial.cancellation_status(), None, "no request seen yet");
        partial.apply(&cancelled, at);
        assert_eq!(
            partial.cancellation_status(),
            Some(CancellationStep::PaymentCancelled)
        );
        let mut waiting_for_stock = SellerOrder::new(5);
        for e in events().iter().chain([&cancelled, &delivery]) {
            waiting_for_stock.apply(e, at);
        }
        assert_eq!(
            waiting_for_stock.cancellation_status(),
            Some(CancellationStep::DeliveryCancelled)
        );
        waiting_for_stock.apply(&payment, at);
        assert_eq!(
            waiting_for_stock.cancellation_status(),
            Some(CancellationStep::PaymentCancelled),
            "refunded, the stock not back yet"
        );
        waiting_for_stock.apply(&restored, at);
        assert_eq!(
            waiting_for_stock.cancellation_status(),
            Some(CancellationStep::Cancelled)
        );
    }

    #[test]
    fn a_cancellation_the_delivery_overtook_is_refused() {
        let at = Utc::now();
        let cancelled = customer_cancelled();
        let completed = delivery(DeliveryStatus::Completed);
        for arrival in [[&cancelled, &completed], [&completed, &cancelled]] {
            let mut view = SellerOrder::new(5);
            for e in events().iter().chain(arrival) {
                view.apply(e, at);
            }
            assert_eq!(view.cancellation_status(), Some(CancellationStep::Refused));
            assert_eq!(view.status(), SellerOrderStatus::Delivered);
        }
    }

    #[test]
    fn an_order_s_owners_never_change_once_known() {
        let mut view = SellerOrder::new(5);
        assert_eq!(view.contradiction(&placed()), None, "nobody known yet");
        view.apply(&paid(), Utc::now());
        for e in events() {
            assert_eq!(view.contradiction(&e), None, "{e:?}");
        }
        let mut other_customer = placed();
        if let Event::OrderPlaced(e) = &mut other_customer {
            e.customer_id = 99;
        }
        let why = view.contradiction(&other_customer).expect("refused");
        assert!(why.contains("customer 2's of seller 3"), "{why}");
        let mut other_seller = delivery(DeliveryStatus::Started);
        if let Event::DeliveryStarted(e) = &mut other_seller {
            e.seller_id = 98;
        }
        assert!(view.contradiction(&other_seller).is_some());
        assert_eq!(view.contradiction(&stock_taken()), None, "names nobody");
    }
}
