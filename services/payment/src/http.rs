//! `/payments`: the synchronous charge (internal, called by order) and reads.

use axum::http::StatusCode;
use contracts::calls::ChargeRequest;
use platform::error::{ApiResult, ErrorBody};
use platform::openapi::{OpenApiRouter, routes};
use platform::{ApiError, Caller, Json, Party, Path, Query, ServiceCaller, Store};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::charging::{self, ChargeError, Charged};
use crate::db::{self, Payment};
use crate::domain::Charge;

pub fn router(store: Store) -> OpenApiRouter {
    platform::openapi::router(env!("CARGO_PKG_DESCRIPTION"))
        .routes(routes!(by_order, charge))
        .routes(routes!(read))
        .with_state(store)
}

type State = axum::extract::State<Store>;

/// Approves (201 and `PaymentCompleted`) or declines (402) the order's payment. Idempotent per
/// order: a repeated call answers what the first decided (200 for an existing approval).
/// Internal: called by the order service while it places an order.
#[utoipa::path(post, path = "/payments",
    request_body = ChargeRequest,
    responses(
        (status = 201, description = "Approved", body = Payment),
        (status = 200, description = "Approved earlier for this order (a repeated call)", body = Payment),
        (status = 402, description = "Declined (`payment_declined`), now or earlier for this order", body = ErrorBody),
        (status = 403, description = "Not one of our services (`forbidden`)", body = ErrorBody),
        (status = 409, description = "The order was charged before with other contents (`idempotency_conflict`)", body = ErrorBody),
    ))]
async fn charge(
    axum::extract::State(store): State,
    _caller: ServiceCaller,
    Json(body): Json<ChargeRequest>,
) -> ApiResult<(StatusCode, axum::Json<Payment>)> {
    let charge = Charge::parse(&body)?;
    match charging::charge(&store, &charge).await {
        Ok(Charged::Approved(payment)) => Ok((StatusCode::CREATED, axum::Json(payment))),
        Ok(Charged::Earlier(payment)) => Ok((StatusCode::OK, axum::Json(payment))),
        Ok(Charged::Conflicting(payment)) => Err(ApiError::conflict(
            "idempotency_conflict",
            format!(
                "order {} was charged before with other contents (payment {}); a charge is \
                 repeated only with the same contents",
                payment.order_id, payment.id
            ),
        )),
        Ok(Charged::Declined) => Err(ApiError::new(
            StatusCode::PAYMENT_REQUIRED,
            "payment_declined",
            "the card was declined; use another card",
        )),
        Err(ChargeError::Database(err)) => Err(err.into()),
        Err(err @ ChargeError::Vanished(_)) => Err(ApiError::internal(err.to_string())),
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

/// The payment of one order, as a list of zero or one.
#[utoipa::path(get, path = "/payments",
    params(ByOrder),
    responses((status = 200, description = "The order's payment, if any", body = Vec<Payment>)))]
async fn by_order(
    axum::extract::State(store): State,
    caller: Caller,
    Query(query): Query<ByOrder>,
) -> ApiResult<axum::Json<Vec<Payment>>> {
    let order_id = platform::extract::check::required("orderId", query.order_id)?;
    let mut conn = store.read().await?;
    Ok(axum::Json(
        db::by_order(&mut conn, order_id)
            .await?
            .filter(|payment| caller.is_one_of(&owners(payment)))
            .into_iter()
            .collect(),
    ))
}

/// Who may see a payment: the order's customer, admins, and our services (order settling a
/// pending order asks payment what it did).
fn owners(payment: &Payment) -> [Party; 3] {
    [
        Party::Customer(payment.customer_id),
        Party::Admins,
        Party::Services,
    ]
}

/// One payment.
#[utoipa::path(get, path = "/payments/{id}",
    params(("id" = i64, Path, description = "The payment's id")),
    responses(
        (status = 200, description = "The payment", body = Payment),
        (status = 404, description = "No such payment, or someone else's (`not_found`)", body = ErrorBody),
    ))]
async fn read(
    axum::extract::State(store): State,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<Payment>> {
    let mut conn = store.read().await?;
    let found = db::by_id(&mut conn, id).await?;
    caller
        .sees(found, owners, || ApiError::not_found("payment", id))
        .map(axum::Json)
}
