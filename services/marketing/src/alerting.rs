//! Alerting a seller that a customer asked to cancel: the synchronous call order makes before
//! it accepts a cancellation (seed NFR 1.2). Idempotent per order.

use contracts::CancelReason;
use contracts::calls::SellerAlert;
use platform::extract::check;
use platform::{ApiError, Store};

use crate::db::Notification;
use crate::domain::{Notice, NotificationKind, Recipient};
use crate::events::notify;

/// A checked seller alert.
pub struct Alert {
    pub order_id: i64,
    pub seller_id: i64,
    pub reason: String,
}

impl Alert {
    pub fn parse(request: &SellerAlert) -> Result<Self, ApiError> {
        check::positive("orderId", request.order_id)?;
        check::positive("sellerId", request.seller_id)?;
        let reason = match request.reason.as_deref() {
            Some(reason) => check::text("reason", reason, 200)?,
            // The caller gives none: the customer asked.
            None => CancelReason::CustomerRequest.as_str().to_owned(),
        };
        Ok(Self {
            order_id: request.order_id,
            seller_id: request.seller_id,
            reason,
        })
    }
}

/// Stores and announces the seller's alert, once per order.
pub async fn alert_seller(
    store: &Store,
    alert: &Alert,
) -> Result<Notification, platform::consumer::HandlerError> {
    let notice = Notice {
        order_id: alert.order_id,
        recipient: Recipient::Seller,
        recipient_id: alert.seller_id,
        kind: NotificationKind::CancelRequested,
        message: format!(
            "The customer asked to cancel order #{} (reason: {}).",
            alert.order_id, alert.reason
        ),
    };
    let mut work = store.begin().await?;
    let notification = notify(&mut work, &notice).await?;
    work.commit().await?;
    Ok(notification)
}
