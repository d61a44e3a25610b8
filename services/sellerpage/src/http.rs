//! `/sellers/{sellerId}/orders` and `/sellers/{sellerId}/cancellations`.

use axum::Router;
use axum::routing::get;
use platform::error::ApiResult;
use platform::extract::check;
use platform::{ApiError, Path, Query};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use crate::db;
use crate::domain::SellerOrder;

pub fn router(pool: PgPool) -> Router {
    Router::new()
        .route("/sellers/{seller_id}/orders", get(orders))
        .route("/sellers/{seller_id}/cancellations", get(cancellations))
        .with_state(pool)
}

type State = axum::extract::State<PgPool>;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    #[serde(default = "default_limit")]
    limit: i64,
    #[serde(default)]
    offset: i64,
    status: Option<String>,
}

fn default_limit() -> i64 {
    50
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    status: &'static str,
    #[serde(flatten)]
    order: SellerOrder,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Listing {
    seller_id: i64,
    limit: i64,
    offset: i64,
    items: Vec<Row>,
}

fn checked(seller_id: i64, page: &Page) -> Result<(), ApiError> {
    check::positive("sellerId", seller_id)?;
    check::range("limit", page.limit, 1, 200)?;
    check::range("offset", page.offset, 0, i64::MAX)
}

fn listing(seller_id: i64, page: &Page, rows: Vec<SellerOrder>) -> axum::Json<Listing> {
    let wanted = page.status.as_deref().map(str::to_ascii_uppercase);
    let items = rows
        .into_iter()
        .map(|order| Row {
            status: order.status(),
            order,
        })
        .filter(|row| wanted.as_deref().is_none_or(|w| w == row.status))
        .collect();
    axum::Json(Listing {
        seller_id,
        limit: page.limit,
        offset: page.offset,
        items,
    })
}

async fn orders(
    axum::extract::State(state): State,
    Path(seller_id): Path<i64>,
    Query(page): Query<Page>,
) -> ApiResult<axum::Json<Listing>> {
    checked(seller_id, &page)?;
    let mut conn = state.acquire().await?;
    let rows = db::orders(&mut conn, seller_id, page.limit, page.offset).await?;
    Ok(listing(seller_id, &page, rows))
}

async fn cancellations(
    axum::extract::State(state): State,
    Path(seller_id): Path<i64>,
    Query(page): Query<Page>,
) -> ApiResult<axum::Json<Listing>> {
    checked(seller_id, &page)?;
    let mut conn = state.acquire().await?;
    let rows = db::cancellations(&mut conn, seller_id, page.limit, page.offset).await?;
    Ok(listing(seller_id, &page, rows))
}
