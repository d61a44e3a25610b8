//! The HTTP server under every service and the gateway: axum's router on hyper, with what
//! `axum::serve` does not offer. `axum::serve` gives hyper no timer, so hyper's deadline on a
//! request's headers never applies; here it does ([`HEADER_TIMEOUT`]), a whole request has a
//! deadline too ([`REQUEST_TIMEOUT`]), and handlers can extract the peer's address
//! (`ConnectInfo<SocketAddr>`), which the gateway's per-address rate limit uses.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::ApiError;

/// How long in-flight work (connections, then background loops) may take to finish after
/// shutdown begins.
pub(crate) const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send a request's headers: a connection that stalls is closed.
/// An idle keep-alive connection is closed after as long, so our own clients keep idle
/// connections for less ([`IDLE_CONNECTION_REUSE`]).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a request may take in all, its body included: a body that stalls is cut off with
/// `408 request_timeout`. Longer than any synchronous call a service or the gateway makes.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long our HTTP clients reuse an idle connection: less than [`HEADER_TIMEOUT`], so a
/// request never goes out on a connection the server is closing.
pub const IDLE_CONNECTION_REUSE: Duration = Duration::from_secs(20);

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting, lets the
/// connections finish their requests (bounded) and returns. Like `axum::serve`, with a
/// deadline on each request's headers ([`HEADER_TIMEOUT`]) and the peer's address for the
/// `ConnectInfo<SocketAddr>` extractor.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()>,
) {
    let connections = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, say: back off instead of spinning.
                    tracing::warn!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = router.clone().map_request(move |mut request: Request<_>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        });
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = connections.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, connections.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections did not finish in time");
    }
}

/// Cuts off a request that takes longer than [`REQUEST_TIMEOUT`] (a body that never arrives).
pub(crate) async fn deadline(request: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the request did not complete within {} s (its body stopped arriving?)",
                REQUEST_TIMEOUT.as_secs()
            ),
        )
        .into_response(),
    }
}
