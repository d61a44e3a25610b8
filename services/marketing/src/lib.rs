//! Marketing: the notifications customers and sellers receive.
//!
//! Customers hear about their order (`OrderPlaced`) and every delivery change; sellers are
//! alerted synchronously before a cancellation is accepted (`POST /notifications/seller-alerts`,
//! called by order) and told when a delivery is cancelled. Each notification is stored once per
//! order, recipient and kind, and announced with `CustomerNotified` / `SellerNotified`.

pub mod db;
pub mod domain;
pub mod events;
pub mod http;

use contracts::Topic;
use platform::service::{App, ServiceBuilder};
use platform::settings::{CommonSettings, SettingsError};
use sqlx::migrate::Migrator;

pub const SERVICE: &str = "marketing";
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone)]
pub struct Settings {
    pub common: CommonSettings,
}

impl Settings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Ok(Self {
            common: CommonSettings::from_env(SERVICE, 8085, "marketing")?,
        })
    }
}

pub async fn build(settings: Settings) -> anyhow::Result<App> {
    let mut service = ServiceBuilder::connect(settings.common, &MIGRATOR).await?;
    service.consume(&[Topic::Order, Topic::Delivery], events::Handler)?;
    let state = http::AppState {
        pool: service.pool.clone(),
    };
    service.serve(http::router(state)).await
}
