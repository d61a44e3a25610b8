//! Live streams through the gateway (`text/event-stream`: an order's journey, a seller's
//! changes; see [`crate::is_stream`]): relayed as they come instead of buffered, on a client of
//! their own with no overall deadline (an upstream that goes quiet past the keep-alive is cut
//! off by the read timeout instead), and bounded: at most `MAX_OPEN_STREAMS` open at once
//! (`503 too_many_streams` past that), counted in the `gateway_open_streams` gauge. An open
//! stream holds no slot of the in-flight bound (`MAX_CONCURRENT_REQUESTS`), which counts
//! requests until their answer starts.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use platform::ApiError;
use platform::live::{Draining, KEEP_ALIVE};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// `MAX_OPEN_STREAMS`' default.
pub const DEFAULT_MAX_OPEN_STREAMS: usize = 1000;

/// The streams' client and their bound.
#[derive(Clone)]
pub struct Streams {
    pub(crate) http: reqwest::Client,
    open: Arc<Semaphore>,
}

impl Streams {
    pub fn new(max_open: usize) -> anyhow::Result<Self> {
        let http = platform::client::http_client()
            .connect_timeout(Duration::from_secs(2))
            .read_timeout(KEEP_ALIVE * 4)
            .build()?;
        Ok(Self {
            http,
            open: Arc::new(Semaphore::new(max_open)),
        })
    }

    /// A slot for one more stream, if one is free.
    pub(crate) fn open(&self) -> Option<Open> {
        let permit = self.open.clone().try_acquire_owned().ok()?;
        metrics::gauge!("gateway_open_streams").increment(1.0);
        Some(Open(permit))
    }
}

/// One open stream's slot, given back (and counted down) when the stream ends.
pub(crate) struct Open(#[allow(dead_code)] OwnedSemaphorePermit);

impl Drop for Open {
    fn drop(&mut self) {
        metrics::gauge!("gateway_open_streams").decrement(1.0);
    }
}

/// The answer when `MAX_OPEN_STREAMS` are open already.
pub(crate) fn too_many() -> ApiError {
    ApiError::unavailable(
        "too_many_streams",
        "the gateway has too many live streams open; the page checks by itself meanwhile",
        5,
    )
}

/// Whether the upstream answered with a stream (an error is a JSON answer, relayed as one).
pub(crate) fn is_event_stream(response: &reqwest::Response) -> bool {
    response.status().is_success()
        && response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"))
}

/// Relays the upstream's stream chunk by chunk until it ends, breaks, or the gateway starts
/// draining; `open` is held until then.
pub(crate) fn relay(
    response: reqwest::Response,
    open: Open,
    draining: Option<Draining>,
) -> Response {
    let chunks = futures::stream::unfold((response, open), |(mut response, open)| async move {
        match response.chunk().await {
            Ok(Some(bytes)) => Some((Ok::<_, std::io::Error>(bytes), (response, open))),
            Ok(None) | Err(_) => None,
        }
    });
    let end = async move {
        match draining {
            Some(draining) => draining.started().await,
            None => std::future::pending().await,
        }
    };
    let body = Body::from_stream(chunks.take_until(Box::pin(end)));
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}
