//! Live streams: Server-Sent Events (`text/event-stream`) that a page keeps open to hear of
//! changes as they happen instead of asking again and again.
//!
//! [`stream`] is the one way a handler answers with one. What it adds to axum's [`Sse`]:
//! - a comment every [`KEEP_ALIVE`], so that proxies and load balancers do not close a quiet
//!   stream (and a dead client is noticed at the next write);
//! - the end of the stream when the process starts draining ([`Draining`]): a stream would
//!   otherwise hold its connection open through the whole shutdown grace period. The client
//!   reconnects to another replica;
//! - a bound on its life ([`MAX_LIFE`]): a client that reconnects now and then is one whose
//!   token is verified again now and then.

use std::convert::Infallible;
use std::pin::Pin;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::sse::{Event, KeepAlive, KeepAliveStream, Sse};
use futures::{Stream, StreamExt};

use crate::ApiError;
use crate::shutdown::CancellationToken;

/// How often a quiet stream sends a comment.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long one stream lives at most; the client then opens another.
pub const MAX_LIFE: Duration = Duration::from_secs(300);

/// Cancelled when the process starts draining (see [`crate::health::Health::start_draining`]);
/// every request carries it.
#[derive(Clone, Debug)]
pub struct Draining(pub(crate) CancellationToken);

impl Draining {
    /// Resolves once the process starts draining.
    pub async fn started(&self) {
        self.0.cancelled().await;
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Draining {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Draining>()
            .cloned()
            .ok_or_else(|| ApiError::internal("the draining signal is not installed"))
    }
}

/// A live stream's response (a handler's return type).
pub type LiveStream = Sse<KeepAliveStream<Events>>;

/// What a live stream sends.
pub type Events = Pin<Box<dyn Stream<Item = Result<Event, Infallible>> + Send>>;

/// The response for a live stream of `events`: kept alive, ended when the process drains or
/// after [`MAX_LIFE`].
pub fn stream(
    draining: Draining,
    events: impl Stream<Item = Event> + Send + 'static,
) -> LiveStream {
    let end = async move {
        tokio::select! {
            () = draining.started() => {},
            () = tokio::time::sleep(MAX_LIFE) => {},
        }
    };
    let events = events.take_until(Box::pin(end)).map(Ok);
    Sse::new(Box::pin(events) as Events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

/// An event named `name` whose data is `value` as JSON.
pub fn json_event(name: &str, value: &impl serde::Serialize) -> Event {
    Event::default()
        .event(name)
        .data(serde_json::to_string(value).expect("a value that serializes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stream_ends_when_the_process_starts_draining() {
        use axum::response::IntoResponse;
        let token = CancellationToken::new();
        let draining = Draining(token.clone());
        let events =
            futures::stream::iter([json_event("hello", &1)]).chain(futures::stream::pending());
        let response = stream(draining, events).into_response();
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        let mut body = response.into_body().into_data_stream();
        let first = body.next().await.unwrap().unwrap();
        assert_eq!(&first[..], b"event: hello\ndata: 1\n\n");
        token.cancel();
        let ended = tokio::time::timeout(Duration::from_secs(5), body.next()).await;
        assert!(matches!(ended, Ok(None)), "the stream ended: {ended:?}");
    }
}
