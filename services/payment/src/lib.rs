//! Payment: approves or declines an order's payment synchronously, idempotently per order,
//! and cancels it when the order is cancelled (`OrderCancelled` → `PaymentCancelled`).
//!
//! There is no card network here: every card is approved except the documented declining test
//! card [`domain::DECLINING_TEST_CARD`].

pub mod db;
pub mod domain;
pub mod events;
pub mod http;

use contracts::Topic;
use platform::service::{App, ServiceBuilder};
use platform::settings::{CommonSettings, SettingsError};
use sqlx::migrate::Migrator;

pub const SERVICE: &str = "payment";
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone)]
pub struct Settings {
    pub common: CommonSettings,
}

impl Settings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Ok(Self {
            common: CommonSettings::from_env(SERVICE, 8083, "payment")?,
        })
    }
}

pub async fn build(settings: Settings) -> anyhow::Result<App> {
    let mut service = ServiceBuilder::connect(settings.common, &MIGRATOR).await?;
    service.consume(&[Topic::Order], events::Handler)?;
    let state = http::AppState {
        pool: service.pool.clone(),
    };
    service.serve(http::router(state)).await
}
