//! `/deliveries`: read, and the seller's and customer's moves.

use contracts::DeliveryStatus;
use platform::error::{ApiResult, ErrorBody};
use platform::openapi::{OpenApiRouter, routes};
use platform::{ApiError, Caller, Path, Query, Store};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::advancing::{self, AdvanceError, owners};
use crate::db::{self, Delivery};

pub fn router(store: Store) -> OpenApiRouter {
    platform::openapi::router(env!("CARGO_PKG_DESCRIPTION"))
        .routes(routes!(by_order))
        .routes(routes!(read))
        .routes(routes!(start))
        .routes(routes!(complete))
        .with_state(store)
}

type State = axum::extract::State<Store>;

/// The seller ships: `REQUESTED` → `STARTED` (`DeliveryStarted`).
#[utoipa::path(post, path = "/deliveries/{id}/start",
    params(("id" = i64, Path, description = "The delivery's id")),
    responses(
        (status = 200, description = "Started", body = Delivery),
        (status = 403, description = "Neither the order's seller nor a courier (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such delivery, or one the caller may not see (`not_found`)", body = ErrorBody),
        (status = 409, description = "Not `REQUESTED` (`invalid_state`)", body = ErrorBody),
    ))]
async fn start(
    state: State,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<Delivery>> {
    advance(state, &caller, id, DeliveryStatus::Started).await
}

/// The customer received it: `STARTED` → `COMPLETED` (`DeliveryCompleted`).
#[utoipa::path(post, path = "/deliveries/{id}/complete",
    params(("id" = i64, Path, description = "The delivery's id")),
    responses(
        (status = 200, description = "Completed", body = Delivery),
        (status = 403, description = "Neither the order's customer nor a courier (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such delivery, or one the caller may not see (`not_found`)", body = ErrorBody),
        (status = 409, description = "Not `STARTED` (`invalid_state`)", body = ErrorBody),
    ))]
async fn complete(
    state: State,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<Delivery>> {
    advance(state, &caller, id, DeliveryStatus::Completed).await
}

async fn advance(
    axum::extract::State(store): State,
    caller: &Caller,
    id: i64,
    next: DeliveryStatus,
) -> ApiResult<axum::Json<Delivery>> {
    match advancing::advance(&store, caller, id, next).await {
        Err(AdvanceError::Forbidden(err)) => Err(err),
        Ok(delivery) => Ok(axum::Json(delivery)),
        Err(AdvanceError::NotFound) => Err(ApiError::not_found("delivery", id)),
        Err(AdvanceError::InvalidState { current, next }) => Err(ApiError::conflict(
            "invalid_state",
            format!("delivery {id} is {current} and cannot become {next}"),
        )),
        Err(AdvanceError::Database(err)) => Err(err.into()),
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
struct ByOrder {
    /// Required.
    #[param(required = true, nullable = false)]
    order_id: Option<i64>,
}

/// The delivery of one order, as a list of zero or one.
#[utoipa::path(get, path = "/deliveries",
    params(ByOrder),
    responses((status = 200, description = "The order's delivery, if any", body = Vec<Delivery>)))]
async fn by_order(
    axum::extract::State(store): State,
    caller: Caller,
    Query(query): Query<ByOrder>,
) -> ApiResult<axum::Json<Vec<Delivery>>> {
    let order_id = platform::extract::check::required("orderId", query.order_id)?;
    let mut conn = store.read().await?;
    Ok(axum::Json(
        db::by_order(&mut conn, order_id)
            .await?
            .filter(|delivery| caller.is_one_of(&owners(delivery)))
            .into_iter()
            .collect(),
    ))
}

/// One delivery.
#[utoipa::path(get, path = "/deliveries/{id}",
    params(("id" = i64, Path, description = "The delivery's id")),
    responses(
        (status = 200, description = "The delivery", body = Delivery),
        (status = 404, description = "No such delivery, or someone else's (`not_found`)", body = ErrorBody),
    ))]
async fn read(
    axum::extract::State(store): State,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<Delivery>> {
    let mut conn = store.read().await?;
    let found = db::by_id(&mut conn, id).await?;
    caller
        .sees(found, owners, || ApiError::not_found("delivery", id))
        .map(axum::Json)
}
