//! `/health/live` (the process serves HTTP) and `/health/ready` (its database and broker are
//! reachable and it is not shutting down). Kubernetes restarts on the first, routes on the second.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
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
            .route("/health/live", get(live))
            .route("/health/ready", get(ready))
            .with_state(self.clone())
    }
}

fn word(up: bool) -> &'static str {
    if up { "up" } else { "down" }
}

/// Liveness: the process serves HTTP. Kubernetes restarts the pod when this fails.
#[utoipa::path(get, path = "/health/live", operation_id = "live",
    responses((status = 200, description = "The process is serving", body = Liveness)))]
pub async fn live() -> Json<Liveness> {
    Json(Liveness { status: "live" })
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Liveness {
    /// Always `live`.
    status: &'static str,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    status: &'static str,
    /// Each dependency checked (`database`, `broker`: `up` or `down`) and `shutdown: draining`
    /// once the process is stopping.
    checks: BTreeMap<&'static str, &'static str>,
}

/// Readiness: the database and broker are reachable and the process is not shutting down.
/// Load balancers and Kubernetes send traffic only while this is 200.
#[utoipa::path(get, path = "/health/ready", operation_id = "ready",
    responses(
        (status = 200, description = "Ready for traffic", body = Readiness),
        (status = 503, description = "A dependency is down or the process is draining", body = Readiness),
    ))]
pub async fn ready(State(health): State<Health>) -> (StatusCode, Json<Readiness>) {
    let database = match &health.pool {
        Some(pool) => Some(crate::db::ping(pool, Duration::from_secs(1)).await),
        None => None,
    };
    let broker = health.broker.as_ref().map(BrokerStatus::is_up);
    let draining = health.draining.load(Ordering::Relaxed);
    let ready = !draining && database.unwrap_or(true) && broker.unwrap_or(true);
    let mut checks = BTreeMap::new();
    if let Some(up) = database {
        checks.insert("database", word(up));
    }
    if let Some(up) = broker {
        checks.insert("broker", word(up));
    }
    if draining {
        checks.insert("shutdown", "draining");
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let word = if ready { "ready" } else { "not_ready" };
    (
        status,
        Json(Readiness {
            status: word,
            checks,
        }),
    )
}
