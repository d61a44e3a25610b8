//! The event catalog. Ids are integers, money is integer KRW, field names are camelCase.

use serde::{Deserialize, Serialize};

use crate::{CancelReason, DeliveryStatus, Topic};

/// Every event of the catalog, tagged by `eventType` with its fields under `payload`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "eventType", content = "payload")]
pub enum Event {
    ProductRegistered(ProductRegistered),
    ProductUpdated(ProductUpdated),
    StockDecreased(StockDecreased),
    StockShortage(StockShortage),
    StockRestored(StockRestored),
    OrderPlaced(OrderPlaced),
    OrderCancelled(OrderCancelled),
    PaymentCompleted(PaymentCompleted),
    PaymentCancelled(PaymentCancelled),
    DeliveryRequested(DeliveryChanged),
    DeliveryStarted(DeliveryChanged),
    DeliveryCompleted(DeliveryChanged),
    DeliveryCancelled(DeliveryChanged),
    CustomerNotified(Notified),
    SellerNotified(Notified),
    /// An event type this build does not know (published by a newer producer).
    #[serde(other)]
    Unknown,
}

/// Every event type of the catalog.
pub const EVENT_TYPES: [&str; 15] = [
    "ProductRegistered",
    "ProductUpdated",
    "StockDecreased",
    "StockShortage",
    "StockRestored",
    "OrderPlaced",
    "OrderCancelled",
    "PaymentCompleted",
    "PaymentCancelled",
    "DeliveryRequested",
    "DeliveryStarted",
    "DeliveryCompleted",
    "DeliveryCancelled",
    "CustomerNotified",
    "SellerNotified",
];

impl Event {
    pub fn is_known_type(event_type: &str) -> bool {
        EVENT_TYPES.contains(&event_type)
    }

    /// The payment, when this is `PaymentCompleted` (what the saga's consumers mostly get).
    pub fn as_payment_completed(&self) -> Option<&PaymentCompleted> {
        match self {
            Event::PaymentCompleted(paid) => Some(paid),
            _ => None,
        }
    }

