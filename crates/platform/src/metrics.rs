//! Prometheus metrics: one process-wide recorder, `/metrics` to scrape it, and a middleware that
//! counts and times every request by route template (not raw path, to bound cardinality).

use std::sync::OnceLock;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("_seconds".into()),
                    &[
                        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0,
                        10.0, 30.0,
                    ],
                )
                .ok()?
                .install_recorder()
                .ok()
        })
        .as_ref()
}

/// Installs the process-wide recorder; metrics recorded before it are lost, so everything that
/// records calls this first (idempotent).
pub fn install() {
    let _ = handle();
}

/// The current metrics in Prometheus text format (installs the recorder if needed).
pub fn render() -> String {
    handle().map(PrometheusHandle::render).unwrap_or_default()
}

/// Installs the recorder (idempotent) and returns the `/metrics` route.
pub fn routes() -> Router {
    install();
    Router::new().route("/metrics", get(scrape))
}

/// Prometheus metrics: HTTP requests by route and status, consumer lag and outcomes, outbox
/// backlog, circuit breaker states.
#[utoipa::path(get, path = "/metrics", operation_id = "metrics",
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain", body = String)))]
pub async fn scrape() -> String {
    render()
}

pub async fn track_http(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let elapsed = started.elapsed().as_secs_f64();
    if response.status().is_server_error() {
        tracing::warn!(method, %route, %status, elapsed, "request failed");
    } else {
        tracing::debug!(method, %route, %status, elapsed, "request");
    }
    let labels = [
        ("method", method.to_owned()),
        ("route", route),
        ("status", status),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(elapsed);
    response
}

/// The method as a label: the standard ones by name, any other as `OTHER`, so that made-up
/// methods cannot create new series without end.
fn method_label(method: &Method) -> &'static str {
    [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
        Method::TRACE,
        Method::CONNECT,
    ]
    .iter()
    .find(|known| *known == method)
    .map_or("OTHER", |known| known.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_methods_share_one_label() {
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        for made_up in ["FOOBAR", "get", "PROPFIND"] {
            let method = Method::from_bytes(made_up.as_bytes()).unwrap();
            assert_eq!(method_label(&method), "OTHER", "{made_up}");
        }
    }
}
