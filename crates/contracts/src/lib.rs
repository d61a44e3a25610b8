//! Event contracts shared by every meal-kit service.
//!
//! Each event travels as a JSON [`Envelope`] whose `eventType` names the [`Event`] variant and
//! whose `payload` holds its fields. Consumers must tolerate event types they do not know yet
//! ([`Event::Unknown`]) so that a producer can add an event without breaking older consumers.

pub mod access;
pub mod calls;
mod events;
mod labels;
mod origin;
mod statuses;
mod topics;
mod validation;

pub use events::*;
pub use origin::Misplaced;
pub use statuses::{CancelReason, DeliveryStatus, PaymentStatus};
pub use topics::{Topic, TopicNames};
pub use validation::{MAX_QTY, Violation};

/// What [`labels!`] expands to needs these; the crates using it need not name them.
#[doc(hidden)]
pub mod __private {
    pub use serde;
    pub use sqlx;
    pub use utoipa;
}

use chrono::{DateTime, DurationRound, SecondsFormat, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Current schema version of every envelope this code writes.
pub const ENVELOPE_VERSION: u32 = 1;

/// The message value on every topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    pub event_id: Uuid,
    pub version: u32,
    #[serde(with = "rfc3339")]
    pub occurred_at: DateTime<Utc>,
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<i64>,
    #[serde(flatten)]
    pub event: Event,
}

impl Envelope {
    /// Wraps `event` in a fresh envelope stamped now.
    pub fn new(source: &str, event: Event) -> Self {
        Self {
            // Time-ordered, so each event's id lands at the right edge of the indexes it goes
            // into (outbox, processed_events) rather than on a random page.
            event_id: Uuid::now_v7(),
            version: ENVELOPE_VERSION,
            // Microseconds: what the wire keeps, so an envelope equals its own round trip.
            occurred_at: Utc::now()
                .duration_trunc(TimeDelta::microseconds(1))
                .unwrap_or_else(|_| Utc::now()),
            source: source.to_owned(),
            order_id: event.order_id(),
            event,
        }
    }

    /// The topic this envelope belongs on: the one of the context that publishes it.
    pub fn topic(&self) -> Topic {
        self.event.topic()
    }

    /// Message key: the order for order-scoped events (so one order's events keep their order
    /// within a topic), the product for catalog events.
    pub fn key(&self) -> String {
        match (&self.event, self.order_id) {
            (_, Some(order_id)) => order_id.to_string(),
            (Event::ProductRegistered(p), None) => p.product_id.to_string(),
            (Event::ProductUpdated(p), None) => p.product_id.to_string(),
            _ => self.event_id.to_string(),
        }
    }

    pub fn event_type(&self) -> &'static str {
        self.event.event_type()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an envelope always serializes")
    }

    /// Decodes an envelope. An event type this build does not know decodes as
    /// [`Event::Unknown`] (its payload unread); a known type with a broken payload is an error.
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        let err = match serde_json::from_slice(bytes) {
            Ok(envelope) => return Ok(envelope),
            Err(err) => err,
        };
        let Ok(head) = serde_json::from_slice::<Head>(bytes) else {
            return Err(err);
        };
        if Event::is_known_type(&head.event_type) {
            return Err(err);
        }
        Ok(Self {
            event_id: head.event_id,
            version: head.version,
            occurred_at: head.occurred_at,
            source: head.source,
            order_id: head.order_id,
            event: Event::Unknown,
        })
    }
}

/// The envelope without its payload: enough to skip an event of an unknown type.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Head {
    event_id: Uuid,
    version: u32,
    #[serde(with = "rfc3339")]
    occurred_at: DateTime<Utc>,
    source: String,
    #[serde(default)]
    order_id: Option<i64>,
    event_type: String,
}

mod rfc3339 {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Micros, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|at| at.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}
