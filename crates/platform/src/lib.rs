//! The one place where the meal-kit services' shared mechanisms live.
//!
//! A service is assembled from these parts by [`service::ServiceBuilder`]: it connects to its
//! own Postgres schema and runs the migrations, gives its handlers a [`Store`] whose
//! [`UnitOfWork`] is the one way to change state and publish, starts the [`outbox`] relay that
//! publishes what the service committed, runs one [`consumer`] loop per service with dedup and offset-after-
//! commit, serves its router with the shared health, metrics and error handling, and shuts all
//! of that down in order when the shutdown future resolves.

pub mod auth;
pub mod bodies;
pub mod client;
pub mod consumer;
pub mod db;
pub mod dead_letters;
pub mod error;
pub mod extract;
pub mod health;
pub mod idempotency;
pub mod kafka;
pub mod live;
pub mod metrics;
pub mod openapi;
pub mod outbox;
mod requests;
mod server;
pub mod service;
pub mod settings;
pub mod shutdown;
pub mod telemetry;
pub mod trace;
pub mod unit_of_work;

/// Every binary that links the platform (the services, the gateway, their tests) allocates
/// through mimalloc. A service allocates and frees per request and per event (JSON, headers,
/// spans, rows), mostly small blocks across Tokio's worker threads; glibc's malloc and free were
/// 7.5% of order's CPU under load (`perf`, issue #27).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub use auth::{Caller, Party, Role, ServiceCaller};
pub use error::ApiError;
pub use extract::{Json, Path, Query};
pub use unit_of_work::{Store, UnitOfWork};
