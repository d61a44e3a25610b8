//! `/health/live` (the process serves HTTP) and `/health/ready` (its database and broker are
//! reachable and it is not shutting down). Kubernetes restarts on the first, routes on the second.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use sqlx::PgPool;

use crate::kafka::BrokerStatus;

#[derive(Clone, Default)]
pub struct Health {
    pool: Option<PgPool>,
    broker: Option<BrokerStatus>,
    draining: Arc<AtomicBool>,
}

impl Health {
    pub fn new(pool: Option<PgPool>, broker: Option<BrokerStatus>) -> Self {
        Self {
            pool,
            broker,
            draining: Arc::default(),
        }
    }

    /// From now on readiness is false, so load balancers stop sending new requests.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    pub fn routes(&self) -> Router {
        Router::new()
            .route(
                "/health/live",
                get(|| async { Json(json!({"status": "live"})) }),
            )
            .route("/health/ready", get(ready))
            .with_state(self.clone())
    }
}

fn word(up: bool) -> &'static str {
    if up { "up" } else { "down" }
}

async fn ready(State(health): State<Health>) -> (StatusCode, Json<serde_json::Value>) {
    let database = match &health.pool {
        Some(pool) => Some(crate::db::ping(pool, Duration::from_secs(1)).await),
        None => None,
    };
    let broker = health.broker.as_ref().map(BrokerStatus::is_up);
    let draining = health.draining.load(Ordering::Relaxed);
    let ready = !draining && database.unwrap_or(true) && broker.unwrap_or(true);
    let mut checks = serde_json::Map::new();
    if let Some(up) = database {
        checks.insert("database".into(), word(up).into());
    }
    if let Some(up) = broker {
        checks.insert("broker".into(), word(up).into());
    }
    if draining {
        checks.insert("shutdown".into(), "draining".into());
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let word = if ready { "ready" } else { "not_ready" };
    (status, Json(json!({"status": word, "checks": checks})))
}
