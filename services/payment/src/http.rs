//! `/payments`: the synchronous charge (internal, called by order) and reads.

use axum::http::StatusCode;
use contracts::{Envelope, Event, PaymentCompleted};
use platform::error::{ApiResult, ErrorBody};
use platform::openapi::{OpenApiRouter, routes};
use platform::{ApiError, Json, Path, Query};
use serde::Deserialize;
use sqlx::PgPool;
use utoipa::{IntoParams, ToSchema};

use crate::SERVICE;
use crate::db::{self, Payment};
use crate::domain::Charge;

pub fn router(pool: PgPool) -> OpenApiRouter {
    platform::openapi::router(env!("CARGO_PKG_DESCRIPTION"))
        .routes(routes!(by_order, charge))
        .routes(routes!(read))
        .with_state(pool)
}

type State = axum::extract::State<PgPool>;

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ChargeRequest {
    #[schema(minimum = 1)]
    order_id: i64,
    /// `0` for a guest.
    #[schema(minimum = 0)]
    customer_id: i64,
    #[schema(minimum = 1)]
    seller_id: i64,
    #[schema(minimum = 1)]
    product_id: i64,
    #[schema(minimum = 1, maximum = 100)]
    qty: i64,
    /// In won.
    #[schema(minimum = 0)]
    amount: i64,
    #[schema(
        max_length = 500,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    address: String,
    /// Digits with optional spaces or dashes; `4000-0000-0000-0002` is always declined.
    #[schema(pattern = r"^(?:[ -]*[0-9]){12,19}[ -]*$")]
    card_number: Option<String>,
}

/// Approves (201 and `PaymentCompleted`) or declines (402) the order's payment. Idempotent per
/// order: a repeated call answers what the first decided (200 for an existing approval).
/// Internal: called by the order service while it places an order.
#[utoipa::path(post, path = "/payments",
    request_body = ChargeRequest,
    responses(
        (status = 201, description = "Approved", body = Payment),
        (status = 200, description = "Approved earlier for this order (a repeated call)", body = Payment),
        (status = 402, description = "Declined (`payment_declined`), now or earlier for this order", body = ErrorBody),
    ))]
async fn charge(
    axum::extract::State(state): State,
    Json(body): Json<ChargeRequest>,
) -> ApiResult<(StatusCode, axum::Json<Payment>)> {
    let charge = Charge::parse(
        body.order_id,
        body.customer_id,
        body.seller_id,
        body.product_id,
        body.qty,
        body.amount,
        &body.address,
        body.card_number.as_deref(),
    )?;
    let decline = charge.decline_reason();
    let status = if decline.is_some() {
        "DECLINED"
    } else {
        "APPROVED"
    };
    // The id is drawn first so that the payment and the event that carries it are written by
    // one statement: two round trips instead of a four-step transaction.
    let mut conn = state.acquire().await?;
    let id = db::next_id(&mut conn).await?;
    let completed = decline.is_none().then(|| {
        Envelope::new(
            SERVICE,
            Event::PaymentCompleted(PaymentCompleted {
                payment_id: id,
                order_id: charge.order_id,
                customer_id: charge.customer_id,
                seller_id: charge.seller_id,
                product_id: charge.product_id,
                qty: charge.qty,
                amount: charge.amount,
                address: charge.address.clone(),
            }),
        )
    });
    let (payment, created) =
        match db::insert(&mut conn, id, &charge, status, decline, completed.as_ref()).await? {
            Some(payment) => {
                if completed.is_some() {
                    platform::outbox::committed_alone();
                }
                (payment, true)
            }
            None => (
                db::by_order(&mut conn, charge.order_id)
                    .await?
                    .ok_or_else(|| ApiError::internal("payment vanished after a conflict"))?,
                false,
            ),
        };
    match payment.status.as_str() {
        "DECLINED" => Err(ApiError::new(
            StatusCode::PAYMENT_REQUIRED,
            "payment_declined",
            "the card was declined; use another card",
        )),
        _ if created => Ok((StatusCode::CREATED, axum::Json(payment))),
        _ => Ok((StatusCode::OK, axum::Json(payment))),
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
    axum::extract::State(state): State,
    Query(query): Query<ByOrder>,
) -> ApiResult<axum::Json<Vec<Payment>>> {
    let order_id = platform::extract::check::required("orderId", query.order_id)?;
    let mut conn = state.acquire().await?;
    Ok(axum::Json(
        db::by_order(&mut conn, order_id)
            .await?
            .into_iter()
            .collect(),
    ))
}

/// One payment.
#[utoipa::path(get, path = "/payments/{id}",
    params(("id" = i64, Path, description = "The payment's id")),
    responses(
        (status = 200, description = "The payment", body = Payment),
        (status = 404, description = "No such payment (`not_found`)", body = ErrorBody),
    ))]
async fn read(
    axum::extract::State(state): State,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<Payment>> {
    let mut conn = state.acquire().await?;
    db::by_id(&mut conn, id)
        .await?
        .map(axum::Json)
        .ok_or_else(|| ApiError::not_found("payment", id))
}
