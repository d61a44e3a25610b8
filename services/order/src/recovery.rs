//! Settles orders left `PENDING`: the process died between storing the order and recording
//! the payment's answer, or the answer never came (timeout). Payment is asked what it decided.
//! It also forgets idempotency keys older than [`idempotency::KEPT_FOR`].

use std::time::Duration;

use contracts::PaymentStatus;
use platform::shutdown::CancellationToken;
use platform::{Store, idempotency};

use crate::domain::Reason;
use crate::payments::Payments;
use crate::{db, placing};

pub struct Recovery {
    pub store: Store,
    pub payments: Payments,
    pub older_than: Duration,
}

impl Recovery {
    pub async fn run(self, stop: CancellationToken) {
        let every = (self.older_than / 4).clamp(Duration::from_millis(200), Duration::from_secs(5));
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
            if let Err(err) = self.sweep().await {
                tracing::warn!(error = %err, "pending-order recovery failed; will retry");
            }
        }
    }

    async fn sweep(&self) -> anyhow::Result<()> {
        let mut conn = self.store.read().await?;
        let stale = db::pending_older_than(&mut conn, self.older_than, 100).await?;
        idempotency::forget_older_than(&mut conn, idempotency::KEPT_FOR).await?;
        drop(conn);
        for order in stale {
            let order_id = order.id;
            match self.payments.lookup(order_id).await {
                Ok(Some(payment)) if payment.status != PaymentStatus::Declined => {
                    placing::confirm(&self.store, &order, payment.id).await?;
                    tracing::info!(order_id, "recovered a pending order: placed");
                }
                Ok(Some(_)) => {
                    placing::reject(&self.store, order_id, Reason::PaymentDeclined).await?;
                }
                Ok(None) => {
                    placing::reject(&self.store, order_id, Reason::PaymentNotCompleted).await?;
                    tracing::info!(order_id, "recovered a pending order: no payment, rejected");
                }
                Err(err) => {
                    tracing::warn!(order_id, error = %err, "payment unavailable; pending order stays pending");
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}
