//! Seller page: the read side (CQRS), built only from events: the sellers' pages, each order's
//! journey, their live streams, the stuck-saga check, and the dead-letter topic's operator.
//!
//! It never calls another service, so it keeps answering while order, payment and delivery are
//! down. Each order is one row merged from events of every topic by [`domain::SellerOrder::apply`]
//! and [`journey::Steps::record`], which are order-independent: statuses only move forward,
//! timestamps and steps are kept once set.

pub mod changes;
pub mod db;
pub mod domain;
pub mod events;
pub mod http;
pub mod journey;
pub mod stuck;
#[cfg(test)]
mod test_events;

use std::time::Duration;

use contracts::Topic;
use platform::service::{App, ServiceBuilder};
use platform::settings::{self, CommonSettings, SettingsError};
use sqlx::migrate::Migrator;

pub const SERVICE: &str = "sellerpage";
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone)]
pub struct Settings {
    pub common: CommonSettings,
    /// `SAGA_STEP_DEADLINE_MS`: how long a step the system owes an order may wait before the
    /// saga counts as stuck.
    pub saga_step_deadline: Duration,
    /// `SAGA_CHECK_INTERVAL_MS`: how often stuck sagas are looked for.
    pub saga_check_interval: Duration,
}

/// Settings from the environment (see the README's configuration table).
pub fn settings() -> Result<Settings, SettingsError> {
    Ok(Settings {
        common: CommonSettings::from_env(SERVICE, 8086, "sellerpage")?,
        saga_step_deadline: settings::millis("SAGA_STEP_DEADLINE_MS", 30_000)?,
        saga_check_interval: settings::millis("SAGA_CHECK_INTERVAL_MS", 5_000)?,
    })
}

pub async fn build(settings: Settings) -> anyhow::Result<App> {
    let mut service = ServiceBuilder::connect(settings.common, &MIGRATOR).await?;
    service.consume(
        &[
            Topic::Order,
            Topic::Payment,
            Topic::Delivery,
            Topic::Product,
            Topic::Marketing,
        ],
        events::Handler,
    )?;
    let stuck = stuck::StuckSagas {
        store: service.store.clone(),
        deadline: settings.saga_step_deadline,
        every: settings.saga_check_interval,
    };
    service.spawn(|stop| stuck.run(stop));
    let changes = changes::Changes::default();
    let (listener, store) = (changes.clone(), service.store.clone());
    service.spawn(|stop| listener.listen(store, stop));
    let dead_letters = service.operate_dead_letters()?;
    let routes = http::router(service.store.clone(), changes).merge(dead_letters);
    service.serve(routes).await
}
