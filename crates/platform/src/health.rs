//! What Kubernetes does with each probe, and what each therefore says:
//! - `/health/ready`, "send me requests": the database is reachable and the process is not
//!   shutting down. Not the broker: every service answers with its database alone (order takes
//!   orders into its outbox, published once the broker is back), so a Kafka restart takes no
//!   service out of its endpoints.
//! - `/health/live`, "restart me if this fails": the process serves, and its consumer loop still
//!   runs. A loop that died (a panic, or a failure it cannot get past) no longer follows its
//!   events, and only a restart brings it back.
//!
//! Both answers list every check (`database`, `broker`, `consumer`) whether it decides or not,
//! and the broker's and the database's reachability are the gauges `dependency_up{dependency}`
//! (1 or 0), which the dashboard shows.

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
/// events, so liveness fails and Kubernetes restarts the pod.
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

    /// Liveness also requires `consumer` to be running.
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

/// Sets the gauge `dependency_up{dependency}`: 1 while `dependency` is reachable.
pub fn record_dependency(dependency: &'static str, up: bool) {
    metrics::gauge!("dependency_up", "dependency" => dependency).set(if up { 1.0 } else { 0.0 });
}

/// Pings `pool` every few seconds until `stop`, keeping `dependency_up{dependency="database"}`
/// current between probes.
pub async fn watch_database(pool: PgPool, stop: CancellationToken) {
    loop {
        let up = crate::db::ping(&pool, Duration::from_secs(1)).await;
        record_dependency("database", up);
        let pause = if up { 3 } else { 1 };
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(pause)) => {}
        }
    }
}

/// What a probe answers: its status and every check.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Probe {
    /// `live` or `dead` (liveness), `ready` or `not_ready` (readiness).
    status: &'static str,
    /// The database and the broker (`up` or `down`), the consumer (`running` or `stopped`), and
    /// `shutdown: draining` once the process is stopping; each listed whether it decides the
    /// probe or not (see the module's doc).
    checks: BTreeMap<&'static str, &'static str>,
}

impl Health {
    /// Every check, and whether the database answered (asked only when `ping` says so:
    /// liveness does not wait on it).
    async fn checks(
        &self,
        ping: bool,
    ) -> (BTreeMap<&'static str, &'static str>, Option<bool>, bool) {
        let mut checks = BTreeMap::new();
        let database = match &self.pool {
            Some(pool) if ping => Some(crate::db::ping(pool, Duration::from_secs(1)).await),
            _ => None,
        };
        if let Some(up) = database {
            record_dependency("database", up);
            checks.insert("database", word(up));
        }
        if let Some(broker) = &self.broker {
            checks.insert("broker", word(broker.is_up()));
        }
        let consuming = self.consumer.as_ref().is_none_or(|c| !c.stopped());
        if self.consumer.is_some() {
            checks.insert("consumer", if consuming { "running" } else { "stopped" });
        }
        if self.draining.is_cancelled() {
            checks.insert("shutdown", "draining");
        }
        (checks, database, consuming)
    }
}

fn answer(
    ok: bool,
    statuses: [&'static str; 2],
    checks: BTreeMap<&'static str, &'static str>,
) -> (StatusCode, Json<Probe>) {
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let word = if ok { statuses[0] } else { statuses[1] };
    (
        status,
        Json(Probe {
            status: word,
            checks,
        }),
    )
}

/// Liveness: the process serves and its consumer loop runs. Kubernetes restarts the pod when
/// this fails.
#[utoipa::path(get, path = "/health/live", operation_id = "live",
    responses(
        (status = 200, description = "Serving, and following its events", body = Probe),
        (status = 503, description = "Its consumer loop has stopped: restart it", body = Probe),
    ))]
pub async fn live(State(health): State<Health>) -> (StatusCode, Json<Probe>) {
    let (checks, _, consuming) = health.checks(false).await;
    answer(consuming, ["live", "dead"], checks)
}

/// Readiness: the database is reachable and the process is not shutting down (the broker is
/// listed, and does not decide). Load balancers and Kubernetes send traffic only while this
/// is 200.
#[utoipa::path(get, path = "/health/ready", operation_id = "ready",
    responses(
        (status = 200, description = "Ready for traffic", body = Probe),
        (status = 503, description = "The database is down or the process is draining", body = Probe),
    ))]
pub async fn ready(State(health): State<Health>) -> (StatusCode, Json<Probe>) {
    let (checks, database, _) = health.checks(true).await;
    let ready = !health.draining.is_cancelled() && database.unwrap_or(true);
    answer(ready, ["ready", "not_ready"], checks)
}
