//! `/notifications`: the synchronous seller alert (internal, called by order) and reads.

use axum::http::StatusCode;
use platform::consumer::HandlerError;
use platform::error::ApiResult;
use platform::extract::check;
use platform::openapi::{OpenApiRouter, routes};
use platform::{ApiError, Json, Query};
use serde::Deserialize;
use sqlx::PgPool;
use utoipa::{IntoParams, ToSchema};

use crate::db::{self, Notification};
use crate::domain::{Notice, Recipient};
use crate::events::notify;

pub fn router(pool: PgPool) -> OpenApiRouter {
    platform::openapi::router(env!("CARGO_PKG_DESCRIPTION"))
        .routes(routes!(list))
        .routes(routes!(alert_seller))
        .with_state(pool)
}

type State = axum::extract::State<PgPool>;

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct SellerAlert {
    #[schema(minimum = 1)]
    order_id: i64,
    #[schema(minimum = 1)]
    seller_id: i64,
    /// `CUSTOMER_REQUEST` when absent.
    #[schema(
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    reason: Option<String>,
}

/// Alerts the seller that a customer asked to cancel. Idempotent per order.
/// Internal: called by the order service before it accepts a cancellation.
#[utoipa::path(post, path = "/notifications/seller-alerts",
    request_body = SellerAlert,
    responses((status = 201, description = "The seller's alert (the first one, if repeated)", body = Notification)))]
async fn alert_seller(
    axum::extract::State(state): State,
    Json(body): Json<SellerAlert>,
) -> ApiResult<(StatusCode, axum::Json<Notification>)> {
    check::positive("orderId", body.order_id)?;
    check::positive("sellerId", body.seller_id)?;
    let reason = match body.reason.as_deref() {
        Some(reason) => check::text("reason", reason, 200)?,
        None => "CUSTOMER_REQUEST".to_owned(),
    };
    let notice = Notice {
        order_id: body.order_id,
        recipient: Recipient::Seller,
        recipient_id: body.seller_id,
        kind: "CANCEL_REQUESTED",
        message: format!(
            "The customer asked to cancel order #{} (reason: {reason}).",
            body.order_id
        ),
    };
    let mut tx = state.begin().await?;
    let notification = notify(&mut tx, &notice).await.map_err(|err| match err {
        HandlerError::Database(e) => ApiError::from(e),
        HandlerError::Rejected(message) => ApiError::internal(message),
    })?;
    platform::outbox::commit(tx).await?;
    Ok((StatusCode::CREATED, axum::Json(notification)))
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only this order's notifications.
    order_id: Option<i64>,
    /// `CUSTOMER` or `SELLER`.
    #[param(pattern = "^(CUSTOMER|SELLER)$")]
    recipient: Option<String>,
    #[serde(default = "default_limit")]
    #[param(minimum = 1, maximum = 500, default = 100)]
    limit: i64,
}

fn default_limit() -> i64 {
    100
}

/// Notifications sent, newest first.
#[utoipa::path(get, path = "/notifications",
    params(ListQuery),
    responses(
        (status = 200, description = "Notifications", body = Vec<Notification>),
        (status = 422, description = "`limit` out of range (`invalid_value`)", body = platform::error::ErrorBody),
    ))]
async fn list(
    axum::extract::State(state): State,
    Query(query): Query<ListQuery>,
) -> ApiResult<axum::Json<Vec<Notification>>> {
    check::range("limit", query.limit, 1, 500)?;
    let recipient = match query.recipient.as_deref() {
        None => None,
        Some(value) => Some(
            Recipient::parse(value)
                .ok_or_else(|| ApiError::bad_request("recipient must be CUSTOMER or SELLER"))?,
        ),
    };
    let mut conn = state.acquire().await?;
    Ok(axum::Json(
        db::list(&mut conn, query.order_id, recipient, query.limit).await?,
    ))
}
