//! `POST /orders/{id}/cancel` (and `DELETE /orders/{id}`): the customer's cancellation.

use axum::http::StatusCode;
use platform::error::{ApiResult, ErrorBody};
use platform::idempotency::{IdempotencyKey, IdempotencyKeyHeader};
use platform::{ApiError, Caller, Path};

use super::AppState;
use crate::cancelling::{self, CancelError};
use crate::db::Order;

type State = axum::extract::State<AppState>;

/// What both ways of cancelling answer.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
enum Answers {
    /// Accepted: the order is `CANCEL_REQUESTED`; refund, delivery and stock follow.
    #[response(status = 202)]
    Accepted(#[to_schema] Order),
    /// The `Idempotency-Key` is not 1 to 255 visible ASCII characters (`invalid_idempotency_key`).
    #[response(status = 400)]
    BadKey(ErrorBody),
    /// No such order, or someone else's (`not_found`).
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// Already being cancelled (`already_cancelled`) or past the point of cancelling
    /// (`not_cancellable`).
    #[response(status = 409)]
    Conflict(ErrorBody),
    /// The `Idempotency-Key` was used for another request (`idempotency_key_reused`).
    #[response(status = 422)]
    KeyReused(ErrorBody),
    /// The seller could not be alerted (`seller_alert_unavailable`); nothing changed, try again.
    #[response(status = 503, headers(("Retry-After" = i64, description = "Seconds to wait before trying again")))]
    Unavailable(ErrorBody),
}

/// Accepts the cancellation (`202`, the order `CANCEL_REQUESTED`) once the seller has been
/// alerted. While the alert cannot be delivered nothing changes and the customer is asked to
/// try again shortly (`503` with `Retry-After`). A second request for an order already being
/// cancelled is a `409`, like any order past the point of cancelling, unless it repeats the
/// accepted one's `Idempotency-Key`: then it is accepted again (`202`, the order as it stands).
#[utoipa::path(post, path = "/orders/{id}/cancel",
    params(("id" = i64, Path, description = "The order's id"), IdempotencyKeyHeader),
    responses(Answers))]
pub async fn cancel(
    axum::extract::State(state): State,
    caller: Caller,
    Path(id): Path<i64>,
    key: Option<IdempotencyKey>,
) -> ApiResult<(StatusCode, axum::Json<Order>)> {
    let key = key.map(|key| key.for_request(&caller, &("cancel", id)));
    match cancelling::by_customer(&state.store, &state.alerts, &caller, id, key.as_ref()).await {
        Ok(order) => Ok((StatusCode::ACCEPTED, axum::Json(order))),
        Err(err) => Err(refusal(err, id, state.alerts.retry_after_secs())),
    }
}

/// The same cancellation as `POST /orders/{id}/cancel`.
#[utoipa::path(delete, path = "/orders/{id}",
    params(("id" = i64, Path, description = "The order's id"), IdempotencyKeyHeader),
    responses(Answers))]
pub async fn delete(
    state: State,
    caller: Caller,
    id: Path<i64>,
    key: Option<IdempotencyKey>,
) -> ApiResult<(StatusCode, axum::Json<Order>)> {
    cancel(state, caller, id, key).await
}

fn refusal(err: CancelError, id: i64, retry_after_secs: u32) -> ApiError {
    match err {
        CancelError::NotFound => ApiError::not_found("order", id),
        CancelError::NotCancellable(order) if order.status.is_cancellation() => ApiError::conflict(
            "already_cancelled",
            format!("order {} is already {}", order.id, order.status),
        ),
        CancelError::NotCancellable(order) => ApiError::conflict(
            "not_cancellable",
            format!(
                "order {} is {} and can no longer be cancelled",
                order.id, order.status
            ),
        ),
        err @ CancelError::AlertFailed(_) => {
            let why = if err.breaker_open() {
                "the notification service is overloaded"
            } else {
                "the seller could not be notified just now"
            };
            ApiError::unavailable(
                "seller_alert_unavailable",
                format!(
                    "{why}, so the cancellation was not accepted and nothing changed; please try \
                     cancelling again in {retry_after_secs} seconds"
                ),
                retry_after_secs,
            )
        }
        CancelError::KeyReused(err) => err,
        CancelError::Database(err) => err.into(),
    }
}
