//! `GET /orders/{orderId}/journey`: every step of one order's saga, with times, and what it
//! waits for. Answered from this read model alone, so it answers while the services whose steps
//! it shows are down.

use chrono::{DateTime, Utc};
use platform::error::{ApiResult, ErrorBody};
use platform::{ApiError, Caller, Party, Path, Store};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db;
use crate::domain::{CancellationStep, SellerOrderStatus};
use crate::journey::{Pending, Step};

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct Journey {
    order_id: i64,
    /// The order's state, derived from its events.
    status: SellerOrderStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    cancellation_status: Option<CancellationStep>,
    /// Every step taken, in the order they happened.
    steps: Vec<TakenStep>,
    /// What the saga waits for (nothing once it is finished).
    pending: Vec<PendingStep>,
    /// Delivered, cancelled, or refused a cancellation: nothing more will happen.
    pub(super) finished: bool,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct TakenStep {
    #[serde(flatten)]
    step: Step,
    /// Milliseconds since the step before (none for the first).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    lag_ms: Option<i64>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct PendingStep {
    #[serde(flatten)]
    pending: Pending,
    /// Seconds it has waited so far.
    waiting_seconds: f64,
}

/// One order's journey through its saga: payment, acceptance, the seller page, stock,
/// delivery, notifications, or the cancellation chain step by step; each with its service,
/// event, time and the lag from the step before; and the steps still pending, for how long.
/// For the order's customer and admins.
#[utoipa::path(get, path = "/orders/{orderId}/journey",
    params(("orderId" = i64, Path, minimum = 1, description = "The order's id")),
    responses(
        (status = 200, description = "The order's journey", body = Journey),
        (status = 404, description = "No such order (none of its events has arrived), or someone else's (`not_found`)", body = ErrorBody),
        (status = 422, description = "`orderId` out of range (`invalid_value`)", body = ErrorBody),
    ))]
pub(super) async fn journey(
    axum::extract::State(store): axum::extract::State<Store>,
    caller: Caller,
    Path(order_id): Path<i64>,
) -> ApiResult<axum::Json<Journey>> {
    let row = visible_row(&store, &caller, order_id).await?;
    Ok(axum::Json(answer(&row, Utc::now())))
}

/// The row of `order_id` if `caller` may see its journey: its customer and admins (`404` for
/// anyone else, as for an order that does not exist).
pub(super) async fn visible_row(
    store: &Store,
    caller: &Caller,
    order_id: i64,
) -> ApiResult<db::OrderRow> {
    platform::extract::check::positive("orderId", order_id)?;
    let mut conn = store.read().await?;
    let found = db::find(&mut conn, order_id).await?;
    caller.sees(
        found,
        |row| {
            // An order whose customer is not known yet is an admin's to see only.
            [
                row.view.customer_id.map_or(Party::Admins, Party::Customer),
                Party::Admins,
            ]
        },
        || ApiError::not_found("order", order_id),
    )
}

pub(super) fn answer(row: &db::OrderRow, now: DateTime<Utc>) -> Journey {
    let (view, journey) = (&row.view, &row.journey);
    let mut before: Option<DateTime<Utc>> = None;
    let steps = journey
        .all()
        .iter()
        .map(|step| {
            let lag_ms = before.map(|at| (step.at - at).num_milliseconds());
            before = Some(step.at);
            TakenStep {
                step: step.clone(),
                lag_ms,
            }
        })
        .collect();
    let pending: Vec<PendingStep> = journey
        .pending()
        .into_iter()
        .map(|pending| PendingStep {
            waiting_seconds: (now - pending.since).num_milliseconds().max(0) as f64 / 1000.0,
            pending,
        })
        .collect();
    Journey {
        order_id: view.order_id,
        status: view.status(),
        cancellation_status: view.cancellation_status(),
        finished: journey.finished(),
        steps,
        pending,
    }
}
