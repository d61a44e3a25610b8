//! Order: takes orders, pays for them synchronously, and follows them to delivery.
//!
//! `POST /orders` validates against the local product replica (fed by `mealkit.product`, so
//! orders are taken while product is down): the kit must be known, and a quantity above its
//! stock as product last announced it is refused before anything is stored or charged; a
//! stock taken meanwhile is product's to catch (`StockShortage`, below). It stores the order
//! `PENDING`, calls payment through a breaker, and on approval marks it `PLACED` with
//! `OrderPlaced` in the outbox. The [`recovery`] loop settles orders left `PENDING` by a crash
//! or an ambiguous payment call. Delivery events move the order forward; terminal states stick.
//!
//! A customer's cancellation is accepted only once marketing has alerted the seller (a
//! synchronous call behind a breaker: while marketing is down the customer is asked to retry
//! shortly and nothing changes); then `OrderCancelled` drives payment, delivery and product back.
//! A `StockShortage` cancels the order the same way, without the alert.

pub mod alerts;
pub mod cancelling;
pub mod db;
pub mod domain;
pub mod events;
pub mod http;
pub mod payments;
pub mod placing;
pub mod recovery;

use std::time::Duration;

use contracts::Topic;
use platform::service::{App, ServiceBuilder};
use platform::settings::{self, ClientSettings, CommonSettings, SettingsError};
use sqlx::migrate::Migrator;

pub const SERVICE: &str = "order";
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone)]
pub struct Settings {
    pub common: CommonSettings,
    /// `PAYMENT_URL`, `PAYMENT_TIMEOUT_MS`, `PAYMENT_BREAKER_FAILURES`, `PAYMENT_BREAKER_COOLDOWN_MS`.
    pub payment: ClientSettings,
    /// `MARKETING_URL`, ... (the seller alert before a cancellation).
    pub marketing: ClientSettings,
    /// `PENDING_RECOVERY_AFTER_MS`: age at which a `PENDING` order is settled by the recovery loop.
    pub recover_after: Duration,
}

impl Settings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Ok(Self {
            common: CommonSettings::from_env(SERVICE, 8082, "ordering")?,
            payment: ClientSettings::from_env("PAYMENT", "http://127.0.0.1:8083")?,
            marketing: ClientSettings::from_env("MARKETING", "http://127.0.0.1:8085")?,
            recover_after: settings::millis("PENDING_RECOVERY_AFTER_MS", 10_000)?,
        })
    }
}

pub async fn build(settings: Settings) -> anyhow::Result<App> {
    let mut service = ServiceBuilder::connect(settings.common, &MIGRATOR).await?;
    service.consume(&[Topic::Product, Topic::Delivery], events::Handler)?;
    let payments = payments::Payments::new(service.client("payment", &settings.payment)?);
    let alerts = alerts::SellerAlerts::new(
        service.client("marketing", &settings.marketing)?,
        settings.marketing.cooldown,
    );
    let state = http::AppState {
        store: service.store.clone(),
        payments: payments.clone(),
        alerts,
    };
    let recovery = recovery::Recovery {
        store: service.store.clone(),
        payments,
        older_than: settings.recover_after,
    };
    service.spawn(|stop| recovery.run(stop));
    service.serve(http::router(state)).await
}
