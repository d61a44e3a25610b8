//! `/sellers/{sellerId}/orders` and `/sellers/{sellerId}/cancellations`: paginated, newest
//! first, filterable by status; each order's journey ([`journey`]); and the live streams that
//! say when either changes ([`live`]).

mod journey;
mod live;

use platform::error::ApiResult;
use platform::extract::check;
use platform::openapi::{OpenApiRouter, routes};
use platform::{ApiError, Caller, Party, Path, Query, Store};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::changes::Changes;
use crate::db;
use crate::domain::{CancellationStep, SellerOrder, SellerOrderStatus};

pub fn router(store: Store, changes: Changes) -> OpenApiRouter {
    platform::openapi::router(env!("CARGO_PKG_DESCRIPTION"))
        .routes(routes!(orders))
        .routes(routes!(cancellations))
        .routes(routes!(journey::journey))
        .routes(routes!(live::journey_events))
        .routes(routes!(live::seller_events))
        .with_state(Reads { store, changes })
}

/// What the handlers read: the rows, and the changes to them.
#[derive(Clone)]
pub(crate) struct Reads {
    store: Store,
    changes: Changes,
}

impl axum::extract::FromRef<Reads> for Store {
    fn from_ref(reads: &Reads) -> Store {
        reads.store.clone()
    }
}

impl axum::extract::FromRef<Reads> for Changes {
    fn from_ref(reads: &Reads) -> Changes {
        reads.changes.clone()
    }
}

type State = axum::extract::State<Store>;

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
struct Page {
    #[serde(default = "default_limit")]
    #[param(minimum = 1, maximum = 200, default = 50)]
    limit: i64,
    #[serde(default)]
    #[param(minimum = 0, default = 0)]
    offset: i64,
}

/// `status` of `/sellers/{sellerId}/orders`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct OrderFilter {
    /// Only orders in this state.
    #[param(
        pattern = "^(PENDING|PLACED|DELIVERY_REQUESTED|SHIPPING|DELIVERED|CANCEL_REQUESTED|CANCELLED)$"
    )]
    status: Option<String>,
}

/// `status` of `/sellers/{sellerId}/cancellations`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct CancellationFilter {
    /// Only cancellations at this step.
    #[param(pattern = "^(REQUESTED|DELIVERY_CANCELLED|PAYMENT_CANCELLED|CANCELLED|REFUSED)$")]
    status: Option<String>,
}

fn default_limit() -> i64 {
    50
}

impl Page {
    fn check(&self, seller_id: i64) -> Result<(), ApiError> {
        check::positive("sellerId", seller_id)?;
        check::range("limit", self.limit, 1, 200)?;
        check::range("offset", self.offset, 0, i64::MAX)?;
        Ok(())
    }
}

/// `status` read as one of `T`'s labels (`400` naming them otherwise).
fn status_filter<T: Copy + std::fmt::Display>(
    status: Option<&str>,
    all: &[T],
    parse: fn(&str) -> Option<T>,
) -> Result<Option<T>, ApiError> {
    let Some(text) = status else {
        return Ok(None);
    };
    parse(text).map(Some).ok_or_else(|| {
        let allowed: Vec<String> = all.iter().map(ToString::to_string).collect();
        ApiError::bad_request(format!(
            "status {text} is not one of {}",
            allowed.join(", ")
        ))
    })
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Row {
    /// The order's state, derived from its events.
    status: SellerOrderStatus,
    /// On cancellations: `REQUESTED`, `DELIVERY_CANCELLED`, `PAYMENT_CANCELLED` (refunded),
    /// `CANCELLED` (stock back too), or `REFUSED` (delivered first).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    cancellation_status: Option<CancellationStep>,
    #[serde(flatten)]
    order: SellerOrder,
}

#[derive(Serialize, ToSchema)]
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

/// The seller's orders, newest first, with payment, delivery and stock progress.
#[utoipa::path(get, path = "/sellers/{sellerId}/orders",
    params(("sellerId" = i64, Path, minimum = 1, description = "The seller's id"), Page, OrderFilter),
    responses(
        (status = 200, description = "A page of the seller's orders", body = Listing),
        (status = 403, description = "Another seller's page (`forbidden`): only that seller and admins see it", body = platform::error::ErrorBody),
        (status = 422, description = "`sellerId`, `limit` or `offset` out of range (`invalid_value`)", body = platform::error::ErrorBody),
    ))]
async fn orders(
    axum::extract::State(store): State,
    caller: Caller,
    Path(seller_id): Path<i64>,
    Query(page): Query<Page>,
    Query(filter): Query<OrderFilter>,
) -> ApiResult<axum::Json<Listing>> {
    page.check(seller_id)?;
    caller.must_be(
        &[Party::Seller(seller_id), Party::Admins],
        "that seller or an admin",
    )?;
    let status = status_filter(
        filter.status.as_deref(),
        SellerOrderStatus::ALL,
        SellerOrderStatus::parse,
    )?;
    let mut conn = store.read().await?;
    let rows = db::orders(&mut conn, seller_id, status, page.limit, page.offset).await?;
    Ok(listing(seller_id, &page, rows))
}

/// The seller's cancellation requests, newest first, each with its progress: requested, delivery
/// cancelled, payment refunded, stock restored (with times) and the reason; or refused when the
/// goods were delivered first.
#[utoipa::path(get, path = "/sellers/{sellerId}/cancellations",
    params(("sellerId" = i64, Path, minimum = 1, description = "The seller's id"), Page, CancellationFilter),
    responses(
        (status = 200, description = "A page of the seller's cancellations", body = Listing),
        (status = 403, description = "Another seller's page (`forbidden`): only that seller and admins see it", body = platform::error::ErrorBody),
        (status = 422, description = "`sellerId`, `limit` or `offset` out of range (`invalid_value`)", body = platform::error::ErrorBody),
    ))]
async fn cancellations(
    axum::extract::State(store): State,
    caller: Caller,
    Path(seller_id): Path<i64>,
    Query(page): Query<Page>,
    Query(filter): Query<CancellationFilter>,
) -> ApiResult<axum::Json<Listing>> {
    page.check(seller_id)?;
    caller.must_be(
        &[Party::Seller(seller_id), Party::Admins],
        "that seller or an admin",
    )?;
    let status = status_filter(
        filter.status.as_deref(),
        CancellationStep::ALL,
        CancellationStep::parse,
    )?;
    let mut conn = store.read().await?;
    let rows = db::cancellations(&mut conn, seller_id, status, page.limit, page.offset).await?;
    Ok(listing(seller_id, &page, rows))
}
