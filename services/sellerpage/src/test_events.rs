//! The events of one order's saga (order 5 of customer 2, seller 3, product 4), for the read
//! models' unit tests.

use contracts::*;

pub fn placed() -> Event {
    Event::OrderPlaced(OrderPlaced {
        order_id: 5,
        customer_id: 2,
        seller_id: 3,
        product_id: 4,
        product_name: "Kit".into(),
        qty: 1,
        amount: 100,
        address: "Seoul".into(),
    })
}

pub fn paid() -> Event {
    Event::PaymentCompleted(PaymentCompleted {
        payment_id: 9,
        order_id: 5,
        customer_id: 2,
        seller_id: 3,
        product_id: 4,
        qty: 1,
        amount: 100,
        address: "Seoul".into(),
    })
}

pub fn stock_taken() -> Event {
    Event::StockDecreased(StockDecreased {
        order_id: 5,
        product_id: 4,
        qty: 1,
        remaining: 0,
    })
}

pub fn stock_short() -> Event {
    Event::StockShortage(StockShortage {
        order_id: 5,
        product_id: 4,
        requested: 1,
        available: 0,
    })
}

pub fn stock_restored() -> Event {
    Event::StockRestored(StockRestored {
        order_id: 5,
        product_id: 4,
        qty: 1,
        remaining: 5,
    })
}

/// The delivery's event for `status`: `DeliveryRequested`, `DeliveryStarted`, ...
pub fn delivery(status: DeliveryStatus) -> Event {
    let changed = DeliveryChanged {
        delivery_id: 1,
        order_id: 5,
        customer_id: 2,
        seller_id: 3,
        status,
    };
    match status {
        DeliveryStatus::Requested => Event::DeliveryRequested(changed),
        DeliveryStatus::Started => Event::DeliveryStarted(changed),
        DeliveryStatus::Completed => Event::DeliveryCompleted(changed),
        DeliveryStatus::Cancelled => Event::DeliveryCancelled(changed),
    }
}

pub fn customer_cancelled() -> Event {
    Event::OrderCancelled(OrderCancelled {
        order_id: 5,
        customer_id: 2,
        seller_id: 3,
        product_id: 4,
        qty: 1,
        reason: CancelReason::CustomerRequest,
    })
}

pub fn refunded() -> Event {
    Event::PaymentCancelled(PaymentCancelled {
        payment_id: 9,
        order_id: 5,
        product_id: 4,
        qty: 1,
        amount: 100,
    })
}

pub fn customer_notified(kind: &str) -> Event {
    Event::CustomerNotified(Notified {
        notification_id: 1,
        order_id: 5,
        kind: kind.into(),
    })
}
