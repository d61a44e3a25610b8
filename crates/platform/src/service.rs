//! Assembling and running a service: the runtime every service shares, its background tasks,
//! and its HTTP server with graceful shutdown.
//!
//! ```text
//! let mut service = ServiceBuilder::connect(settings.common, &MIGRATOR).await?;
//! service.consume(&[Topic::Payment], handlers::Events::new())?;
//! service.serve(http::router(state)).await   // -> App; app.run_until(shutdown).await
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use contracts::{Topic, TopicNames};
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::auth::Verifier;
use crate::auth::credential::ServiceCredential;
use crate::client::ServiceClient;
use crate::consumer::{ConsumerLoop, EventHandler};
use crate::dead_letters::DeadLetters;
use crate::health::{ConsumerStatus, Health};
use crate::kafka::{self, BrokerStatus, FutureProducer, GroupMember};
use crate::openapi::{self, OpenApiRouter};
use crate::outbox::Relay;
use crate::settings::{ClientSettings, CommonSettings};
use crate::shutdown::CancellationToken;
use crate::unit_of_work::Store;
use crate::{ApiError, db};

pub use crate::server::{HEADER_TIMEOUT, IDLE_CONNECTION_REUSE, REQUEST_TIMEOUT};

/// Largest request body a service accepts (a JSON command is a few hundred bytes).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// A background loop of a service, started with it and stopped by the token.
pub type Task =
    Box<dyn FnOnce(CancellationToken) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// A [`Task`] from an async function of the stop token.
pub fn task<F, Fut>(run: F) -> Task
where
    F: FnOnce(CancellationToken) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Box::new(move |stop| Box::pin(run(stop)))
}

/// Everything a service's handlers and loops share, plus the tasks it will run.
pub struct ServiceBuilder {
    pub settings: CommonSettings,
    /// The service's database: where its handlers read and begin their units of work.
    pub store: Store,
    pub producer: FutureProducer,
    pub topics: TopicNames,
    broker: BrokerStatus,
    consumer: Option<ConsumerStatus>,
    tasks: Vec<Task>,
    verifier: Verifier,
    credential: ServiceCredential,
}

impl ServiceBuilder {
    /// Connects to the service's schema (migrating it) and to the broker, and schedules the
    /// outbox relay and the broker monitor.
    pub async fn connect(settings: CommonSettings, migrator: &Migrator) -> anyhow::Result<Self> {
        crate::metrics::install();
        let schema = settings.database_schema.clone();
        let pool = db::pool(
            &settings.database_url,
            &schema,
            settings.database_max_connections,
        )?;
        db::prepare(
            &settings.database_url,
            &schema,
            &pool,
            migrator,
            settings.startup_timeout,
        )
        .await?;
        let producer = kafka::producer(&settings.kafka_brokers)?;
        let topics = TopicNames::new(settings.topic_prefix.clone());
        let store = Store::new(pool.clone(), &settings.service);
        let verifier = Verifier::new(settings.auth.clone())?;
        let credential = ServiceCredential::new(settings.credential.clone())?;
        let mut builder = Self {
            verifier,
            credential,
            store: store.clone(),
            producer: producer.clone(),
            topics: topics.clone(),
            broker: BrokerStatus::default(),
            consumer: None,
            tasks: Vec::new(),
            settings,
        };
        let relay = Relay {
            pool,
            producer: producer.clone(),
            topics,
            signal: store.relay().clone(),
            poll: builder.settings.outbox_poll,
        };
        builder.spawn(|stop| relay.run(stop));
        let broker = builder.broker.clone();
        builder.spawn(|stop| broker.monitor(producer, stop));
        let database = builder.store.pool().clone();
        builder.spawn(|stop| crate::health::watch_database(database, stop));
        Ok(builder)
    }

