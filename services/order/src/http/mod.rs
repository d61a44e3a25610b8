//! HTTP: `/orders`.

pub mod cancel;
pub mod orders;

use axum::Router;
use axum::routing::{get, post};
use sqlx::PgPool;

use crate::alerts::SellerAlerts;
use crate::payments::Payments;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub payments: Payments,
    pub alerts: SellerAlerts,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/orders", get(orders::list).post(orders::place))
        .route("/orders/{id}", get(orders::read).delete(cancel::cancel))
        .route("/orders/{id}/cancel", post(cancel::cancel))
        .with_state(state)
}
