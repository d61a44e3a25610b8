//! `/orders` handlers.

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use platform::error::{ApiResult, ErrorBody};
use platform::extract::check;
use platform::idempotency::{IdempotencyKey, IdempotencyKeyHeader};
use platform::{ApiError, Caller, Json, Party, Path, Query, Role};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use crate::db::{self, Order};
use crate::domain::NewOrder;
use crate::placing;

type State = axum::extract::State<AppState>;

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlaceOrder {
    /// Also accepted as `prodId` (the seed's load test sends that).
    #[serde(alias = "prodId")]
    #[schema(minimum = 1)]
    product_id: i64,
    #[schema(minimum = 1, maximum = 100)]
    qty: i64,
    /// The signed-in customer's id; optional (a different one is refused with `403`).
    #[schema(minimum = 1)]
    customer_id: Option<i64>,
    /// `pick-up at the store` when absent or null.
    #[schema(max_length = 500, pattern = "free text")]
    address: Option<String>,
    /// Digits with optional spaces or dashes; `4000-0000-0000-0002` is always declined.
    #[schema(pattern = r"^(?:[ -]*[0-9]){12,19}[ -]*$")]
    card_number: Option<String>,
}

/// Places an order: checks it against the product replica (the kit, and its stock as product
/// last announced it), pays synchronously, and answers `201` with the order `PLACED`
/// (`OrderPlaced` starts the delivery and stock steps).
///
/// With an `Idempotency-Key`, a retry gets the first request's answer (the same order, paid
/// once, or the same decline) for 24 hours.
#[utoipa::path(post, path = "/orders",
    request_body = PlaceOrder,
    params(IdempotencyKeyHeader),
    responses(
        (status = 201, description = "Placed and paid", body = Order,
            headers(("Location" = String, description = "The new order's URL"))),
        (status = 400, description = "The `Idempotency-Key` is not 1 to 255 visible ASCII characters (`invalid_idempotency_key`)", body = ErrorBody),
        (status = 402, description = "The card was declined (`payment_declined`); nothing was placed", body = ErrorBody),
        (status = 403, description = "Not a customer, or `customerId` names another customer (`forbidden`)", body = ErrorBody),
        (status = 409, description = "More than the kit's stock as order last heard it from product (`insufficient_stock`; the message says how many can be ordered, and nothing was stored or charged), or the first request with this `Idempotency-Key` is still being paid for (`request_in_progress`)", body = ErrorBody,
            headers(("Retry-After" = i64, description = "With `request_in_progress`: seconds to wait before trying again"))),
        (status = 422, description = "The product is not in the catalog (`unknown_product`), payment refused the order (`payment_refused`), or the `Idempotency-Key` was used for another request (`idempotency_key_reused`)", body = ErrorBody),
        (status = 503, description = "Payment is unavailable (`payment_unavailable`, nothing placed) or did not answer in time (`payment_uncertain`, settled within seconds)", body = ErrorBody,
            headers(("Retry-After" = i64, description = "Seconds to wait before trying again"))),
    ))]
pub async fn place(
    axum::extract::State(state): State,
    caller: Caller,
    key: Option<IdempotencyKey>,
    Json(body): Json<PlaceOrder>,
) -> ApiResult<impl IntoResponse> {
    let customer_id = caller.own_id(Role::Customer, body.customer_id)?;
    let new = NewOrder::parse(
        body.product_id,
        body.qty,
        customer_id,
        body.address.as_deref(),
        body.card_number.as_deref(),
    )?;
    let key = key.map(|key| {
        let request = (
            "place",
            new.product_id,
            new.qty,
            &new.address,
            &new.card_number,
        );
        key.for_request(&caller, &request)
    });
    let order = placing::place(&state.store, &state.payments, new, key.as_ref()).await?;
    let location = format!("/orders/{}", order.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        axum::Json(order),
    ))
}

/// One order (its customer's, or any for an admin).
#[utoipa::path(get, path = "/orders/{id}",
    params(("id" = i64, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The order", body = Order),
        (status = 404, description = "No such order, or someone else's (`not_found`)", body = ErrorBody),
    ))]
pub async fn read(
    axum::extract::State(state): State,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<Order>> {
    let mut conn = state.store.read().await?;
    let found = db::find(&mut conn, id).await?;
    caller
        .sees(
            found,
            |order| [Party::Customer(order.customer_id), Party::Admins],
            || ApiError::not_found("order", id),
        )
        .map(axum::Json)
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Whose orders: a customer's own (the default; another's is `403`); required for an admin.
    #[param(minimum = 1)]
    customer_id: Option<i64>,
    #[serde(default = "default_limit")]
    #[param(minimum = 1, maximum = 200, default = 50)]
    limit: i64,
    #[serde(default)]
    #[param(minimum = 0, default = 0)]
    offset: i64,
}

fn default_limit() -> i64 {
    50
}

/// A customer's orders, newest first.
#[utoipa::path(get, path = "/orders",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of the customer's orders", body = Vec<Order>),
        (status = 403, description = "Another customer's orders, or a caller who is neither a customer nor an admin (`forbidden`)", body = ErrorBody),
        (status = 422, description = "`limit` or `offset` out of range (`invalid_value`)", body = ErrorBody),
    ))]
pub async fn list(
    axum::extract::State(state): State,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> ApiResult<axum::Json<Vec<Order>>> {
    let customer_id = if caller.is_admin() {
        check::required("customerId", query.customer_id)?
    } else {
        caller.own_id(Role::Customer, query.customer_id)?
    };
    check::range("limit", query.limit, 1, 200)?;
    check::range("offset", query.offset, 0, i64::MAX)?;
    let mut conn = state.store.read().await?;
    Ok(axum::Json(
        db::by_customer(&mut conn, customer_id, query.limit, query.offset).await?,
    ))
}