    /// Runs `handler` on the events of `topics`, in this service's consumer group.
    pub fn consume<H: EventHandler>(
        &mut self,
        topics: &'static [Topic],
        handler: H,
    ) -> anyhow::Result<()> {
        let status = ConsumerStatus::default();
        self.consumer = Some(status.clone());
        let consumer = ConsumerLoop {
            status,
            member: GroupMember::new(
                &self.settings.kafka_brokers,
                &self.settings.consumer_group,
                &self.settings.consumer,
            ),
            store: self.store.clone(),
            handler,
            producer: self.producer.clone(),
            topics: self.topics.clone(),
            service: self.settings.service.clone(),
            max_attempts: self.settings.consumer_max_attempts,
        };
        self.spawn(move |stop| async move { consumer.run(topics, stop).await });
        Ok(())
    }

    /// Operates the dead-letter topic (see [`crate::dead_letters`]): records what arrives on it,
    /// in a consumer group of its own, and answers the admin endpoints it returns.
    pub fn operate_dead_letters(&mut self) -> anyhow::Result<OpenApiRouter> {
        let member = GroupMember::new(
            &self.settings.kafka_brokers,
            &format!("{}-dead-letters", self.settings.consumer_group),
            &self.settings.consumer,
        );
        let letters = DeadLetters {
            store: self.store.clone(),
            producer: self.producer.clone(),
            topics: self.topics.clone(),
        };
        let topics = self.topics.clone();
        let recorder = letters.clone();
        self.spawn(move |stop| recorder.record(member, topics, stop));
        Ok(letters.router())
    }

    /// A breaker-wrapped client of `dependency` that presents this service's credential.
    pub fn client(
        &self,
        dependency: &str,
        settings: &ClientSettings,
    ) -> anyhow::Result<ServiceClient> {
        ServiceClient::new(dependency, settings, self.credential.clone())
    }

    /// Schedules a background loop; it must return soon after `stop` is cancelled.
    pub fn spawn<F, Fut>(&mut self, task: F)
    where
        F: FnOnce(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.tasks.push(self::task(task));
    }

    /// Binds the listener and wraps `routes` with the shared endpoints and middleware, and serves
    /// their OpenAPI document at `/openapi.json`.
    pub async fn serve(self, routes: OpenApiRouter) -> anyhow::Result<App> {
        let mut health = Health::new(Some(self.store.pool().clone()), Some(self.broker.clone()));
        if let Some(consumer) = self.consumer {
            health = health.with_consumer(consumer);
        }
        let (routes, doc) = routes.split_for_parts();
        let doc = openapi::complete(doc, &self.settings.service);
        let routes = routes.merge(openapi::route(&doc));
        App::bind(
            &self.settings.bind_addr,
            self.settings.port,
            MetricsAt::SamePort,
            routes.route_layer(axum::middleware::from_fn(crate::bodies::refuse_unexpected)),
            health,
            self.verifier,
            self.tasks,
        )
        .await
    }
}

/// Where a process serves its `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsAt {
    /// Beside its API: a service, whose port only the cluster reaches.
    SamePort,
    /// On a port of its own, which only Prometheus reaches: the gateway, whose API port is
    /// public (there `/metrics` is `404`).
    Port(u16),
}

/// A bound, not yet running service.
pub struct App {
    listener: TcpListener,
    router: Router,
    /// `/metrics`' own listener, for [`MetricsAt::Port`].
    metrics: Option<TcpListener>,
    health: Health,
    tasks: Vec<Task>,
}

