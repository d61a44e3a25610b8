//! `POST /orders/{id}/cancel` (and `DELETE /orders/{id}`): the customer's cancellation.

use axum::http::StatusCode;
use platform::error::ApiResult;
use platform::{ApiError, Path};

use super::AppState;
use crate::alerts::AlertError;
use crate::cancelling::{self, CUSTOMER_REQUEST};
use crate::db::{self, Order};
use crate::domain::Status;
use platform::client::CallError;

type State = axum::extract::State<AppState>;

/// Accepts the cancellation (`202`, the order `CANCEL_REQUESTED`) once the seller has been
/// alerted. While the alert cannot be delivered nothing changes and the customer is asked to
/// try again shortly (`503` with `Retry-After`). A second request for an order already being
/// cancelled is a `409`, like any order past the point of cancelling.
pub async fn cancel(
    axum::extract::State(state): State,
    Path(id): Path<i64>,
) -> ApiResult<(StatusCode, axum::Json<Order>)> {
    let mut conn = state.pool.acquire().await?;
    let order = db::find(&mut conn, id)
        .await?
        .ok_or_else(|| ApiError::not_found("order", id))?;
    drop(conn);
    refuse_unless_cancellable(&order)?;

    if let Err(err) = state
        .alerts
        .alert(order.id, order.seller_id, CUSTOMER_REQUEST)
        .await
    {
        let why = match &err {
            AlertError::Call(CallError::Open(_)) => "the notification service is overloaded",
            _ => "the seller could not be notified just now",
        };
        tracing::warn!(order_id = id, error = %err, "cancellation refused: seller alert failed");
        return Err(ApiError::unavailable(
            "seller_alert_unavailable",
            format!(
                "{why}, so the cancellation was not accepted and nothing changed; please try \
                 cancelling again in {} seconds",
                state.alerts.retry_after_secs()
            ),
            state.alerts.retry_after_secs(),
        ));
    }

    let mut tx = state.pool.begin().await?;
    let Some(order) = cancelling::request(&mut tx, id, CUSTOMER_REQUEST).await? else {
        // The order moved on while the seller was being alerted.
        let current = db::find(&mut tx, id)
            .await?
            .ok_or_else(|| ApiError::not_found("order", id))?;
        return Err(not_cancellable(&current));
    };
    tx.commit().await?;
    Ok((StatusCode::ACCEPTED, axum::Json(order)))
}

fn refuse_unless_cancellable(order: &Order) -> Result<(), ApiError> {
    if order.status().customer_may_cancel() {
        Ok(())
    } else {
        Err(not_cancellable(order))
    }
}

fn not_cancellable(order: &Order) -> ApiError {
    match order.status() {
        Status::CancelRequested | Status::Cancelled => ApiError::conflict(
            "already_cancelled",
            format!("order {} is already {}", order.id, order.status),
        ),
        _ => ApiError::conflict(
            "not_cancellable",
            format!(
                "order {} is {} and can no longer be cancelled",
                order.id, order.status
            ),
        ),
    }
}
