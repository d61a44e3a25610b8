use std::fmt;

/// The topics of the README's Contracts section: one per publishing context, plus the dead-letter
/// topic and the redrive requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    Product,
    Order,
    Payment,
    Delivery,
    Marketing,
    DeadLetter,
    /// Requests to apply again a record a consumer dead-lettered: where the record is (its
    /// topic, partition and offset) and whose consumer should, never the record itself. The
    /// consumer fetches it from its owner's topic (`platform::consumer`), so the operator who
    /// asks can point at a record but never write one.
    Redrive,
}

impl Topic {
    pub const ALL: [Topic; 7] = [
        Topic::Product,
        Topic::Order,
        Topic::Payment,
        Topic::Delivery,
        Topic::Marketing,
        Topic::DeadLetter,
        Topic::Redrive,
    ];

    pub fn from_base_name(name: &str) -> Option<Topic> {
        Topic::ALL.into_iter().find(|t| t.base_name() == name)
    }

    /// The one service that publishes on this topic: the `source` every event on it carries.
    /// `None` for the dead-letter topic, which every consumer writes.
    pub fn owner(self) -> Option<&'static str> {
        match self {
            Topic::Product => Some("product"),
            Topic::Order => Some("order"),
            Topic::Payment => Some("payment"),
            Topic::Delivery => Some("delivery"),
            Topic::Marketing => Some("marketing"),
            // The dead-letter topic's operator.
            Topic::Redrive => Some("sellerpage"),
            Topic::DeadLetter => None,
        }
    }

    /// The name without any deployment prefix.
    pub fn base_name(self) -> &'static str {
        match self {
            Topic::Product => "mealkit.product",
            Topic::Order => "mealkit.order",
            Topic::Payment => "mealkit.payment",
            Topic::Delivery => "mealkit.delivery",
            Topic::Marketing => "mealkit.marketing",
            Topic::DeadLetter => "mealkit.dlq",
            Topic::Redrive => "mealkit.redrive",
        }
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.base_name())
    }
}

/// Maps topics to the names used on the broker. A prefix lets several isolated copies of the
/// system (one per test, say) share one broker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicNames {
    prefix: String,
}

impl TopicNames {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    pub fn name(&self, topic: Topic) -> String {
        format!("{}{}", self.prefix, topic.base_name())
    }

    /// The topic a broker name stands for under this prefix; `None` for any other name.
    pub fn topic(&self, name: &str) -> Option<Topic> {
        Topic::from_base_name(name.strip_prefix(self.prefix.as_str())?)
    }

    pub fn all(&self) -> Vec<String> {
        Topic::ALL.iter().map(|t| self.name(*t)).collect()
    }
}
