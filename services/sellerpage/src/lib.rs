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
use platform::service::{App, ServiceBuilder};
use platform::settings::{CommonSettings, SettingsError};
use sqlx::migrate::Migrator;

pub const SERVICE: &str = "sellerpage";
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone)]
pub struct Settings {
    pub common: CommonSettings,
}

impl Settings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Ok(Self {
            common: CommonSettings::from_env(SERVICE, 8086, "sellerpage")?,
        })
    }
}

pub async fn build(settings: Settings) -> anyhow::Result<App> {
    let mut service = ServiceBuilder::connect(settings.common, &MIGRATOR).await?;
    service.consume(
        &[
            Topic::Order,
            Topic::Payment,
            Topic::Delivery,
            Topic::Product,
        ],
        events::Handler,
    )?;
    let state = http::AppState {
        pool: service.pool.clone(),
    };
    service.serve(http::router(state)).await
}
