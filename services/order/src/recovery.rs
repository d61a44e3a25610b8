//! Settles orders left `PENDING`: the process died between storing the order and recording
//! the payment's answer, or the answer never came (timeout). Payment is asked what it decided.

use std::time::Duration;

use platform::shutdown::CancellationToken;
use sqlx::PgPool;

use crate::payments::Payments;
use crate::{db, placing};

pub struct Recovery {
    pub pool: PgPool,
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
        let mut conn = self.pool.acquire().await?;
        let stale = db::pending_older_than(&mut conn, self.older_than, 100).await?;
        drop(conn);
        for order in stale {
            let order_id = order.id;
            match self.payments.lookup(order_id).await {
                Ok(Some(payment)) if payment.status != "DECLINED" => {
                    placing::confirm(&self.pool, &order, payment.id).await?;
                    tracing::info!(order_id, "recovered a pending order: placed");
                }
                Ok(Some(_)) => {
                    placing::reject(&self.pool, order_id, "PAYMENT_DECLINED").await?;
                }
                Ok(None) => {
                    placing::reject(&self.pool, order_id, "PAYMENT_NOT_COMPLETED").await?;
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
