//! Payment: approves or declines an order's payment synchronously, idempotently per order,
//! and refunds it once the order's delivery is cancelled (`DeliveryCancelled` →
//! `PaymentCancelled`): never before delivery has decided the cancellation against the goods'
//! arrival, so delivered goods are never refunded.
//!
//! There is no card network here: every card is approved except the documented declining test
//! card [`domain::DECLINING_TEST_CARD`].

pub mod charging;
pub mod db;
pub mod domain;
pub mod events;
pub mod http;

use contracts::Topic;
use platform::service::App;
use platform::settings::{CommonSettings, SettingsError};
use sqlx::migrate::Migrator;

pub const SERVICE: &str = "payment";
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Settings from the environment (see the README's configuration table).
pub fn settings() -> Result<CommonSettings, SettingsError> {
    CommonSettings::from_env(SERVICE, 8083, "payment")
}

pub async fn build(settings: CommonSettings) -> anyhow::Result<App> {
    platform::service::build(
        settings,
        &MIGRATOR,
        &[Topic::Delivery],
        events::Handler,
        http::router,
    )
    .await
}