    pub fn event_type(&self) -> &'static str {
        match self {
            Event::ProductRegistered(_) => "ProductRegistered",
            Event::ProductUpdated(_) => "ProductUpdated",
            Event::StockDecreased(_) => "StockDecreased",
            Event::StockShortage(_) => "StockShortage",
            Event::StockRestored(_) => "StockRestored",
            Event::OrderPlaced(_) => "OrderPlaced",
            Event::OrderCancelled(_) => "OrderCancelled",
            Event::PaymentCompleted(_) => "PaymentCompleted",
            Event::PaymentCancelled(_) => "PaymentCancelled",
            Event::DeliveryRequested(_) => "DeliveryRequested",
            Event::DeliveryStarted(_) => "DeliveryStarted",
            Event::DeliveryCompleted(_) => "DeliveryCompleted",
            Event::DeliveryCancelled(_) => "DeliveryCancelled",
            Event::CustomerNotified(_) => "CustomerNotified",
            Event::SellerNotified(_) => "SellerNotified",
            Event::Unknown => "Unknown",
        }
    }

    pub fn topic(&self) -> Topic {
        match self {
            Event::ProductRegistered(_)
            | Event::ProductUpdated(_)
            | Event::StockDecreased(_)
            | Event::StockShortage(_)
            | Event::StockRestored(_) => Topic::Product,
            Event::OrderPlaced(_) | Event::OrderCancelled(_) => Topic::Order,
            Event::PaymentCompleted(_) | Event::PaymentCancelled(_) => Topic::Payment,
            Event::DeliveryRequested(_)
            | Event::DeliveryStarted(_)
            | Event::DeliveryCompleted(_)
            | Event::DeliveryCancelled(_) => Topic::Delivery,
            Event::CustomerNotified(_) | Event::SellerNotified(_) => Topic::Marketing,
            Event::Unknown => Topic::DeadLetter,
        }
    }

    /// The order this event is about, for order-scoped events.
    pub fn order_id(&self) -> Option<i64> {
        match self {
            Event::ProductRegistered(_) | Event::ProductUpdated(_) | Event::Unknown => None,
            Event::StockDecreased(e) => Some(e.order_id),
            Event::StockShortage(e) => Some(e.order_id),
            Event::StockRestored(e) => Some(e.order_id),
            Event::OrderPlaced(e) => Some(e.order_id),
            Event::OrderCancelled(e) => Some(e.order_id),
            Event::PaymentCompleted(e) => Some(e.order_id),
            Event::PaymentCancelled(e) => Some(e.order_id),
            Event::DeliveryRequested(e)
            | Event::DeliveryStarted(e)
            | Event::DeliveryCompleted(e)
            | Event::DeliveryCancelled(e) => Some(e.order_id),
            Event::CustomerNotified(e) | Event::SellerNotified(e) => Some(e.order_id),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductRegistered {
    pub product_id: i64,
    pub seller_id: i64,
    pub name: String,
    pub price: i64,
    pub stock: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductUpdated {
    pub product_id: i64,
    /// Not in the original catalog; optional so older producers stay readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seller_id: Option<i64>,
    pub name: String,
    pub price: i64,
    pub stock: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StockDecreased {
    pub order_id: i64,
    pub product_id: i64,
    pub qty: i32,
    pub remaining: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StockShortage {
    pub order_id: i64,
    pub product_id: i64,
    pub requested: i32,
    pub available: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StockRestored {
    pub order_id: i64,
    pub product_id: i64,
    pub qty: i32,
    pub remaining: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderPlaced {
    pub order_id: i64,
    pub customer_id: i64,
    pub seller_id: i64,
    pub product_id: i64,
    pub product_name: String,
    pub qty: i32,
    pub amount: i64,
    pub address: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderCancelled {
    pub order_id: i64,
    pub customer_id: i64,
    pub seller_id: i64,
    pub product_id: i64,
    pub qty: i32,
    pub reason: CancelReason,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentCompleted {
    pub payment_id: i64,
    pub order_id: i64,
    pub customer_id: i64,
    pub seller_id: i64,
    pub product_id: i64,
    pub qty: i32,
    pub amount: i64,
    pub address: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentCancelled {
    pub payment_id: i64,
    pub order_id: i64,
    pub product_id: i64,
    pub qty: i32,
    pub amount: i64,
}

/// Payload of every `Delivery*` event; `status` is the delivery's status after the change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryChanged {
    pub delivery_id: i64,
    pub order_id: i64,
    pub customer_id: i64,
    pub seller_id: i64,
    pub status: DeliveryStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notified {
    pub notification_id: i64,
    pub order_id: i64,
    pub kind: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Envelope;

    fn samples() -> Vec<Event> {
        let delivery = DeliveryChanged {
            delivery_id: 3,
            order_id: 42,
            customer_id: 7,
            seller_id: 9,
            status: DeliveryStatus::Requested,
        };
        vec![
            Event::ProductRegistered(ProductRegistered {
                product_id: 1,
                seller_id: 9,
                name: "Bibimbap kit".into(),
                price: 12_900,
                stock: 10,
            }),
            Event::ProductUpdated(ProductUpdated {
                product_id: 1,
                seller_id: Some(9),
                name: "Bibimbap kit".into(),
                price: 13_900,
                stock: 8,
            }),
            Event::StockDecreased(StockDecreased {
                order_id: 42,
                product_id: 1,
                qty: 2,
                remaining: 8,
            }),
            Event::StockShortage(StockShortage {
                order_id: 42,
                product_id: 1,
                requested: 2,
                available: 1,
            }),
            Event::StockRestored(StockRestored {
                order_id: 42,
                product_id: 1,
                qty: 2,
                remaining: 10,
            }),
            Event::OrderPlaced(OrderPlaced {
                order_id: 42,
                customer_id: 7,
                seller_id: 9,
                product_id: 1,
                product_name: "Bibimbap kit".into(),
                qty: 2,
                amount: 25_800,
                address: "Seoul".into(),
            }),
            Event::OrderCancelled(OrderCancelled {
                order_id: 42,
                customer_id: 7,
                seller_id: 9,
                product_id: 1,
                qty: 2,
                reason: CancelReason::CustomerRequest,
            }),
            Event::PaymentCompleted(PaymentCompleted {
                payment_id: 5,
                order_id: 42,
                customer_id: 7,
                seller_id: 9,
                product_id: 1,
                qty: 2,
                amount: 25_800,
                address: "Seoul".into(),
            }),
            Event::PaymentCancelled(PaymentCancelled {
                payment_id: 5,
                order_id: 42,
                product_id: 1,
                qty: 2,
                amount: 25_800,
            }),
            Event::DeliveryRequested(delivery.clone()),
            Event::DeliveryStarted(DeliveryChanged {
                status: DeliveryStatus::Started,
                ..delivery.clone()
            }),
            Event::DeliveryCompleted(DeliveryChanged {
                status: DeliveryStatus::Completed,
                ..delivery.clone()
            }),
            Event::DeliveryCancelled(DeliveryChanged {
                status: DeliveryStatus::Cancelled,
                ..delivery
            }),
            Event::CustomerNotified(Notified {
                notification_id: 11,
                order_id: 42,
                kind: "ORDER_PLACED".into(),
            }),
            Event::SellerNotified(Notified {
                notification_id: 12,
                order_id: 42,
                kind: "CANCEL_REQUESTED".into(),
            }),
        ]
    }

    #[test]
    fn every_event_round_trips_through_its_envelope() {
        assert_eq!(
            samples().len(),
            EVENT_TYPES.len(),
            "a sample of every event type"
        );
        for event in samples() {
            let envelope = Envelope::new("test", event.clone());
            let decoded = Envelope::from_json(envelope.to_json().as_bytes()).unwrap();
            assert_eq!(decoded, envelope);
            assert_eq!(decoded.event_type(), event.event_type());
            assert_ne!(decoded.topic(), crate::Topic::DeadLetter);
            assert!(Event::is_known_type(event.event_type()));
        }
    }

    #[test]
    fn every_sample_keeps_its_contract_and_broken_values_do_not() {
        for event in samples() {
            let envelope = Envelope::new("test", event);
            assert_eq!(envelope.validate(), Ok(()), "{envelope:?}");
        }
        let paid = |qty: i32, amount: i64| {
            Envelope::new(
                "payment",
                Event::PaymentCompleted(PaymentCompleted {
                    payment_id: 5,
                    order_id: 42,
                    customer_id: 0,
                    seller_id: 9,
                    product_id: 1,
                    qty,
                    amount,
                    address: "Seoul".into(),
                }),
            )
        };
        for (broken, reason) in [
            (paid(-5, 100), "qty must be 1 to 100, not -5"),
            (paid(0, 100), "qty must be 1 to 100, not 0"),
            (paid(101, 100), "qty must be 1 to 100, not 101"),
            (paid(1, -1), "amount must not be negative, not -1"),
        ] {
            assert_eq!(broken.validate().unwrap_err().to_string(), reason);
        }
        let mut newer = paid(1, 100);
        newer.version = 2;
        assert!(
            newer
                .validate()
                .unwrap_err()
                .to_string()
                .contains("version 2")
        );
        let mut elsewhere = paid(1, 100);
        elsewhere.order_id = Some(43);
        assert!(elsewhere.validate().is_err());
        let mislabelled = Event::DeliveryStarted(DeliveryChanged {
            delivery_id: 3,
            order_id: 42,
            customer_id: 7,
            seller_id: 9,
            status: DeliveryStatus::Completed,
        });
        assert_eq!(
            mislabelled.validate().unwrap_err().to_string(),
            "a DeliveryStarted carries status COMPLETED"
        );
    }

    #[test]
    fn the_wire_shape_matches_the_design() {
        let envelope = Envelope::new(
            "payment",
            Event::PaymentCancelled(PaymentCancelled {
                payment_id: 5,
                order_id: 42,
                product_id: 1,
                qty: 2,
                amount: 25_800,
            }),
        );
        let json: serde_json::Value = serde_json::from_str(&envelope.to_json()).unwrap();
        assert_eq!(json["eventType"], "PaymentCancelled");
        assert_eq!(json["version"], 1);
        assert_eq!(json["source"], "payment");
        assert_eq!(json["orderId"], 42);
        assert_eq!(json["payload"]["paymentId"], 5);
        assert!(json["occurredAt"].as_str().unwrap().ends_with('Z'));
        assert_eq!(envelope.key(), "42");
        assert_eq!(envelope.topic(), crate::Topic::Payment);
    }

    #[test]
    fn an_unknown_event_type_is_readable_and_flagged() {
        let raw = r#"{"eventId":"6f0c1c1e-7b1e-4a59-9a3e-2f1f8b1d1e11","eventType":"RefundIssued",
            "version":1,"occurredAt":"2026-11-23T10:00:00Z","source":"payment","orderId":4,
            "payload":{"refundId":1}}"#;
        let envelope = Envelope::from_json(raw.as_bytes()).unwrap();
        assert_eq!(envelope.event, Event::Unknown);
        assert_eq!(envelope.order_id, Some(4));
    }

    #[test]
    fn a_known_type_with_a_broken_payload_is_an_error() {
        let raw = r#"{"eventId":"6f0c1c1e-7b1e-4a59-9a3e-2f1f8b1d1e11","eventType":"OrderPlaced",
            "version":1,"occurredAt":"2026-11-23T10:00:00Z","source":"order","orderId":4,
            "payload":{"orderId":"four"}}"#;
        assert!(Envelope::from_json(raw.as_bytes()).is_err());
    }

    #[test]
    fn catalog_events_are_keyed_by_product() {
        let envelope = Envelope::new(
            "product",
            Event::ProductRegistered(ProductRegistered {
                product_id: 77,
                seller_id: 1,
                name: "x".into(),
                price: 1,
                stock: 1,
            }),
        );
        assert_eq!(envelope.key(), "77");
        assert_eq!(envelope.order_id, None);
    }
}
