//! Seller page: the sellers' read model (CQRS), built only from events.
//!
//! It never calls another service, so it keeps answering while order, payment and delivery are
//! down. Each order is one row merged from events of every topic by [`domain::SellerOrder::apply`],
//! which is order-independent: statuses only move forward and timestamps are kept once set.

pub mod db;
pub mod domain;
pub mod events;
pub mod http;

use contracts::Topic;
use platform::service::App;
use platform::settings::{CommonSettings, SettingsError};
use sqlx::migrate::Migrator;

pub const SERVICE: &str = "sellerpage";
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Settings from the environment (see the README's configuration table).
pub fn settings() -> Result<CommonSettings, SettingsError> {
    CommonSettings::from_env(SERVICE, 8086, "sellerpage")
}

pub async fn build(settings: CommonSettings) -> anyhow::Result<App> {
    platform::service::build(
        settings,
        &MIGRATOR,
        &[
            Topic::Order,
            Topic::Payment,
            Topic::Delivery,
            Topic::Product,
        ],
        events::Handler,
        http::router,
    )
    .await
}
