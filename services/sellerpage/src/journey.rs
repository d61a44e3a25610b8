//! An order's journey: every step its saga took, in the order they happened, and the steps it
//! is waiting for. Folded from events in any order and any number of times. No I/O.

use chrono::{DateTime, Utc};
use contracts::{Envelope, Event};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

contracts::labels! {
    /// A step of an order's saga.
    pub enum StepName {
        /// Payment approved the charge (`PaymentCompleted`).
        Paid = "PAID",
        /// Order placed the paid order (`OrderPlaced`).
        Accepted = "ACCEPTED",
        /// This read model recorded the order: the seller sees it.
        SellerPageUpdated = "SELLER_PAGE_UPDATED",
        StockTaken = "STOCK_TAKEN",
        StockShort = "STOCK_SHORT",
        DeliveryRequested = "DELIVERY_REQUESTED",
        CustomerNotified = "CUSTOMER_NOTIFIED",
        SellerNotified = "SELLER_NOTIFIED",
        Shipped = "SHIPPED",
        Delivered = "DELIVERED",
        CancellationRequested = "CANCELLATION_REQUESTED",
        DeliveryCancelled = "DELIVERY_CANCELLED",
        Refunded = "REFUNDED",
        StockRestored = "STOCK_RESTORED",
    }
}

contracts::labels! {
    /// Who a pending step waits for: the system (a service's reaction to an event, which a
    /// deadline applies to) or a person.
    pub enum WaitingOn {
        System = "SYSTEM",
        Courier = "COURIER",
    }
}

/// One step taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    pub step: StepName,
    /// The service that took it.
    pub service: String,
    /// The event that announced it.
    pub event: String,
    /// When the service took it (the event's time).
    pub at: DateTime<Utc>,
    /// The notification's kind, the cancellation's reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub detail: Option<String>,
}

/// A step the saga waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pending {
    pub step: StepName,
    /// The service expected to take it.
    pub service: &'static str,
    pub waiting_on: WaitingOn,
    /// Since when: the time of the step it follows.
    pub since: DateTime<Utc>,
}

/// The steps of one order, at most one per step name and detail (a redelivered event adds
/// nothing), in the order they happened.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Steps(Vec<Step>);

impl Steps {
    /// Records the step `envelope` announces, if it is one; `now` is when this read model
    /// applied it, the time of [`StepName::SellerPageUpdated`].
    pub fn record(&mut self, envelope: &Envelope, now: DateTime<Utc>) {
        let Some((step, detail)) = step_of(&envelope.event) else {
            return;
        };
        let event = envelope.event_type().to_owned();
        if step == StepName::Accepted {
            self.add(Step {
                step: StepName::SellerPageUpdated,
                service: crate::SERVICE.to_owned(),
                event: event.clone(),
                at: now,
                detail: None,
            });
        }
        self.add(Step {
            step,
            service: envelope.source.clone(),
            event,
            at: envelope.occurred_at,
            detail,
        });
    }

    fn add(&mut self, step: Step) {
        if self
            .0
            .iter()
            .any(|s| s.step == step.step && s.detail == step.detail)
        {
            return;
        }
        // Sorted by time, then by name: the same order whatever order they were added in.
        let position = self
            .0
            .partition_point(|s| (s.at, s.step.as_str()) <= (step.at, step.step.as_str()));
        self.0.insert(position, step);
    }

    pub fn all(&self) -> &[Step] {
        &self.0
    }

    fn at(&self, name: StepName) -> Option<DateTime<Utc>> {
        self.0.iter().find(|s| s.step == name).map(|s| s.at)
    }

    fn has(&self, name: StepName) -> bool {
        self.at(name).is_some()
    }

    /// Whether nothing more will happen: delivered, or a cancellation whose chain is done.
    /// Waiting for nothing is not enough: until payment's event arrives (another topic) the
    /// saga waits for nothing it can name yet.
    pub fn finished(&self) -> bool {
        use StepName::*;
        self.has(Delivered) || (self.has(CancellationRequested) && self.pending().is_empty())
    }

    /// What the saga waits for, given the steps taken so far. An order whose saga is finished
    /// (delivered, cancelled, or refused a cancellation) waits for nothing.
    pub fn pending(&self) -> Vec<Pending> {
        use StepName::*;
        let mut pending = Vec::new();
        let mut wait = |step: StepName, service: &'static str, on: WaitingOn, since| {
            if let Some(since) = since {
                pending.push(Pending {
                    step,
                    service,
                    waiting_on: on,
                    since,
                });
            }
        };
        let system = WaitingOn::System;
        if self.has(Delivered) {
            return pending;
        }
        if let Some(requested) = self.at(CancellationRequested) {
            if !self.has(DeliveryCancelled) {
                wait(DeliveryCancelled, "delivery", system, Some(requested));
            } else if !self.has(Refunded) {
                wait(Refunded, "payment", system, self.at(DeliveryCancelled));
            } else if self.has(StockTaken) && !self.has(StockRestored) {
                wait(StockRestored, "product", system, self.at(Refunded));
            }
            return pending;
        }
        let paid = self.at(Paid);
        if !self.has(Accepted) {
            wait(Accepted, "order", system, paid);
        }
        if !self.has(StockTaken) && !self.has(StockShort) {
            wait(StockTaken, "product", system, paid);
        }
        if let Some(short) = self.at(StockShort) {
            wait(CancellationRequested, "order", system, Some(short));
            return pending;
        }
        if !self.has(DeliveryRequested) {
            wait(DeliveryRequested, "delivery", system, paid);
        } else if !self.has(Shipped) {
            wait(
                Shipped,
                "delivery",
                WaitingOn::Courier,
                self.at(DeliveryRequested),
            );
        } else {
            wait(Delivered, "delivery", WaitingOn::Courier, self.at(Shipped));
        }
        pending
    }

    /// The longest-waiting step the system owes, if any: what the stuck-saga check watches.
    pub fn overdue_candidate(&self) -> Option<Pending> {
        self.pending()
            .into_iter()
            .filter(|p| p.waiting_on == WaitingOn::System)
            .min_by_key(|p| p.since)
    }
}

/// The step an event announces, with its detail.
fn step_of(event: &Event) -> Option<(StepName, Option<String>)> {
    use StepName::*;
    Some(match event {
        Event::PaymentCompleted(_) => (Paid, None),
        Event::OrderPlaced(_) => (Accepted, None),
        Event::StockDecreased(_) => (StockTaken, None),
        Event::StockShortage(_) => (StockShort, None),
        Event::StockRestored(_) => (StockRestored, None),
        Event::DeliveryRequested(_) => (DeliveryRequested, None),
        Event::DeliveryStarted(_) => (Shipped, None),
        Event::DeliveryCompleted(_) => (Delivered, None),
        Event::DeliveryCancelled(_) => (DeliveryCancelled, None),
        Event::OrderCancelled(c) => (CancellationRequested, Some(c.reason.to_string())),
        Event::PaymentCancelled(_) => (Refunded, None),
        Event::CustomerNotified(n) => (CustomerNotified, Some(n.kind.clone())),
        Event::SellerNotified(n) => (SellerNotified, Some(n.kind.clone())),
        Event::ProductRegistered(_) | Event::ProductUpdated(_) | Event::Unknown => return None,
    })
}

#[cfg(test)]
mod tests;
