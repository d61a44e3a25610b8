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
mod tests;
