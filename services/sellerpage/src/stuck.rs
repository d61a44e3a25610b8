//! Noticing sagas that stopped: an order whose next step the system owes it (a service's
//! reaction to an event, not a courier's) has waited longer than the deadline.
//!
//! Every check sets `sagas_stuck{step}` (how many orders wait past the deadline at each step)
//! and writes one line per order when it becomes stuck, naming the step and the service that
//! owes it; an order still stuck at the next check is not repeated.

use std::collections::HashSet;
use std::time::Duration;

use platform::Store;
use platform::shutdown::CancellationToken;

use crate::db;
use crate::journey::StepName;

/// At most this many stuck orders are named per check (the gauge counts them all).
const NAMED_PER_CHECK: i64 = 100;

pub struct StuckSagas {
    pub store: Store,
    /// `SAGA_STEP_DEADLINE_MS`.
    pub deadline: Duration,
    /// `SAGA_CHECK_INTERVAL_MS`.
    pub every: Duration,
}

impl StuckSagas {
    pub async fn run(self, stop: CancellationToken) {
        let mut named: HashSet<(i64, StepName)> = HashSet::new();
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(self.every) => {}
            }
            match self.check(&named).await {
                Ok(now_stuck) => named = now_stuck,
                Err(err) => tracing::warn!(error = %err, "stuck sagas: the check failed"),
            }
        }
    }

    /// One check: the gauge, a line for each newly stuck order; answers the stuck orders named.
    async fn check(
        &self,
        already_named: &HashSet<(i64, StepName)>,
    ) -> sqlx::Result<HashSet<(i64, StepName)>> {
        let deadline = chrono::TimeDelta::from_std(self.deadline).unwrap_or_default();
        let now = chrono::Utc::now();
        let mut conn = self.store.read().await?;
        let (oldest, counts) = db::overdue(&mut conn, now - deadline, NAMED_PER_CHECK).await?;
        for step in StepName::ALL {
            let count = counts
                .iter()
                .find(|(s, _)| s == step)
                .map_or(0, |(_, n)| *n);
            metrics::gauge!("sagas_stuck", "step" => step.as_str()).set(count as f64);
        }
        let mut named = HashSet::new();
        for overdue in oldest {
            let key = (overdue.order_id, overdue.awaiting_step);
            if !already_named.contains(&key) {
                tracing::warn!(
                    order_id = overdue.order_id,
                    step = %overdue.awaiting_step,
                    waiting_secs = (now - overdue.awaiting_since).num_seconds(),
                    deadline_secs = self.deadline.as_secs(),
                    "saga stuck: the order waits for a step past its deadline"
                );
            }
            named.insert(key);
        }
        Ok(named)
    }
}
