//! HTTP: `/orders`.

pub mod cancel;
pub mod orders;

use platform::Store;
use platform::openapi::{OpenApiRouter, routes};

use crate::alerts::SellerAlerts;
use crate::payments::Payments;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub payments: Payments,
    pub alerts: SellerAlerts,
}

pub fn router(state: AppState) -> OpenApiRouter {
    platform::openapi::router(env!("CARGO_PKG_DESCRIPTION"))
        .routes(routes!(orders::list, orders::place))
        .routes(routes!(orders::read, cancel::delete))
        .routes(routes!(cancel::cancel))
        .with_state(state)
}
