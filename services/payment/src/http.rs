//! `/payments`: the synchronous charge (internal, called by order) and reads.

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use contracts::{Envelope, Event, PaymentCompleted};
use platform::error::ApiResult;
use platform::{ApiError, Json, Path, Query};
use serde::Deserialize;
use sqlx::PgPool;

use crate::SERVICE;
use crate::db::{self, Payment};
use crate::domain::Charge;

pub fn router(pool: PgPool) -> Router {
    Router::new()
        .route("/payments", get(by_order).post(charge))
        .route("/payments/{id}", get(read))
        .with_state(pool)
}

type State = axum::extract::State<PgPool>;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChargeRequest {
    order_id: i64,
    customer_id: i64,
    seller_id: i64,
    product_id: i64,
    qty: i64,
    amount: i64,
    address: String,
    card_number: Option<String>,
}

/// Approves (201 and `PaymentCompleted`) or declines (402) the order's payment. Idempotent per
/// order: a repeated call answers what the first decided (200 for an existing approval).
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
    let mut tx = state.begin().await?;
    let (payment, created) = match db::insert(&mut tx, &charge, status, decline).await? {
        Some(payment) => (payment, true),
        None => (
            db::by_order(&mut tx, charge.order_id)
                .await?
                .ok_or_else(|| ApiError::internal("payment vanished after a conflict"))?,
            false,
        ),
    };
    if created && payment.status == "APPROVED" {
        let event = Event::PaymentCompleted(PaymentCompleted {
            payment_id: payment.id,
            order_id: payment.order_id,
            customer_id: payment.customer_id,
            seller_id: payment.seller_id,
            product_id: payment.product_id,
            qty: payment.qty,
            amount: payment.amount,
            address: payment.address.clone(),
        });
        platform::outbox::enqueue(&mut tx, &Envelope::new(SERVICE, event)).await?;
    }
    tx.commit().await?;
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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ByOrder {
    order_id: Option<i64>,
}

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
