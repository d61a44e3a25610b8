//! A body where none belongs: a method that takes none (`GET`, `HEAD`, `DELETE`, `OPTIONS`)
//! announcing one (`Content-Length` above 0, or any `Transfer-Encoding`).
//!
//! No endpoint reads such a body, and waiting for a stalled one would hold a connection and an
//! in-flight slot for nothing. Every route that has the method refuses it at once, `400
//! unexpected_body` ([`refuse_unexpected`], a route layer of every service and of the gateway's
//! own pages); a route that has not answers `405` first, the API's contract for an undeclared
//! method. The gateway, which cannot know a service's methods, never reads such a body: it
//! forwards the request without it, marked [`WITHHELD`], for the service to answer as it would
//! have, and closes the client's connection after the answer.

use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::ApiError;

/// The header the gateway puts on a request whose announced body it kept back.
pub const WITHHELD: &str = "x-body-withheld";

/// The route layer refusing a body on a method that takes none (announced, or withheld by the
/// gateway), before the handler.
pub async fn refuse_unexpected(request: Request, next: Next) -> Response {
    if !unexpected_body(&request) && !request.headers().contains_key(WITHHELD) {
        return next.run(request).await;
    }
    let method = request.method();
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "unexpected_body",
        format!("a {method} request takes no body; send it without one"),
    )
    .into_response()
}

/// Whether `request` is a method that takes no body, announcing one.
pub fn unexpected_body(request: &Request) -> bool {
    let takes_none = [Method::GET, Method::HEAD, Method::DELETE, Method::OPTIONS];
    takes_none.contains(request.method()) && announces_body(request.headers())
}

/// Whether the headers announce a body: a `Content-Length` other than 0, or a
/// `Transfer-Encoding` (which means one follows, however long).
pub fn announces_body(headers: &HeaderMap) -> bool {
    let length = headers.get(header::CONTENT_LENGTH).map(|value| {
        let text = value.to_str().unwrap_or_default().trim();
        text.parse::<u64>().ok()
    });
    headers.contains_key(header::TRANSFER_ENCODING) || matches!(length, Some(n) if n != Some(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

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
