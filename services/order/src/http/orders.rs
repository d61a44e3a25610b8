//! `/orders` handlers.

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use platform::error::ApiResult;
use platform::extract::check;
use platform::{ApiError, Json, Path, Query};
use serde::Deserialize;

use super::AppState;
use crate::db::{self, Order};
use crate::domain::NewOrder;
use crate::placing;

type State = axum::extract::State<AppState>;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaceOrder {
    #[serde(alias = "prodId")]
    product_id: i64,
    qty: i64,
    customer_id: Option<i64>,
    address: Option<String>,
    card_number: Option<String>,
}

pub async fn place(
    axum::extract::State(state): State,
    Json(body): Json<PlaceOrder>,
) -> ApiResult<impl IntoResponse> {
    let new = NewOrder::parse(
        body.product_id,
        body.qty,
        body.customer_id,
        body.address.as_deref(),
        body.card_number.as_deref(),
    )?;
    let order = placing::place(&state.pool, &state.payments, new).await?;
    let location = format!("/orders/{}", order.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        axum::Json(order),
    ))
}

pub async fn read(
    axum::extract::State(state): State,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<Order>> {
    let mut conn = state.pool.acquire().await?;
    db::find(&mut conn, id)
        .await?
        .map(axum::Json)
        .ok_or_else(|| ApiError::not_found("order", id))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    customer_id: Option<i64>,
    #[serde(default = "default_limit")]
    limit: i64,
    #[serde(default)]
    offset: i64,
}

fn default_limit() -> i64 {
    50
}

pub async fn list(
    axum::extract::State(state): State,
    Query(query): Query<ListQuery>,
) -> ApiResult<axum::Json<Vec<Order>>> {
    let customer_id = platform::extract::check::required("customerId", query.customer_id)?;
    check::range("limit", query.limit, 1, 200)?;
    check::range("offset", query.offset, 0, i64::MAX)?;
    let mut conn = state.pool.acquire().await?;
    Ok(axum::Json(
        db::by_customer(&mut conn, customer_id, query.limit, query.offset).await?,
    ))
}
