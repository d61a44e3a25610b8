//! Noticing a consumer its group has left without partitions.

use std::time::{Duration, Instant};

/// Watches how many partitions the group gives this consumer. None for long means its events
/// are piling up unread: say so, once a minute, instead of falling silent.
pub(super) struct AssignmentWatch {
    service: String,
    unassigned_since: Option<Instant>,
    last_warning: Option<Instant>,
}

impl AssignmentWatch {
    pub(super) const EVERY: Duration = Duration::from_secs(5);
    /// Longer than a rebalance after a restart takes, including a session timeout.
    const PATIENCE: Duration = Duration::from_secs(60);

    pub(super) fn new(service: &str) -> Self {
        Self {
            service: service.to_owned(),
            unassigned_since: None,
            last_warning: None,
        }
    }

    /// Records `partitions` assigned at `now`; true when it warned.
    pub(super) fn observe(&mut self, partitions: usize, now: Instant) -> bool {
        metrics::gauge!("consumer_assigned_partitions").set(partitions as f64);
        if partitions > 0 {
            self.unassigned_since = None;
            return false;
        }
        let since = *self.unassigned_since.get_or_insert(now);
        let quiet = self
            .last_warning
            .is_none_or(|at| now - at >= Self::PATIENCE);
        if now - since >= Self::PATIENCE && quiet {
            self.last_warning = Some(now);
            tracing::error!(
                service = %self.service,
                unassigned_secs = (now - since).as_secs(),
                "consumer: its consumer group has given it no partitions; its events are not \
                 being read (see README, known limitations)"
            );
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_consumer_left_without_partitions_says_so_once_a_minute_until_it_gets_some() {
        let start = Instant::now();
        let at = |secs: u64| start + Duration::from_secs(secs);
        let mut watch = AssignmentWatch::new("order");
        // A rebalance after a restart: briefly nothing, then partitions.
        assert!(!watch.observe(0, at(0)));
        assert!(!watch.observe(0, at(30)));
        assert!(!watch.observe(6, at(35)));
        // Then stranded: the minute counts from the first empty check, not from the start.
        assert!(!watch.observe(0, at(40)));
        assert!(!watch.observe(0, at(95)));
        assert!(watch.observe(0, at(100)));
        assert!(!watch.observe(0, at(105)));
        assert!(!watch.observe(0, at(155)));
        assert!(watch.observe(0, at(160)));
        // Assigned again: quiet, and a later stretch waits its own minute.
        assert!(!watch.observe(3, at(165)));
        assert!(!watch.observe(0, at(170)));
        assert!(!watch.observe(0, at(225)));
        assert!(watch.observe(0, at(230)));
    }
}
