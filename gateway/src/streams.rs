//! Live streams through the gateway (`text/event-stream`: an order's journey, a seller's
//! changes; see [`crate::is_stream`]): relayed as they come instead of buffered, on a client of
//! their own with no overall deadline (an upstream that goes quiet past the keep-alive is cut
//! off by the read timeout instead), and bounded: at most `MAX_OPEN_STREAMS` open at once
//! (`503 too_many_streams` past that), and [`MAX_STREAMS_PER_CALLER`] for one caller (`429
//! too_many_streams`), so that one token cannot take them all; counted in the
//! `gateway_open_streams` gauge. An open stream holds no slot of the in-flight bound
//! (`MAX_CONCURRENT_REQUESTS`), which counts requests until their answer starts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::StatusCode;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use platform::live::{Draining, KEEP_ALIVE};
use platform::{ApiError, Caller, Role};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// `MAX_OPEN_STREAMS`' default.
pub const DEFAULT_MAX_OPEN_STREAMS: usize = 1000;
/// Most streams one caller may hold open at once: a page holds one, a person has a few tabs.
pub const MAX_STREAMS_PER_CALLER: usize = 8;

type CallerKey = (Role, i64);

/// The streams' client and their bounds.
#[derive(Clone)]
pub struct Streams {
    pub(crate) http: reqwest::Client,
    open: Arc<Semaphore>,
    by_caller: Arc<Mutex<HashMap<CallerKey, usize>>>,
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
            by_caller: Arc::default(),
        })
    }

    /// A slot for one more stream of `caller`, if they have fewer than
    /// [`MAX_STREAMS_PER_CALLER`] and the gateway has one free.
    pub(crate) fn open(&self, caller: &Caller) -> Result<Open, ApiError> {
        let key = (caller.role, caller.id);
        let mut by_caller = self.by_caller.lock().unwrap_or_else(|e| e.into_inner());
        let held = by_caller.entry(key).or_default();
        if *held >= MAX_STREAMS_PER_CALLER {
            let mut refused = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_streams",
                format!("you have {MAX_STREAMS_PER_CALLER} live pages open already; close one"),
            );
            refused.retry_after = Some(5);
            return Err(refused);
        }
        let permit = self.open.clone().try_acquire_owned().map_err(|_| {
            ApiError::unavailable(
                "too_many_streams",
                "the gateway has too many live streams open; the page checks by itself meanwhile",
                5,
            )
        })?;
        *held += 1;
        metrics::gauge!("gateway_open_streams").increment(1.0);
        Ok(Open {
            _permit: permit,
            caller: key,
            by_caller: self.by_caller.clone(),
        })
    }
}

/// One open stream's slots, given back (and counted down) when the stream ends.
pub(crate) struct Open {
    _permit: OwnedSemaphorePermit,
    caller: CallerKey,
    by_caller: Arc<Mutex<HashMap<CallerKey, usize>>>,
}

impl Drop for Open {
    fn drop(&mut self) {
        metrics::gauge!("gateway_open_streams").decrement(1.0);
        let mut by_caller = self.by_caller.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(held) = by_caller.get_mut(&self.caller) {
            *held -= 1;
            if *held == 0 {
                by_caller.remove(&self.caller);
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(id: i64) -> Caller {
        Caller {
            role: Role::Customer,
            id,
            subject: format!("customer-{id}"),
        }
    }

    #[test]
    fn one_caller_cannot_take_every_stream_and_a_closed_one_is_given_back() {
        let streams = Streams::new(MAX_STREAMS_PER_CALLER + 1).unwrap();
        let mut open: Vec<Open> = (0..MAX_STREAMS_PER_CALLER)
            .map(|_| streams.open(&caller(1)).unwrap())
            .collect();
        let refused = streams.open(&caller(1)).err().unwrap();
        assert_eq!(
            (refused.status, refused.code),
            (StatusCode::TOO_MANY_REQUESTS, "too_many_streams")
        );
        // Another caller takes the last slot; then the gateway is full for everyone.
        let last = streams.open(&caller(2)).unwrap();
        let full = streams.open(&caller(3)).err().unwrap();
        assert_eq!(full.status, StatusCode::SERVICE_UNAVAILABLE);
        drop(last);
        open.pop();
        streams.open(&caller(1)).unwrap();
    }
}
