//! No page of ours may be framed by another site (clickjacking: a sign-in form or the API docs
//! under someone else's buttons). Every answer of the gateway says so twice: the CSP
//! `frame-ancestors 'none'` that browsers follow today, and `X-Frame-Options: DENY` for those
//! that predate it. An answer with a policy of its own (the storefront's, which forbids framing
//! too) keeps it; any other gets one of a single directive, so nothing else it loads changes.

use axum::http::{HeaderValue, header};
use axum::response::Response;

/// The policy added to an answer that has none.
pub const NO_FRAMING: &str = "frame-ancestors 'none'";

/// The response middleware (`axum::middleware::map_response`).
pub async fn never_framed(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(NO_FRAMING),
        );
    }
    response
}
