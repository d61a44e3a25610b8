//! The live streams (Server-Sent Events, [`platform::live`]): an order's journey as it moves,
//! and a seller's "something changed" signal. Who may open one is who may read what it
//! streams, decided by the same rules as the JSON calls.
//!
//! A stream sends only when something changed: each change it hears of
//! ([`crate::changes`]) is checked against what it sent last.

use axum::response::sse::Event;
use chrono::Utc;
use platform::error::{ApiResult, ErrorBody};
use platform::live::{Draining, LiveStream, json_event, stream};
use platform::{Caller, Party, Path, Store};
use serde::Serialize;
use utoipa::ToSchema;

use super::journey::{answer, visible_row};
use crate::changes::{Change, Changes, Subscription};
use crate::db::{self, OrderRow};

/// An order's journey, live: a `journey` event with the journey as `GET
/// /orders/{orderId}/journey` answers it, at once and then each time it changes (once it is
/// `finished` nothing more comes: close the stream). A comment every 15 s keeps a quiet stream
/// open; it ends after 5 minutes or when the replica shuts down, and the client opens another.
#[utoipa::path(get, path = "/orders/{orderId}/journey/events",
    params(("orderId" = i64, Path, minimum = 1, description = "The order's id")),
    responses(
        (status = 200, description = "`text/event-stream` of `journey` events", content_type = "text/event-stream", body = String),
        (status = 404, description = "No such order (none of its events has arrived), or someone else's (`not_found`)", body = ErrorBody),
        (status = 422, description = "`orderId` out of range (`invalid_value`)", body = ErrorBody),
    ))]
pub(super) async fn journey_events(
    axum::extract::State(store): axum::extract::State<Store>,
    axum::extract::State(changes): axum::extract::State<Changes>,
    draining: Draining,
    caller: Caller,
    Path(order_id): Path<i64>,
) -> ApiResult<LiveStream> {
    // Subscribed before the first read: no change after it is missed.
    let changes = changes.subscribe();
    let row = visible_row(&store, &caller, order_id).await?;
    let follow = Follow {
        store,
        changes,
        order_id,
        next: Some(row),
        sent: None,
    };
    Ok(stream(
        draining,
        futures::stream::unfold(follow, Follow::next_event),
    ))
}

/// One journey stream's state.
struct Follow {
    store: Store,
    changes: Subscription,
    order_id: i64,
    /// A row read and not sent yet.
    next: Option<OrderRow>,
    /// The row last sent.
    sent: Option<OrderRow>,
}

impl Follow {
    async fn next_event(mut self) -> Option<(Event, Self)> {
        loop {
            if let Some(row) = self.next.take()
                && self.sent.as_ref() != Some(&row)
            {
                let journey = answer(&row, Utc::now());
                self.sent = Some(row);
                return Some((json_event("journey", &journey), self));
            }
            self.next = Some(self.changed_row().await?);
        }
    }

    /// Waits for a change that may concern this order, and reads its row again; `None` when
    /// the stream should end (the replica stops listening, or the row cannot be read).
    async fn changed_row(&mut self) -> Option<OrderRow> {
        loop {
            match self.changes.next().await? {
                Change::Order { order_id, .. } if order_id != self.order_id => continue,
                Change::Order { .. } => {}
                Change::Unknown => spread(self.order_id).await,
            }
            let mut conn = self.store.read().await.ok()?;
            return db::find(&mut conn, self.order_id).await.ok().flatten();
        }
    }
}

/// After changes may have been missed every stream of the replica reads again: spread over
/// half a second (by `key`) rather than all at once, so the pool is not drained by a burst.
async fn spread(key: i64) {
    let delay = u64::try_from(key.rem_euclid(500)).unwrap_or_default();
    tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
}

/// What a seller's stream says changed.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Changed {
    /// The orders whose seller's view changed; empty when changes may have been missed
    /// (read the pages again).
    order_ids: Vec<i64>,
}

/// A seller's orders and cancellations, live: a `ready` event once the stream is open, then a
/// `changed` event naming the order each time the seller's view of one of their orders changes
/// (read `/sellers/{sellerId}/orders` or `/cancellations` again). Nothing is sent while nothing
/// changes but a comment every 15 s; it ends after 5 minutes or when the replica shuts down,
/// and the client opens another.
#[utoipa::path(get, path = "/sellers/{sellerId}/events",
    params(("sellerId" = i64, Path, minimum = 1, description = "The seller's id")),
    responses(
        (status = 200, description = "`text/event-stream` of `ready` and `changed` events", content_type = "text/event-stream", body = Changed),
        (status = 403, description = "Another seller's (`forbidden`): only that seller and admins", body = ErrorBody),
        (status = 422, description = "`sellerId` out of range (`invalid_value`)", body = ErrorBody),
    ))]
pub(super) async fn seller_events(
    axum::extract::State(changes): axum::extract::State<Changes>,
    draining: Draining,
    caller: Caller,
    Path(seller_id): Path<i64>,
) -> ApiResult<LiveStream> {
    platform::extract::check::positive("sellerId", seller_id)?;
    caller.must_be(
        &[Party::Seller(seller_id), Party::Admins],
        "that seller or an admin",
    )?;
    let changes = changes.subscribe();
    let ready = futures::stream::once(async { Event::default().event("ready").data("{}") });
    let changed = futures::stream::unfold(changes, move |mut changes| async move {
        loop {
            let order_ids = match changes.next().await? {
                Change::Order {
                    order_id,
                    seller_id: seller,
                    seller_view: true,
                } if seller == seller_id => vec![order_id],
                Change::Order { .. } => continue,
                Change::Unknown => {
                    spread(seller_id).await;
                    Vec::new()
                }
            };
            return Some((json_event("changed", &Changed { order_ids }), changes));
        }
    });
    Ok(stream(draining, futures::StreamExt::chain(ready, changed)))
}
