//! Product: the catalog and its stock.
//!
//! Sellers register and edit kits over HTTP (`ProductRegistered`, `ProductUpdated`). Stock moves
//! only in reaction to payments: `PaymentCompleted` takes the ordered quantity or reports a
//! `StockShortage` (stock never goes negative), `PaymentCancelled` gives back exactly what that
//! order took, once.

pub mod db;
pub mod domain;
pub mod events;
pub mod http;

use contracts::Topic;
use platform::service::{App, ServiceBuilder};
use platform::settings::{CommonSettings, SettingsError};
use sqlx::migrate::Migrator;

pub const SERVICE: &str = "product";
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone)]
pub struct Settings {
    pub common: CommonSettings,
}

impl Settings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Ok(Self {
            common: CommonSettings::from_env(SERVICE, 8081, "product")?,
        })
    }
}

pub async fn build(settings: Settings) -> anyhow::Result<App> {
    let mut service = ServiceBuilder::connect(settings.common, &MIGRATOR).await?;
    service.consume(&[Topic::Payment], events::Handler)?;
    let state = http::AppState {
        pool: service.pool.clone(),
    };
    service.serve(http::router(state)).await
}
