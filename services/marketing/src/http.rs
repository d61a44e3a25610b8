//! `/notifications`: the synchronous seller alert (internal, called by order) and reads.

use axum::http::StatusCode;
use contracts::calls::SellerAlert;
use platform::consumer::HandlerError;
use platform::error::ApiResult;
use platform::extract::check;
use platform::openapi::{OpenApiRouter, routes};
use platform::{ApiError, Caller, Json, Query, Role, ServiceCaller, Store};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::alerting::{self, Alert};
use crate::db::{self, Notification};
use crate::domain::Recipient;

pub fn router(store: Store) -> OpenApiRouter {
    platform::openapi::router(env!("CARGO_PKG_DESCRIPTION"))
        .routes(routes!(list))
        .routes(routes!(alert_seller))
        .with_state(store)
}

type State = axum::extract::State<Store>;

/// Alerts the seller that a customer asked to cancel. Idempotent per order.
/// Internal: called by the order service before it accepts a cancellation.
#[utoipa::path(post, path = "/notifications/seller-alerts",
    request_body = SellerAlert,
    responses(
        (status = 201, description = "The seller's alert (the first one, if repeated)", body = Notification),
        (status = 403, description = "Not one of our services (`forbidden`)", body = platform::error::ErrorBody),
    ))]
async fn alert_seller(
    axum::extract::State(store): State,
    _caller: ServiceCaller,
    Json(body): Json<SellerAlert>,
) -> ApiResult<(StatusCode, axum::Json<Notification>)> {
    let alert = Alert::parse(&body)?;
    let notification = alerting::alert_seller(&store, &alert)
        .await
        .map_err(|err| match err {
            HandlerError::Database(e) => ApiError::from(e),
            HandlerError::Rejected(message) | HandlerError::Contradicts(message) => {
                ApiError::internal(message)
            }
        })?;
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
        (status = 200, description = "The caller's own notifications", body = Vec<Notification>),
        (status = 403, description = "Not a customer or seller, or `recipient` names the other kind (`forbidden`)", body = platform::error::ErrorBody),
        (status = 422, description = "`limit` out of range (`invalid_value`)", body = platform::error::ErrorBody),
    ))]
async fn list(
    axum::extract::State(store): State,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> ApiResult<axum::Json<Vec<Notification>>> {
    check::range("limit", query.limit, 1, 500)?;
    let asked = match query.recipient.as_deref() {
        None => None,
        Some(value) => Some(
            Recipient::parse_loosely(value)
                .ok_or_else(|| ApiError::bad_request("recipient must be CUSTOMER or SELLER"))?,
        ),
    };
    let own = match caller.role {
        Role::Customer => Recipient::Customer,
        Role::Seller => Recipient::Seller,
        _ => {
            return Err(platform::auth::forbidden(
                "notifications are read by the customer or seller they were sent to",
            ));
        }
    };
    if asked.is_some_and(|asked| asked != own) {
        return Err(platform::auth::forbidden(format!(
            "you are signed in as a {} and read only your own notifications",
            caller.role
        )));
    }
    let mut conn = store.read().await?;
    Ok(axum::Json(
        db::list(&mut conn, own, caller.id, query.order_id, query.limit).await?,
    ))
}
