//! HTTP: `/orders`.

pub mod orders;
pub mod placing;

use axum::Router;
use axum::routing::get;
use sqlx::PgPool;

use crate::payments::Payments;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub payments: Payments,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/orders", get(orders::list).post(orders::place))
        .route("/orders/{id}", get(orders::read))
        .with_state(state)
}
