//! Where an event may come from: a topic carries only its owner's event types, each with
//! `source` equal to that owner. A consumer checks every record against the topic it arrived
//! on before anything else, so an event another service (or anyone else who can write to the
//! broker) put there is dead-lettered, never applied.

use std::fmt;

use crate::{Envelope, Event, Topic};

/// How a record contradicts the topic it arrived on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misplaced(String);

impl fmt::Display for Misplaced {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Misplaced {}

impl Envelope {
    /// Whether this envelope may travel on `topic`: its type is one `topic`'s owner publishes
    /// and its `source` is that owner. An event type this build does not know passes (it is
    /// skipped anyway, and a newer owner may publish it); nothing belongs on the dead-letter
    /// topic as an event.
    pub fn check_origin(&self, topic: Topic) -> Result<(), Misplaced> {
        if self.event == Event::Unknown {
            return Ok(());
        }
        let home = self.event.topic();
        if home != topic {
            return Err(Misplaced(format!(
                "{} does not belong on {topic} (only on {home})",
                self.event_type()
            )));
        }
        match topic.owner() {
            Some(owner) if owner == self.source => Ok(()),
            Some(owner) => Err(Misplaced(format!(
                "{} on {topic} from source '{}': only {owner} publishes there",
                self.event_type(),
                self.source
            ))),
            None => Err(Misplaced(format!("an event on {topic}"))),
        }
    }
}
