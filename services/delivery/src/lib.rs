//! Delivery: `REQUESTED` when a payment completes, `STARTED` when the seller ships,
//! `COMPLETED` when the customer confirms, `CANCELLED` when the order is cancelled first.
//! `COMPLETED` and `CANCELLED` are final. Every change publishes a `Delivery*` event.
//!
//! Delivery decides the race between a cancellation and the goods' arrival: whichever reaches
//! the delivery's row first wins (see [`events`]). The refund follows `DeliveryCancelled`, so
//! a payment is never refunded for goods that were delivered.

pub mod advancing;
pub mod db;
pub mod domain;
pub mod events;
pub mod http;

use contracts::Topic;
use platform::service::App;
use platform::settings::{CommonSettings, SettingsError};
use sqlx::migrate::Migrator;

pub const SERVICE: &str = "delivery";
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Settings from the environment (see the README's configuration table).
pub fn settings() -> Result<CommonSettings, SettingsError> {
    CommonSettings::from_env(SERVICE, 8084, "delivery")
}

pub async fn build(settings: CommonSettings) -> anyhow::Result<App> {
    platform::service::build(
        settings,
        &MIGRATOR,
        &[Topic::Payment, Topic::Order],
        events::Handler,
        http::router,
    )
    .await
}