impl App {
    /// Binds `addr:port` (and `addr` at `metrics`' port if it has one) and adds health,
    /// metrics, JSON 404/405, body limit, request ids and the token `verifier` (which the
    /// [`Caller`](crate::Caller) extractor uses) around `routes`. Used directly by the gateway,
    /// which has no database.
    pub async fn bind(
        addr: &str,
        port: u16,
        metrics: MetricsAt,
        routes: Router,
        health: Health,
        verifier: Verifier,
        tasks: Vec<Task>,
    ) -> anyhow::Result<Self> {
        let listener = listen(addr, port).await?;
        let metrics = match metrics {
            MetricsAt::SamePort => None,
            MetricsAt::Port(port) => Some(listen(addr, port).await?),
        };
        let router = wrap(routes, &health, metrics.is_none())
            .layer(axum::Extension(verifier))
            .layer(axum::Extension(health.draining()));
        Ok(Self {
            listener,
            router,
            metrics,
            health,
            tasks,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    /// The port of `/metrics` when it has one of its own ([`MetricsAt::Port`]).
    pub fn metrics_port(&self) -> Option<u16> {
        let listener = self.metrics.as_ref()?;
        Some(listener.local_addr().ok()?.port())
    }

    /// Serves until `shutdown` resolves, then stops taking connections, lets in-flight requests
    /// finish, stops the background loops and waits for them (bounded).
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let stop = CancellationToken::new();
        let handles: Vec<_> = self
            .tasks
            .into_iter()
            .map(|task| tokio::spawn(task(stop.clone())))
            .collect();
        tracing::info!(addr = %self.listener.local_addr()?, "listening");
        let metrics = self
            .metrics
            .map(|listener| serve_metrics(listener, stop.clone()));
        let health = self.health.clone();
        crate::server::serve(self.listener, self.router, async move {
            shutdown.await;
            health.start_draining();
        })
        .await;
        stop.cancel();
        if let Some(metrics) = metrics {
            let _ = metrics.await;
        }
        let joined = tokio::time::timeout(
            crate::server::DRAIN_TIMEOUT,
            futures::future::join_all(handles),
        )
        .await;
        if joined.is_err() {
            tracing::warn!("background tasks did not stop in time");
        }
        tracing::info!("stopped");
        Ok(())
    }
}

async fn listen(addr: &str, port: u16) -> anyhow::Result<TcpListener> {
    TcpListener::bind((addr, port))
        .await
        .map_err(|e| anyhow::anyhow!("binding {addr}:{port}: {e}"))
}

/// `/metrics` alone on `listener`, until `stop`.
fn serve_metrics(listener: TcpListener, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving /metrics");
    }
    let router = crate::metrics::routes().fallback(not_found);
    tokio::spawn(crate::server::serve(
        listener,
        router,
        stop.cancelled_owned(),
    ))
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

fn wrap(routes: Router, health: &Health, metrics_here: bool) -> Router {
    let routes = routes
        .fallback(not_found)
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not accept that method",
            )
        })
        .layer(axum::middleware::from_fn(crate::metrics::track_http))
        .merge(health.routes());
    let routes = if metrics_here {
        routes.merge(crate::metrics::routes())
    } else {
        crate::metrics::install();
        routes
    };
    routes
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(crate::server::deadline))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(crate::requests::span)
                .on_response(crate::requests::log_response),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// Builds the common shape of service: migrations, one consumer loop, and routes whose only
/// state is the [`Store`]. Services with more state (order) use [`ServiceBuilder`] directly.
pub async fn build<H: EventHandler>(
    settings: CommonSettings,
    migrator: &Migrator,
    consumes: &'static [Topic],
    handler: H,
    routes: fn(Store) -> OpenApiRouter,
) -> anyhow::Result<App> {
    let mut service = ServiceBuilder::connect(settings, migrator).await?;
    service.consume(consumes, handler)?;
    let router = routes(service.store.clone());
    service.serve(router).await
}

/// Runs a service binary: logging, settings, build, serve until SIGTERM or Ctrl-C.
pub async fn main<S, F, Fut>(
    service: &str,
    settings: impl FnOnce() -> Result<S, crate::settings::SettingsError>,
    build: F,
) -> anyhow::Result<()>
where
    F: FnOnce(S) -> Fut,
    Fut: Future<Output = anyhow::Result<App>>,
{
    let telemetry = crate::telemetry::init(service);
    let settings = settings()?;
    let app = build(settings).await?;
    let ran = app.run_until(crate::shutdown::signal()).await;
    telemetry.shutdown().await;
    ran
}
