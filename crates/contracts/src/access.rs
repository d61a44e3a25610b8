//! Who may do what on the bus: the one table the broker's ACLs are made from.
//!
//! Each service connects to Kafka as its own principal (`User:<service>`, SASL/SCRAM). The
//! broker's authorizer lets it
//! - **write** only its own topic ([`Topic::owner`]: the one whose events it publishes, or the
//!   redrive requests for the dead-letter operator) and the dead-letter topic, the one write
//!   every consumer shares;
//! - **read** only the topics it consumes, and the redrive requests;
//! - **join** only its own consumer groups.
//!
//! Anything else (another service's topic, a group of someone else's, creating or deleting
//! topics) is refused by the broker. The launcher (`crates/stack`) and the Kubernetes manifests
//! (`k8s/base/kafka-access.sh`) both make the ACLs from [`RULES`]; `tests/deploy.rs` checks the
//! manifests say the same.

use crate::Topic;

/// What one service may do on the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// The service, which is also its principal's name.
    pub service: &'static str,
    /// The topics it consumes, and the redrive requests (every service has a consumer).
    pub reads: &'static [Topic],
    /// Its consumer groups.
    pub groups: &'static [&'static str],
}

/// Every service's access, in start order.
pub const RULES: [Access; 6] = [
    Access {
        service: "product",
        reads: &[Topic::Payment, Topic::Redrive],
        groups: &["product"],
    },
    Access {
        service: "order",
        reads: &[Topic::Product, Topic::Delivery, Topic::Redrive],
        groups: &["order"],
    },
    Access {
        service: "payment",
        reads: &[Topic::Delivery, Topic::Redrive],
        groups: &["payment"],
    },
    Access {
        service: "delivery",
        reads: &[Topic::Payment, Topic::Order, Topic::Redrive],
        groups: &["delivery"],
    },
    Access {
        service: "marketing",
        reads: &[Topic::Order, Topic::Delivery, Topic::Redrive],
        groups: &["marketing"],
    },
    // The read side, and the operator of the dead-letter topic (its own group reads it).
    Access {
        service: "sellerpage",
        reads: &[
            Topic::Order,
            Topic::Payment,
            Topic::Delivery,
            Topic::Product,
            Topic::Marketing,
            Topic::DeadLetter,
            Topic::Redrive,
        ],
        groups: &["sellerpage", "sellerpage-dead-letters"],
    },
];

/// `service`'s access, when it is one of the system's services.
pub fn of(service: &str) -> Option<&'static Access> {
    RULES.iter().find(|a| a.service == service)
}

impl Access {
    /// The topics it owns ([`Topic::owner`]): its events', or the redrive requests for the
    /// dead-letter operator; none for a service that publishes nothing.
    pub fn writes(&self) -> Vec<Topic> {
        Topic::ALL
            .into_iter()
            .filter(|t| t.owner() == Some(self.service))
            .collect()
    }

    /// Every topic it may write: its own and the dead-letter topic.
    pub fn writable(&self) -> Vec<Topic> {
        let mut topics = self.writes();
        topics.push(Topic::DeadLetter);
        topics
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_topic_but_the_dead_letters_has_one_writer_among_the_services() {
        for topic in Topic::ALL.into_iter().filter(|t| *t != Topic::DeadLetter) {
            let writers: Vec<&str> = RULES
                .iter()
                .filter(|a| a.writes().contains(&topic))
                .map(|a| a.service)
                .collect();
            assert_eq!(writers.len(), 1, "{topic}: {writers:?}");
        }
        assert!(RULES.iter().all(|a| a.reads.contains(&Topic::Redrive)));
    }

    #[test]
    fn every_topic_is_read_and_each_group_belongs_to_one_service() {
        for topic in Topic::ALL {
            assert!(RULES.iter().any(|a| a.reads.contains(&topic)), "{topic}");
        }
        let mut groups: Vec<&str> = RULES
            .iter()
            .flat_map(|a| a.groups.iter().copied())
            .collect();
        let all = groups.len();
        groups.sort_unstable();
        groups.dedup();
        assert_eq!(groups.len(), all);
    }
}
