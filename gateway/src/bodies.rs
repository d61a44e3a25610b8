//! What a request's body may cost the gateway before anyone is known to have sent it.
//!
//! - A method that takes no body (`GET`, `HEAD`, `DELETE`, `OPTIONS`) announcing one
//!   (`Content-Length` above 0, or any `Transfer-Encoding`) has it kept back
//!   ([`withhold_unexpected`]): never read or waited for, the request refused `400
//!   unexpected_body` by a route that has the method and `405` by one that has not
//!   ([`platform::bodies`]), the connection closed after the answer. A stalled body would
//!   otherwise hold an in-flight slot ([`crate::limits::InFlight`]) for nothing.
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
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use platform::ApiError;
use platform::bodies::{WITHHELD, announces_body, unexpected_body};

use crate::limits::Authentication;

/// How long a body sent without a valid token may take to arrive in full.
pub const PUBLIC_BODY_TIMEOUT: Duration = Duration::from_secs(2);

/// The outer layer keeping back a body announced on a method that takes none
/// ([`platform::bodies`]): the request goes on without it, marked
/// [`platform::bodies::WITHHELD`] (the gateway's own pages and every service refuse it, `400`,
/// on a route that has the method, `405` on one that has not), and the connection is closed
/// after the answer: the body is never read, so it cannot carry another request.
pub async fn withhold_unexpected(mut request: Request, next: Next) -> Response {
    if !unexpected_body(&request) {
        // Only the gateway marks a request so.
        request.headers_mut().remove(WITHHELD);
        return next.run(request).await;
    }
    let headers = request.headers_mut();
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(header::TRANSFER_ENCODING);
    headers.insert(WITHHELD, HeaderValue::from_static("1"));
    *request.body_mut() = Body::empty();
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
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
