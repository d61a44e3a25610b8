//! `/sellers/{sellerId}/orders` and `/sellers/{sellerId}/cancellations`: paginated, newest
//! first, filterable by status.

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

const ORDER_STATUSES: [&str; 7] = [
    "PENDING",
    "PLACED",
    "DELIVERY_REQUESTED",
    "SHIPPING",
    "DELIVERED",
    "CANCEL_REQUESTED",
    "CANCELLED",
];
const CANCELLATION_STATUSES: [&str; 4] = [
    "REQUESTED",
    "PAYMENT_CANCELLED",
    "DELIVERY_CANCELLED",
    "CANCELLED",
];

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

impl Page {
    /// Checks the page and returns the status filter, upper-cased, if it is one of `allowed`.
    fn check(&self, seller_id: i64, allowed: &[&str]) -> Result<Option<String>, ApiError> {
        check::positive("sellerId", seller_id)?;
        check::range("limit", self.limit, 1, 200)?;
        check::range("offset", self.offset, 0, i64::MAX)?;
        match self.status.as_deref().map(str::to_ascii_uppercase) {
            None => Ok(None),
            Some(status) if allowed.contains(&status.as_str()) => Ok(Some(status)),
            Some(other) => Err(ApiError::bad_request(format!(
                "status {other} is not one of {}",
                allowed.join(", ")
            ))),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cancellation_status: Option<&'static str>,
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

fn listing(seller_id: i64, page: &Page, rows: Vec<SellerOrder>) -> axum::Json<Listing> {
    let items = rows
        .into_iter()
        .map(|order| Row {
            status: order.status(),
            cancellation_status: order.cancellation_status(),
            order,
        })
        .collect();
    axum::Json(Listing {
        seller_id,
        limit: page.limit,
        offset: page.offset,
        items,
    })
}

async fn orders(
    axum::extract::State(pool): State,
    Path(seller_id): Path<i64>,
    Query(page): Query<Page>,
) -> ApiResult<axum::Json<Listing>> {
    list(pool, seller_id, page, false).await
}

/// The seller's cancellation requests, newest first, each with its progress: requested, payment
/// cancelled, delivery cancelled, stock restored (with times) and the reason.
async fn cancellations(
    axum::extract::State(pool): State,
    Path(seller_id): Path<i64>,
    Query(page): Query<Page>,
) -> ApiResult<axum::Json<Listing>> {
    list(pool, seller_id, page, true).await
}

async fn list(
    pool: PgPool,
    seller_id: i64,
    page: Page,
    cancellations: bool,
) -> ApiResult<axum::Json<Listing>> {
    let allowed: &[&str] = if cancellations {
        &CANCELLATION_STATUSES
    } else {
        &ORDER_STATUSES
    };
    let status = page.check(seller_id, allowed)?;
    let mut conn = pool.acquire().await?;
    let rows = if cancellations {
        db::cancellations(
            &mut conn,
            seller_id,
            status.as_deref(),
            page.limit,
            page.offset,
        )
        .await?
    } else {
        db::orders(
            &mut conn,
            seller_id,
            status.as_deref(),
            page.limit,
            page.offset,
        )
        .await?
    };
    Ok(listing(seller_id, &page, rows))
}
