//! What a request's body may cost the gateway before anyone is known to have sent it.
//!
//! - A method that takes no body (`GET`, `HEAD`, `DELETE`, `OPTIONS`) announcing one
//!   (`Content-Length` above 0, or any `Transfer-Encoding`) is refused at once with `400
//!   unexpected_body`, without reading or waiting for it, and the connection is closed after the
//!   answer. No endpoint of ours reads such a body, and a stalled one would hold an in-flight
//!   slot ([`crate::limits::InFlight`]) for nothing.
//! - A body sent without a valid token must arrive in full within [`PUBLIC_BODY_TIMEOUT`]
//!   (`408 request_timeout` past it), not the platform's 30 s
//!   ([`platform::service::REQUEST_TIMEOUT`], which a signed-in caller keeps). The only public
//!   endpoints that read a body are the dev issuer's forms, a few hundred bytes sent with the
//!   headers. The bound is sized against the per-address rate: at the default 200 requests a
//!   second and a burst of 400, one address can hold at most 200 × 2 + 400 = 800 bodies open,
//!   fewer than the 1024 in-flight slots, so it cannot keep the gateway at `503` on its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use platform::ApiError;

use crate::limits::Authentication;

/// How long a body sent without a valid token may take to arrive in full.
pub const PUBLIC_BODY_TIMEOUT: Duration = Duration::from_secs(2);

/// The middleware refusing a body announced on a method that takes none.
pub async fn refuse_unexpected(request: Request, next: Next) -> Response {
    let method = request.method();
    let takes_none = [Method::GET, Method::HEAD, Method::DELETE, Method::OPTIONS].contains(method);
    if !(takes_none && announces_body(request.headers())) {
        return next.run(request).await;
    }
    let mut refused = ApiError::new(
        StatusCode::BAD_REQUEST,
        "unexpected_body",
        format!("a {method} request takes no body; send it without one"),
    )
    .into_response();
    // The body was never read: the connection cannot carry another request.
    refused
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    refused
}

/// Whether the headers announce a body: a `Content-Length` other than 0, or a
/// `Transfer-Encoding` (which means one follows, however long).
fn announces_body(headers: &HeaderMap) -> bool {
    let length = headers.get(header::CONTENT_LENGTH).map(|value| {
        let text = value.to_str().unwrap_or_default().trim();
        text.parse::<u64>().ok()
    });
    headers.contains_key(header::TRANSFER_ENCODING) || matches!(length, Some(n) if n != Some(0))
}

/// The middleware giving a body sent without a valid token [`PUBLIC_BODY_TIMEOUT`] to arrive;
/// behind [`crate::limits::enforce`], which verified the token.
pub async fn public_deadline(request: Request, next: Next) -> Response {
    let signed_in = Authentication::of(request.extensions()).is_ok();
    if signed_in || !announces_body(request.headers()) {
        return next.run(request).await;
    }
    let expired = Arc::new(AtomicBool::new(false));
    let flag = expired.clone();
    let request = request.map(|body| within(body, PUBLIC_BODY_TIMEOUT, flag));
    let response = next.run(request).await;
    if expired.load(Ordering::Relaxed) {
        return ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the request's body did not arrive within {} s (without a valid token, a body \
                 must come with its request)",
                PUBLIC_BODY_TIMEOUT.as_secs()
            ),
        )
        .into_response();
    }
    response
}

/// `body`, broken off with an error once `timeout` has passed before its end; `expired` says so
/// (whatever the handler made of the error, the answer is then `408`).
fn within(body: Body, timeout: Duration, expired: Arc<AtomicBool>) -> Body {
    let deadline = tokio::time::Instant::now() + timeout;
    let chunks = futures::stream::unfold(Some(body.into_data_stream()), move |chunks| {
        let expired = expired.clone();
        async move {
            let mut chunks = chunks?;
            match tokio::time::timeout_at(deadline, chunks.next()).await {
                Ok(Some(chunk)) => Some((chunk, Some(chunks))),
                Ok(None) => None,
                Err(_) => {
                    expired.store(true, Ordering::Relaxed);
                    let stalled = axum::Error::new("the body stopped arriving");
                    Some((Err(stalled), None))
                }
            }
        }
    });
    Body::from_stream(chunks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| (name.clone(), HeaderValue::from_str(value).unwrap()))
            .collect()
    }

    #[test]
    fn a_body_is_announced_by_a_length_above_zero_or_any_transfer_encoding() {
        assert!(!announces_body(&headers(&[])));
        assert!(!announces_body(&headers(&[(header::CONTENT_LENGTH, "0")])));
        assert!(announces_body(&headers(&[(header::CONTENT_LENGTH, "1")])));
        assert!(announces_body(&headers(&[(header::CONTENT_LENGTH, "x")])));
        let chunked = [(header::TRANSFER_ENCODING, "chunked")];
        assert!(announces_body(&headers(&chunked)));
    }
}
