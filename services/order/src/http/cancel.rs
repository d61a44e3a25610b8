//! `POST /orders/{id}/cancel` (and `DELETE /orders/{id}`): the customer's cancellation.

use axum::http::StatusCode;
use platform::error::{ApiResult, ErrorBody};
use platform::{ApiError, Path};

use super::AppState;
use crate::alerts::AlertError;
use crate::cancelling::{self, CUSTOMER_REQUEST};
use crate::db::{self, Order};
use crate::domain::Status;
use platform::client::CallError;

type State = axum::extract::State<AppState>;

/// What both ways of cancelling answer.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
enum Answers {
    /// Accepted: the order is `CANCEL_REQUESTED`; refund, delivery and stock follow.
    #[response(status = 202)]
    Accepted(#[to_schema] Order),
    /// No such order (`not_found`).
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// Already being cancelled (`already_cancelled`) or past the point of cancelling
    /// (`not_cancellable`).
    #[response(status = 409)]
    Conflict(ErrorBody),
    /// The seller could not be alerted (`seller_alert_unavailable`); nothing changed, try again.
    #[response(status = 503, headers(("Retry-After" = i64, description = "Seconds to wait before trying again")))]
    Unavailable(ErrorBody),
}

/// Accepts the cancellation (`202`, the order `CANCEL_REQUESTED`) once the seller has been
/// alerted. While the alert cannot be delivered nothing changes and the customer is asked to
/// try again shortly (`503` with `Retry-After`). A second request for an order already being
/// cancelled is a `409`, like any order past the point of cancelling.
#[utoipa::path(post, path = "/orders/{id}/cancel",
    params(("id" = i64, Path, description = "The order's id")),
    responses(Answers))]
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
    platform::outbox::commit(tx).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(order)))
}

/// The same cancellation as `POST /orders/{id}/cancel`.
#[utoipa::path(delete, path = "/orders/{id}",
    params(("id" = i64, Path, description = "The order's id")),
    responses(Answers))]
pub async fn delete(state: State, id: Path<i64>) -> ApiResult<(StatusCode, axum::Json<Order>)> {
    cancel(state, id).await
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
