//! Round trips, the wire shape, unknown types, keys and contract checks of the catalog.

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

#[test]
fn an_event_belongs_on_its_owner_s_topic_from_its_owner_only() {
    use crate::Topic;
    for event in samples() {
        let home = event.topic();
        let owner = home.owner().expect("every event's topic has an owner");
        let envelope = Envelope::new(owner, event);
        assert_eq!(envelope.check_origin(home), Ok(()), "{envelope:?}");
        for elsewhere in Topic::ALL.into_iter().filter(|t| *t != home) {
            let refused = envelope.check_origin(elsewhere).unwrap_err().to_string();
            assert!(refused.contains("does not belong on"), "{refused}");
        }
        let mut forged = envelope.clone();
        forged.source = "marketing".into();
        if owner != "marketing" {
            let refused = forged.check_origin(home).unwrap_err().to_string();
            assert!(refused.contains("only"), "{refused}");
        }
    }
    let unknown = Envelope::from_json(
        br#"{"eventId":"6f0c1c1e-7b1e-4a59-9a3e-2f1f8b1d1e11","eventType":"RefundIssued",
        "version":1,"occurredAt":"2026-11-23T10:00:00Z","source":"someone","payload":{}}"#,
    )
    .unwrap();
    assert_eq!(
        unknown.check_origin(Topic::Order),
        Ok(()),
        "skipped, not judged"
    );
}

#[test]
fn a_prefixed_broker_name_names_its_topic() {
    use crate::{Topic, TopicNames};
    let names = TopicNames::new("t1.");
    assert_eq!(names.topic("t1.mealkit.order"), Some(Topic::Order));
    assert_eq!(names.topic("mealkit.order"), None);
    assert_eq!(
        TopicNames::default().topic("mealkit.dlq"),
        Some(Topic::DeadLetter)
    );
}
