//! Delivery: `REQUESTED` when a payment completes, `STARTED` when the seller ships,
//! `COMPLETED` when the customer confirms, `CANCELLED` when the payment is cancelled.
//! `COMPLETED` and `CANCELLED` are final. Every change publishes a `Delivery*` event.

pub mod db;
pub mod domain;
pub mod events;
pub mod http;

use contracts::Topic;
use platform::service::{App, ServiceBuilder};
use platform::settings::{CommonSettings, SettingsError};
use sqlx::migrate::Migrator;

pub const SERVICE: &str = "delivery";
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone)]
pub struct Settings {
    pub common: CommonSettings,
}

impl Settings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Ok(Self {
            common: CommonSettings::from_env(SERVICE, 8084, "delivery")?,
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
