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
use crate::shutdown::CancellationToken;

#[derive(Clone, Default)]
pub struct Health {
    pool: Option<PgPool>,
    broker: Option<BrokerStatus>,
    consumer: Option<ConsumerStatus>,
    draining: CancellationToken,
}

/// Whether a service's consumer loop has stopped. It runs for the life of the process; once it
/// has ended (a panic, or a failure it cannot get past) the service no longer follows its
/// events, so readiness stays false and the loss is visible instead of silent.
#[derive(Clone, Default)]
pub struct ConsumerStatus(Arc<AtomicBool>);

impl ConsumerStatus {
    pub fn stopped(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Marks the loop stopped when dropped: held by the loop's task, so that a panic counts too.
    pub(crate) fn stopped_on_drop(&self) -> impl Drop + Send + use<> {
        struct MarkStopped(ConsumerStatus);
        impl Drop for MarkStopped {
            fn drop(&mut self) {
                self.0.0.store(true, Ordering::Relaxed);
            }
        }
        MarkStopped(self.clone())
    }
}

impl Health {
    pub fn new(pool: Option<PgPool>, broker: Option<BrokerStatus>) -> Self {
        Self {
            pool,
            broker,
            consumer: None,
            draining: CancellationToken::new(),
        }
    }

    /// Readiness also requires `consumer` to be running.
    pub fn with_consumer(mut self, consumer: ConsumerStatus) -> Self {
        self.consumer = Some(consumer);
        self
    }

    /// From now on readiness is false, so load balancers stop sending new requests.
    /// Also ends the live streams ([`crate::live`]), so that connections can close.
    pub fn start_draining(&self) {
        self.draining.cancel();
    }

    /// Cancelled once the process starts draining.
    pub fn draining(&self) -> crate::live::Draining {
        crate::live::Draining(self.draining.clone())
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
    /// Each dependency checked (`database`, `broker`: `up` or `down`), the consumer
    /// (`running` or `stopped`), and `shutdown: draining` once the process is stopping.
    checks: BTreeMap<&'static str, &'static str>,
}

/// Readiness: the database and broker are reachable, the consumer loop runs, and the process is
/// not shutting down.
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
    let consuming = health.consumer.as_ref().map(|c| !c.stopped());
    let draining = health.draining.is_cancelled();
    let ready = !draining
        && database.unwrap_or(true)
        && broker.unwrap_or(true)
        && consuming.unwrap_or(true);
    let mut checks = BTreeMap::new();
    if let Some(up) = database {
        checks.insert("database", word(up));
    }
    if let Some(up) = broker {
        checks.insert("broker", word(up));
    }
    if let Some(running) = consuming {
        checks.insert("consumer", if running { "running" } else { "stopped" });
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
