//! Product: the catalog and its stock.
//!
//! Sellers register and edit kits over HTTP (`ProductRegistered`, `ProductUpdated`). Stock moves
//! only in reaction to payments: `PaymentCompleted` takes the ordered quantity or reports a
//! `StockShortage` (stock never goes negative), `PaymentCancelled` gives back exactly what that
//! order took, once.

pub mod cataloguing;
pub mod db;
pub mod domain;
pub mod events;
pub mod http;

use contracts::Topic;
use platform::service::App;
use platform::settings::{CommonSettings, SettingsError};
use sqlx::migrate::Migrator;

pub const SERVICE: &str = "product";
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Settings from the environment (see the README's configuration table).
pub fn settings() -> Result<CommonSettings, SettingsError> {
    CommonSettings::from_env(SERVICE, 8081, "product")
}

pub async fn build(settings: CommonSettings) -> anyhow::Result<App> {
    platform::service::build(
        settings,
        &MIGRATOR,
        &[Topic::Payment],
        events::Handler,
        http::router,
    )
    .await
}
