use contracts::{DeliveryChanged, Event};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Requested,
    Started,
    Completed,
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Requested => "REQUESTED",
            Status::Started => "STARTED",
            Status::Completed => "COMPLETED",
            Status::Cancelled => "CANCELLED",
        }
    }

    /// The states a delivery may be in for a move to `self`.
    pub fn reachable_from(self) -> &'static [&'static str] {
        match self {
            Status::Requested => &[],
            Status::Started => &["REQUESTED"],
            Status::Completed => &["STARTED"],
            Status::Cancelled => &["REQUESTED", "STARTED"],
        }
    }

    /// The event announcing a delivery now in this state.
    pub fn event(self, change: DeliveryChanged) -> Event {
        match self {
            Status::Requested => Event::DeliveryRequested(change),
            Status::Started => Event::DeliveryStarted(change),
            Status::Completed => Event::DeliveryCompleted(change),
            Status::Cancelled => Event::DeliveryCancelled(change),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_states_have_no_way_out() {
        for next in [Status::Started, Status::Completed, Status::Cancelled] {
            assert!(!next.reachable_from().contains(&"COMPLETED"));
            assert!(!next.reachable_from().contains(&"CANCELLED"));
        }
        assert!(Status::Completed.reachable_from().contains(&"STARTED"));
        assert!(!Status::Completed.reachable_from().contains(&"REQUESTED"));
    }
}
