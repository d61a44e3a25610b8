//! Which orders' rows just changed, for the live streams ([`crate::http`]'s `…/events`).
//!
//! The transaction that writes the rows also sends a Postgres notification naming them
//! ([`crate::db::save`]), which Postgres delivers on commit, to every replica listening: a
//! stream's client may be connected to a replica that did not consume the event. Each replica
//! listens on one connection ([`Changes::listen`]) and passes the changes on in memory.
//! Notifications are not durable: whenever some may have been missed (the listening
//! connection was lost, or a slow stream fell behind), a stream hears [`Change::Unknown`] and
//! reads its rows again.

use platform::Store;
use platform::shutdown::CancellationToken;
use tokio::sync::broadcast;

/// The notification channel's name, in the service's schema: `{schema}_seller_orders`.
pub fn channel(schema: &str) -> String {
    format!("{schema}_seller_orders")
}

/// What a stream hears.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// This order's row changed (`seller_id`: 0 until known); `seller_view`: the seller's view
    /// of it, not only its journey.
    Order {
        order_id: i64,
        seller_id: i64,
        seller_view: bool,
    },
    /// Changes may have been missed: read again.
    Unknown,
}

/// The changes heard by this replica, for any number of streams.
#[derive(Clone)]
pub struct Changes(broadcast::Sender<Change>);

impl Default for Changes {
    fn default() -> Self {
        Self(broadcast::channel(4096).0)
    }
}

impl Changes {
    pub fn subscribe(&self) -> Subscription {
        Subscription(self.0.subscribe())
    }

    /// Listens until `stop`, reconnecting when the connection is lost.
    pub async fn listen(self, store: Store, stop: CancellationToken) {
        while !stop.is_cancelled() {
            if let Err(err) = self.listen_once(&store, &stop).await {
                tracing::warn!(error = %err, "listening for seller-page changes failed; retrying");
                tokio::select! {
                    () = stop.cancelled() => {},
                    () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {},
                }
            }
        }
    }

    async fn listen_once(&self, store: &Store, stop: &CancellationToken) -> sqlx::Result<()> {
        let schema: String = sqlx::query_scalar("SELECT current_schema()")
            .fetch_one(&mut *store.read().await?)
            .await?;
        let mut listener = store.listener().await?;
        listener.listen(&channel(&schema)).await?;
        self.publish(Change::Unknown);
        loop {
            let heard = tokio::select! {
                () = stop.cancelled() => return Ok(()),
                heard = listener.try_recv() => heard?,
            };
            match heard {
                Some(notification) => parse(notification.payload())
                    .into_iter()
                    .for_each(|change| self.publish(change)),
                // The connection was lost; the next call reconnects.
                None => self.publish(Change::Unknown),
            }
        }
    }

    fn publish(&self, change: Change) {
        // No subscriber is no error: nobody is watching.
        let _ = self.0.send(change);
    }
}

/// One stream's view of the changes.
pub struct Subscription(broadcast::Receiver<Change>);

impl Subscription {
    /// The next change; `None` once the replica stops listening.
    pub async fn next(&mut self) -> Option<Change> {
        match self.0.recv().await {
            Ok(change) => Some(change),
            Err(broadcast::error::RecvError::Lagged(_)) => Some(Change::Unknown),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

/// `orderId:sellerId:sellerView,…` (seller 0: not known yet; the seller's view changed: 1 or
/// 0), as [`crate::db::save`] sends it.
fn parse(payload: &str) -> Vec<Change> {
    payload
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(':');
            let change = Change::Order {
                order_id: parts.next()?.parse().ok()?,
                seller_id: parts.next()?.parse().ok()?,
                seller_view: parts.next()? == "1",
            };
            parts.next().is_none().then_some(change)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_names_orders_and_their_sellers() {
        assert_eq!(
            parse("12:7:1,13:0:0,bad,1:2:3:4"),
            vec![
                Change::Order {
                    order_id: 12,
                    seller_id: 7,
                    seller_view: true,
                },
                Change::Order {
                    order_id: 13,
                    seller_id: 0,
                    seller_view: false,
                },
            ]
        );
    }
}
