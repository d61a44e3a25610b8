use chrono::{DateTime, Utc};
use contracts::Event;
use serde::Serialize;

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
    pub placed_at: Option<DateTime<Utc>>,
    pub payment_status: Option<String>,
    pub delivery_status: Option<String>,
    pub stock_status: Option<String>,
    pub cancel_reason: Option<String>,
    pub cancel_requested_at: Option<DateTime<Utc>>,
    pub payment_cancelled_at: Option<DateTime<Utc>>,
    pub delivery_cancelled_at: Option<DateTime<Utc>>,
    pub stock_restored_at: Option<DateTime<Utc>>,
}

fn delivery_rank(status: Option<&str>) -> u8 {
    match status {
        None => 0,
        Some("REQUESTED") => 1,
        Some("STARTED") => 2,
        Some("COMPLETED" | "CANCELLED") => 3,
        Some(_) => 0,
    }
}

fn stock_rank(status: Option<&str>) -> u8 {
    match status {
        None => 0,
        Some("DECREASED" | "SHORTAGE") => 1,
        Some("RESTORED") => 2,
        Some(_) => 0,
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
                keep(&mut self.placed_at, at);
            }
            Event::OrderCancelled(e) => {
                self.seller_id = Some(e.seller_id);
                keep(&mut self.customer_id, e.customer_id);
                keep(&mut self.product_id, e.product_id);
                keep(&mut self.qty, e.qty);
                keep(&mut self.cancel_reason, e.reason.clone());
                keep(&mut self.cancel_requested_at, at);
            }
            Event::PaymentCompleted(e) => {
                self.seller_id = Some(e.seller_id);
                keep(&mut self.customer_id, e.customer_id);
                keep(&mut self.product_id, e.product_id);
                keep(&mut self.qty, e.qty);
                keep(&mut self.amount, e.amount);
                keep(&mut self.payment_status, "APPROVED".to_owned());
            }
            Event::PaymentCancelled(_) => {
                self.payment_status = Some("CANCELLED".to_owned());
                keep(&mut self.payment_cancelled_at, at);
            }
            Event::DeliveryRequested(e)
            | Event::DeliveryStarted(e)
            | Event::DeliveryCompleted(e)
            | Event::DeliveryCancelled(e) => {
                self.seller_id = Some(e.seller_id);
                keep(&mut self.customer_id, e.customer_id);
                if delivery_rank(Some(&e.status)) > delivery_rank(self.delivery_status.as_deref()) {
                    self.delivery_status = Some(e.status.clone());
                }
                if e.status == "CANCELLED" {
                    keep(&mut self.delivery_cancelled_at, at);
                }
            }
            Event::StockDecreased(_) | Event::StockShortage(_) | Event::StockRestored(_) => {
                let (status, restored) = match event {
                    Event::StockDecreased(_) => ("DECREASED", false),
                    Event::StockShortage(_) => ("SHORTAGE", false),
                    _ => ("RESTORED", true),
                };
                if stock_rank(Some(status)) > stock_rank(self.stock_status.as_deref()) {
                    self.stock_status = Some(status.to_owned());
                }
                if restored {
                    keep(&mut self.stock_restored_at, at);
                }
            }
            _ => {}
        }
    }

    /// Progress of the cancellation, if one was requested: `REQUESTED`, `PAYMENT_CANCELLED`,
    /// `DELIVERY_CANCELLED`, then `CANCELLED` once the stock the order took is back too (an
    /// order that took none, sold out say, has nothing to wait for).
    pub fn cancellation_status(&self) -> Option<&'static str> {
        self.cancel_requested_at?;
        let stock_pending = self.stock_status.as_deref() == Some("DECREASED");
        Some(
            match (self.payment_cancelled_at, self.delivery_cancelled_at) {
                (_, Some(_)) if !stock_pending => "CANCELLED",
                (_, Some(_)) => "DELIVERY_CANCELLED",
                (Some(_), None) => "PAYMENT_CANCELLED",
                (None, None) => "REQUESTED",
            },
        )
    }

    /// The order's overall status as the seller sees it.
    pub fn status(&self) -> &'static str {
        match (self.delivery_status.as_deref(), self.cancel_requested_at) {
            (Some("CANCELLED"), _) => "CANCELLED",
            (Some("COMPLETED"), _) => "DELIVERED",
            (_, Some(_)) => "CANCEL_REQUESTED",
            (Some("STARTED"), _) => "SHIPPING",
            (Some("REQUESTED"), _) => "DELIVERY_REQUESTED",
            _ if self.placed_at.is_some() || self.payment_status.is_some() => "PLACED",
            _ => "PENDING",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use contracts::*;

    fn events() -> Vec<Event> {
        let d = |status: &str| DeliveryChanged {
            delivery_id: 1,
            order_id: 5,
            customer_id: 2,
            seller_id: 3,
            status: status.into(),
        };
        vec![
            Event::OrderPlaced(OrderPlaced {
                order_id: 5,
                customer_id: 2,
                seller_id: 3,
                product_id: 4,
                product_name: "Kit".into(),
                qty: 1,
                amount: 100,
                address: "Seoul".into(),
            }),
            Event::PaymentCompleted(PaymentCompleted {
                payment_id: 9,
                order_id: 5,
                customer_id: 2,
                seller_id: 3,
                product_id: 4,
                qty: 1,
                amount: 100,
                address: "Seoul".into(),
            }),
            Event::StockDecreased(StockDecreased {
                order_id: 5,
                product_id: 4,
                qty: 1,
                remaining: 0,
            }),
            Event::DeliveryRequested(d("REQUESTED")),
            Event::DeliveryStarted(d("STARTED")),
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
        assert_eq!(forward.status(), "SHIPPING");
        assert_eq!(forward.seller_id, Some(3));
        assert_eq!(forward.stock_status.as_deref(), Some("DECREASED"));
    }

    #[test]
    fn a_later_delivery_state_is_never_undone() {
        let at = Utc::now();
        let mut view = SellerOrder::new(5);
        let evs = events();
        view.apply(&evs[4], at);
        view.apply(&evs[3], at);
        assert_eq!(view.delivery_status.as_deref(), Some("STARTED"));
    }

    #[test]
    fn a_cancellation_progresses_whatever_order_its_events_arrive_in() {
        let at = Utc::now();
        let cancelled = Event::OrderCancelled(OrderCancelled {
            order_id: 5,
            customer_id: 2,
            seller_id: 3,
            product_id: 4,
            qty: 1,
            reason: "CUSTOMER_REQUEST".into(),
        });
        let payment = Event::PaymentCancelled(PaymentCancelled {
            payment_id: 9,
            order_id: 5,
            product_id: 4,
            qty: 1,
            amount: 100,
        });
        let delivery = Event::DeliveryCancelled(DeliveryChanged {
            delivery_id: 1,
            order_id: 5,
            customer_id: 2,
            seller_id: 3,
            status: "CANCELLED".into(),
        });
        let restored = Event::StockRestored(StockRestored {
            order_id: 5,
            product_id: 4,
            qty: 1,
            remaining: 5,
        });
        let mut view = SellerOrder::new(5);
        for e in events()
            .iter()
            .chain([&delivery, &restored, &payment, &cancelled])
        {
            view.apply(e, at);
        }
        assert_eq!(view.cancellation_status(), Some("CANCELLED"));
        assert_eq!(view.status(), "CANCELLED");
        assert_eq!(view.stock_status.as_deref(), Some("RESTORED"));
        assert_eq!(view.cancel_reason.as_deref(), Some("CUSTOMER_REQUEST"));
        let mut partial = SellerOrder::new(5);
        partial.apply(&payment, at);
        assert_eq!(partial.cancellation_status(), None, "no request seen yet");
        partial.apply(&cancelled, at);
        assert_eq!(partial.cancellation_status(), Some("PAYMENT_CANCELLED"));
        let mut waiting_for_stock = SellerOrder::new(5);
        for e in events().iter().chain([&cancelled, &payment, &delivery]) {
            waiting_for_stock.apply(e, at);
        }
        assert_eq!(
            waiting_for_stock.cancellation_status(),
            Some("DELIVERY_CANCELLED")
        );
        waiting_for_stock.apply(&restored, at);
        assert_eq!(waiting_for_stock.cancellation_status(), Some("CANCELLED"));
    }
}
