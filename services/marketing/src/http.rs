//! `/notifications`: the synchronous seller alert (internal, called by order) and reads.

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use platform::consumer::HandlerError;
use platform::error::ApiResult;
use platform::extract::check;
use platform::{ApiError, Json, Query};
use serde::Deserialize;
use sqlx::PgPool;

use crate::db::{self, Notification};
use crate::domain::{Notice, Recipient};
use crate::events::notify;

pub fn router(pool: PgPool) -> Router {
    Router::new()
        .route("/notifications", get(list))
        .route("/notifications/seller-alerts", post(alert_seller))
        .with_state(pool)
}

type State = axum::extract::State<PgPool>;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SellerAlert {
    order_id: i64,
    seller_id: i64,
    reason: Option<String>,
}

/// Alerts the seller that a customer asked to cancel. Idempotent per order.
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
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(notification)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    order_id: Option<i64>,
    recipient: Option<String>,
    #[serde(default = "default_limit")]
    limit: i64,
}

fn default_limit() -> i64 {
    100
}

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
