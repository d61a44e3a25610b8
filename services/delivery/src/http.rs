//! `/deliveries`: read, and the seller's and customer's moves.

use axum::Router;
use axum::routing::{get, post};
use contracts::Envelope;
use platform::error::ApiResult;
use platform::{ApiError, Path, Query};
use serde::Deserialize;
use sqlx::PgPool;

use crate::SERVICE;
use crate::db::{self, Delivery};
use crate::domain::Status;

pub fn router(pool: PgPool) -> Router {
    Router::new()
        .route("/deliveries", get(by_order))
        .route("/deliveries/{id}", get(read))
        .route("/deliveries/{id}/start", post(start))
        .route("/deliveries/{id}/complete", post(complete))
        .with_state(pool)
}

type State = axum::extract::State<PgPool>;

async fn start(state: State, Path(id): Path<i64>) -> ApiResult<axum::Json<Delivery>> {
    advance(state, id, Status::Started).await
}

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
    tx.commit().await?;
    Ok(axum::Json(delivery))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ByOrder {
    order_id: Option<i64>,
}

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
