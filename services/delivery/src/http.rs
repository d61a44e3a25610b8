//! `/deliveries`: read, and the seller's and customer's moves.

use contracts::Envelope;
use platform::error::{ApiResult, ErrorBody};
use platform::openapi::{OpenApiRouter, routes};
use platform::{ApiError, Path, Query};
use serde::Deserialize;
use sqlx::PgPool;
use utoipa::IntoParams;

use crate::SERVICE;
use crate::db::{self, Delivery};
use crate::domain::Status;

pub fn router(pool: PgPool) -> OpenApiRouter {
    platform::openapi::router(env!("CARGO_PKG_DESCRIPTION"))
        .routes(routes!(by_order))
        .routes(routes!(read))
        .routes(routes!(start))
        .routes(routes!(complete))
        .with_state(pool)
}

type State = axum::extract::State<PgPool>;

/// The seller ships: `REQUESTED` → `STARTED` (`DeliveryStarted`).
#[utoipa::path(post, path = "/deliveries/{id}/start",
    params(("id" = i64, Path, description = "The delivery's id")),
    responses(
        (status = 200, description = "Started", body = Delivery),
        (status = 404, description = "No such delivery (`not_found`)", body = ErrorBody),
        (status = 409, description = "Not `REQUESTED` (`invalid_state`)", body = ErrorBody),
    ))]
async fn start(state: State, Path(id): Path<i64>) -> ApiResult<axum::Json<Delivery>> {
    advance(state, id, Status::Started).await
}

/// The customer received it: `STARTED` → `COMPLETED` (`DeliveryCompleted`).
#[utoipa::path(post, path = "/deliveries/{id}/complete",
    params(("id" = i64, Path, description = "The delivery's id")),
    responses(
        (status = 200, description = "Completed", body = Delivery),
        (status = 404, description = "No such delivery (`not_found`)", body = ErrorBody),
        (status = 409, description = "Not `STARTED` (`invalid_state`)", body = ErrorBody),
    ))]
async fn complete(state: State, Path(id): Path<i64>) -> ApiResult<axum::Json<Delivery>> {
    advance(state, id, Status::Completed).await
}

async fn advance(
    axum::extract::State(state): State,
    id: i64,
    next: Status,
) -> ApiResult<axum::Json<Delivery>> {
    let mut tx = state.begin().await?;
    let Some(delivery) = db::transition(&mut tx, "id", id, next).await? else {
        let current = db::by_id(&mut tx, id)
            .await?
            .ok_or_else(|| ApiError::not_found("delivery", id))?;
        return Err(ApiError::conflict(
            "invalid_state",
            format!(
                "delivery {id} is {} and cannot become {}",
                current.status,
                next.as_str()
            ),
        ));
    };
    let event = next.event(delivery.change());
    platform::outbox::enqueue(&mut tx, &Envelope::new(SERVICE, event)).await?;
    platform::outbox::commit(tx).await?;
    Ok(axum::Json(delivery))
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
    axum::extract::State(state): State,
    Query(query): Query<ByOrder>,
) -> ApiResult<axum::Json<Vec<Delivery>>> {
    let order_id = platform::extract::check::required("orderId", query.order_id)?;
    let mut conn = state.acquire().await?;
    Ok(axum::Json(
        db::by_order(&mut conn, order_id)
            .await?
            .into_iter()
            .collect(),
    ))
}

/// One delivery.
#[utoipa::path(get, path = "/deliveries/{id}",
    params(("id" = i64, Path, description = "The delivery's id")),
    responses(
        (status = 200, description = "The delivery", body = Delivery),
        (status = 404, description = "No such delivery (`not_found`)", body = ErrorBody),
    ))]
async fn read(
    axum::extract::State(state): State,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<Delivery>> {
    let mut conn = state.acquire().await?;
    db::by_id(&mut conn, id)
        .await?
        .map(axum::Json)
        .ok_or_else(|| ApiError::not_found("delivery", id))
}
