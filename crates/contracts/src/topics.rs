use std::fmt;

/// The topics of the README's Contracts section: one per publishing context, plus the dead-letter topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    Product,
    Order,
    Payment,
    Delivery,
    Marketing,
    DeadLetter,
}

impl Topic {
    pub const ALL: [Topic; 6] = [
        Topic::Product,
        Topic::Order,
        Topic::Payment,
        Topic::Delivery,
        Topic::Marketing,
        Topic::DeadLetter,
    ];

    pub fn from_base_name(name: &str) -> Option<Topic> {
        Topic::ALL.into_iter().find(|t| t.base_name() == name)
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

    pub fn all(&self) -> Vec<String> {
        Topic::ALL.iter().map(|t| self.name(*t)).collect()
    }
}
