//! Marketing: the notifications customers and sellers receive.
//!
//! Customers hear about their order (`OrderPlaced`) and every delivery change; sellers are
//! alerted synchronously before a cancellation is accepted (`POST /notifications/seller-alerts`,
//! called by order) and told when a delivery is cancelled. Each notification is stored once per
//! order, recipient and kind, and announced with `CustomerNotified` / `SellerNotified`.

pub mod alerting;
pub mod db;
pub mod domain;
pub mod events;
pub mod http;

use contracts::Topic;
use platform::service::App;
use platform::settings::{CommonSettings, SettingsError};
use sqlx::migrate::Migrator;

pub const SERVICE: &str = "marketing";
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Settings from the environment (see the README's configuration table).
pub fn settings() -> Result<CommonSettings, SettingsError> {
    CommonSettings::from_env(SERVICE, 8085, "marketing")
}

pub async fn build(settings: CommonSettings) -> anyhow::Result<App> {
    platform::service::build(
        settings,
        &MIGRATOR,
        &[Topic::Order, Topic::Delivery],
        events::Handler,
        http::router,
    )
    .await
}
