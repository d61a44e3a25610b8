use chrono::{TimeDelta, Utc};
use contracts::*;

use super::*;
use crate::test_events::*;

/// The events of one order's saga, each 100 ms after the one before, from
/// `source`, as the services publish them.
fn saga(events: Vec<(&str, Event)>) -> Vec<Envelope> {
    let start = Utc::now() - TimeDelta::minutes(5);
    events
        .into_iter()
        .enumerate()
        .map(|(i, (source, event))| {
            let mut envelope = Envelope::new(source, event);
            envelope.occurred_at = start + TimeDelta::milliseconds(100 * i as i64);
            envelope
        })
        .collect()
}

fn placed_and_delivered() -> Vec<Envelope> {
    saga(vec![
        ("payment", paid()),
        ("order", placed()),
        ("product", stock_taken()),
        ("delivery", delivery(DeliveryStatus::Requested)),
        ("marketing", customer_notified("ORDER_PLACED")),
        ("marketing", customer_notified("DELIVERY_REQUESTED")),
        ("delivery", delivery(DeliveryStatus::Started)),
        ("delivery", delivery(DeliveryStatus::Completed)),
    ])
}

fn fold<'a>(events: impl IntoIterator<Item = &'a Envelope>) -> Steps {
    let mut steps = Steps::default();
    for envelope in events {
        // Applied late, as a read model lagging behind does.
        steps.record(envelope, envelope.occurred_at + TimeDelta::milliseconds(50));
    }
    steps
}

fn names(steps: &Steps) -> Vec<&'static str> {
    steps.all().iter().map(|s| s.step.as_str()).collect()
}

#[test]
fn a_delivered_order_lists_every_step_in_the_order_they_happened() {
    let steps = fold(&placed_and_delivered());
    assert_eq!(
        names(&steps),
        [
            "PAID",
            "ACCEPTED",
            "SELLER_PAGE_UPDATED",
            "STOCK_TAKEN",
            "DELIVERY_REQUESTED",
            "CUSTOMER_NOTIFIED",
            "CUSTOMER_NOTIFIED",
            "SHIPPED",
            "DELIVERED",
        ]
    );
    let services: Vec<&str> = steps.all().iter().map(|s| s.service.as_str()).collect();
    assert_eq!(&services[..3], ["payment", "order", "sellerpage"]);
    assert!(steps.pending().is_empty(), "{:?}", steps.pending());
}

#[test]
fn events_out_of_order_and_twice_make_the_same_journey() {
    let events = placed_and_delivered();
    let in_order = fold(&events);
    // Reversed, then every event again in another order: topics interleave arbitrarily and a
    // consumer may see an event twice.
    let mut shuffled: Vec<&Envelope> = events.iter().rev().collect();
    shuffled.extend(events.iter().skip(3).chain(events.iter().take(3)));
    let out_of_order = fold(shuffled);
    assert_eq!(in_order, out_of_order);
    // Any prefix of the arrivals folds to a sub-journey, never to steps out of time order.
    for taken in 1..events.len() {
        let partial = fold(events.iter().rev().take(taken));
        let times: Vec<_> = partial.all().iter().map(|s| s.at).collect();
        assert!(times.is_sorted(), "{times:?}");
    }
}

#[test]
fn the_pending_steps_follow_the_saga() {
    let events = placed_and_delivered();
    let pending_after = |taken: usize| -> Vec<(&'static str, WaitingOn)> {
        fold(&events[..taken])
            .pending()
            .iter()
            .map(|p| (p.step.as_str(), p.waiting_on))
            .collect()
    };
    use WaitingOn::*;
    assert_eq!(
        pending_after(1),
        [
            ("ACCEPTED", System),
            ("STOCK_TAKEN", System),
            ("DELIVERY_REQUESTED", System)
        ]
    );
    assert_eq!(pending_after(3), [("DELIVERY_REQUESTED", System)]);
    assert_eq!(pending_after(4), [("SHIPPED", Courier)]);
    assert_eq!(pending_after(7), [("DELIVERED", Courier)]);
    // The step waited for longest is what a deadline applies to, dated by the step before it.
    let paid_only = fold(&events[..1]);
    let overdue = paid_only.overdue_candidate().unwrap();
    assert_eq!(overdue.since, events[0].occurred_at);
    assert_eq!(
        fold(&events[..4]).overdue_candidate(),
        None,
        "a courier's step"
    );
}

#[test]
fn a_cancellation_waits_for_each_link_of_its_chain() {
    let mut events = placed_and_delivered();
    events.truncate(4);
    let cancel = saga(vec![
        ("order", customer_cancelled()),
        ("delivery", delivery(DeliveryStatus::Cancelled)),
        ("payment", refunded()),
        ("product", stock_restored()),
    ]);
    let waiting: Vec<Option<&'static str>> = (0..=cancel.len())
        .map(|taken| {
            fold(events.iter().chain(&cancel[..taken]))
                .pending()
                .first()
                .map(|p| p.step.as_str())
        })
        .collect();
    assert_eq!(
        waiting,
        [
            Some("SHIPPED"),
            Some("DELIVERY_CANCELLED"),
            Some("REFUNDED"),
            Some("STOCK_RESTORED"),
            None
        ]
    );
    let steps = fold(events.iter().chain(&cancel));
    let requested = steps
        .all()
        .iter()
        .find(|s| s.step == StepName::CancellationRequested)
        .unwrap();
    assert_eq!(requested.detail.as_deref(), Some("CUSTOMER_REQUEST"));
}

#[test]
fn a_shortage_waits_for_the_automatic_cancellation() {
    let events = placed_and_delivered();
    let short = saga(vec![("product", stock_short())]);
    let steps = fold(events[..2].iter().chain(&short));
    let pending: Vec<&str> = steps.pending().iter().map(|p| p.step.as_str()).collect();
    assert_eq!(pending, ["CANCELLATION_REQUESTED"]);
}

#[test]
fn a_journey_is_finished_only_when_delivered_or_its_cancellation_is_done() {
    let events = placed_and_delivered();
    // The order's event before payment's (another topic): nothing is awaited yet, but nothing
    // is finished either.
    let accepted_only = fold(&events[1..2]);
    assert!(accepted_only.pending().is_empty());
    assert!(!accepted_only.finished());
    assert!(!fold(&events[..4]).finished());
    assert!(fold(&events).finished());
}
