//! The one way a service changes state and publishes the events the change causes.
//!
//! ```text
//! let mut work = store.begin().await?;            // BEGIN
//! let kit = db::insert(&mut work, &new).await?;   // the change, through the same connection
//! work.publish(Event::ProductRegistered(..));      // recorded, not written yet
//! work.commit().await?;                            // the events into the outbox, COMMIT, relay woken
//! ```
//!
//! Guarantees:
//! - **Atomic.** The change and its events commit together or not at all: [`UnitOfWork::commit`]
//!   writes the recorded events into the outbox (one statement, in the order they were recorded)
//!   inside the transaction, then commits. A unit of work dropped without `commit` rolls back and
//!   publishes nothing.
//! - **Published at once.** The commit wakes the relay of *this* [`Store`] (this service
//!   instance), so the events go out without waiting for the relay's poll. There is no other way
//!   to write the outbox, so no path can forget the wake.
//! - **Per instance.** Each [`Store`] has its own relay signal: two services in one process
//!   (tests) never wake each other's relays.
//!
//! The hot paths that write one row and its event in a single statement (one round trip instead
//! of `BEGIN`, change, outbox, `COMMIT`) use [`Store::statement`] (see [`crate::outbox::Statement`]),
//! which keeps the same guarantees.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use contracts::{Envelope, Event};
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use crate::outbox::{self, Outgoing, RelaySignal, Statement};

/// A service instance's database: reads start here ([`Store::read`]) and so do changes
/// ([`Store::begin`], [`Store::statement`]). Cheap to clone; clones share the pool and the relay.
#[derive(Clone)]
pub struct Store {
    pool: PgPool,
    /// The `source` of every envelope this service publishes.
    service: Arc<str>,
    relay: RelaySignal,
}

impl Store {
    pub(crate) fn new(pool: PgPool, service: &str) -> Self {
        Self {
            pool,
            service: service.into(),
            relay: RelaySignal::default(),
        }
    }

    /// A connection for reads (and for [`Statement`]s, which commit on their own).
    pub async fn read(&self) -> Result<PoolConnection<Postgres>, sqlx::Error> {
        self.pool.acquire().await
    }

    /// Starts a change: a transaction that records the events it causes.
    pub async fn begin(&self) -> Result<UnitOfWork, sqlx::Error> {
        Ok(UnitOfWork {
            tx: self.pool.begin().await?,
            events: Vec::new(),
            traces: HashMap::new(),
            store: self.clone(),
        })
    }

    /// A single statement that changes state and may publish the event it causes, committed
    /// on its own; see [`Statement`].
    pub fn statement(&self, change: impl Into<String>) -> Statement<'_> {
        Statement::new(self, change.into())
    }

    /// Wraps `event` in an envelope from this service.
    pub(crate) fn envelope(&self, event: Event) -> Envelope {
        Envelope::new(&self.service, event)
    }

    pub(crate) fn relay(&self) -> &RelaySignal {
        &self.relay
    }

    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A connection of its own, outside the pool (it would hold one of the pool's for good),
    /// with the same settings, for Postgres' `LISTEN` (see `sqlx::postgres::PgListener`: it
    /// reconnects by itself, and says so).
    pub async fn listener(&self) -> Result<sqlx::postgres::PgListener, sqlx::Error> {
        let own = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect_lazy_with((*self.pool.connect_options()).clone());
        sqlx::postgres::PgListener::connect_with(&own).await
    }
}

/// A change in progress: a transaction plus the events it will publish. Use it wherever a query
/// takes a `&mut PgConnection` (it dereferences to the transaction's connection).
pub struct UnitOfWork {
    tx: Transaction<'static, Postgres>,
    events: Vec<Outgoing>,
    /// The trace each order's events continue, when a consumer applies several orders' events
    /// at once; otherwise the trace of the current span.
    traces: HashMap<i64, String>,
    store: Store,
}

impl UnitOfWork {
    /// Records `event` to be published if, and when, this unit of work commits. It continues
    /// the trace of the event of the same order being applied, or else the caller's.
    pub fn publish(&mut self, event: Event) {
        let traceparent = event
            .order_id()
            .and_then(|order_id| self.traces.get(&order_id).cloned())
            .or_else(crate::trace::current);
        let envelope = self.store.envelope(event);
        self.events.push(Outgoing {
            envelope,
            traceparent,
        });
    }

    /// Sets the trace each order's published events continue (the consumer's span of that
    /// order's event).
    pub(crate) fn continue_traces(&mut self, traces: HashMap<i64, String>) {
        self.traces = traces;
    }

    /// Records each of `events`, in order.
    pub fn publish_all(&mut self, events: impl IntoIterator<Item = Event>) {
        for event in events {
            self.publish(event);
        }
    }

    /// Writes the recorded events into the outbox, commits, and wakes the relay if there were
    /// any.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        outbox::write(&mut self.tx, &self.events).await?;
        self.tx.commit().await?;
        if !self.events.is_empty() {
            self.store.relay.wake();
        }
        Ok(())
    }
}

impl Deref for UnitOfWork {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.tx
    }
}

impl DerefMut for UnitOfWork {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two services in one process (as in the tests) each wake only their own relay: a commit
    /// in one must not send the other's relay looking for rows.
    #[tokio::test]
    async fn each_store_wakes_only_its_own_relay() {
        let pool = || PgPool::connect_lazy("postgres://nobody@127.0.0.1:1/none").unwrap();
        let product = Store::new(pool(), "product");
        let delivery = Store::new(pool(), "delivery");
        let product_relay = product.clone().relay().clone();

        product.relay().wake();

        assert_eq!(
            product_relay.committed(),
            1,
            "a clone shares its store's relay"
        );
        assert_eq!(delivery.relay().committed(), 0);
    }
}
