//! The synchronous seller alert that must succeed before a cancellation is accepted.

use std::time::Duration;

use contracts::CancelReason;
use contracts::calls::{SELLER_ALERT_PATH, SellerAlert};
use platform::client::{CallError, ServiceClient};

#[derive(Clone)]
pub struct SellerAlerts {
    client: ServiceClient,
    /// The breaker's cool-down: how long to tell the customer to wait.
    retry_after: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error(transparent)]
    Call(#[from] CallError),
    #[error("marketing refused the alert: {0}")]
    Refused(String),
}

impl SellerAlerts {
    pub fn new(client: ServiceClient, retry_after: Duration) -> Self {
        Self {
            client,
            retry_after,
        }
    }

    /// Seconds a customer should wait before trying again (at least one).
    pub fn retry_after_secs(&self) -> u32 {
        self.retry_after.as_secs().clamp(1, 3600) as u32
    }

    pub async fn alert(
        &self,
        order_id: i64,
        seller_id: i64,
        reason: CancelReason,
    ) -> Result<(), AlertError> {
        let alert = SellerAlert {
            order_id,
            seller_id,
            reason: Some(reason.as_str().to_owned()),
        };
        let reply = self.client.post_json(SELLER_ALERT_PATH, &alert).await?;
        if reply.status.is_success() {
            Ok(())
        } else {
            Err(AlertError::Refused(format!("answered {}", reply.status)))
        }
    }
}
