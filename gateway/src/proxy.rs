//! The proxy proper: a routed request, checked, sent to one of its service's replicas
//! ([`upstreams`](crate::upstreams)) and its answer relayed; or the gateway's own JSON error
//! when no replica can answer.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use platform::ApiError;
use platform::client::Pool;
use platform::live::Draining;
use platform::service::MAX_BODY_BYTES;

use crate::limits::Authentication;
use crate::streams::{self, Streams};
use crate::upstreams::BreakerSettings;
use crate::{ROUTES, is_stream, route_of, service_of};

#[derive(Clone)]
pub(crate) struct Proxy {
    http: reqwest::Client,
    /// The live streams' own client and bound.
    streams: Streams,
    /// (prefix, the replicas behind it); two prefixes of one service share its pool.
    upstreams: Arc<Vec<(String, Arc<Pool>)>>,
}

impl Proxy {
    pub(crate) fn new(
        http: reqwest::Client,
        streams: Streams,
        upstreams: &[(String, Vec<String>)],
        breaker: BreakerSettings,
    ) -> Self {
        Self {
            http,
            streams,
            upstreams: Arc::new(pools(upstreams, breaker)),
        }
    }

    /// (prefix, service, a replica's base URL) for the combined API document.
    pub(crate) fn documented(&self) -> Vec<(String, String, String)> {
        self.upstreams
            .iter()
            .map(|(prefix, pool)| {
                let service = service_of(prefix).to_owned();
                (prefix.clone(), service, pool.first_base().to_owned())
            })
            .collect()
    }

    /// Every prefix of [`ROUTES`], and everything under it.
    pub(crate) fn routes(self) -> Router {
        let mut routes = Router::new();
        for (prefix, ..) in ROUTES {
            routes = routes
                .route(&format!("/{prefix}"), axum::routing::any(forward))
                .route(&format!("/{prefix}/{{*rest}}"), axum::routing::any(forward));
        }
        routes.with_state(self)
    }
}

/// One pool of replicas per service, shared by its prefixes (sellerpage answers two), so that
/// each replica has one breaker.
fn pools(
    upstreams: &[(String, Vec<String>)],
    breaker: BreakerSettings,
) -> Vec<(String, Arc<Pool>)> {
    let mut by_service: Vec<(&str, Arc<Pool>)> = Vec::new();
    upstreams
        .iter()
        .map(|(prefix, urls)| {
            let service = service_of(prefix);
            let pool = match by_service.iter().find(|(s, _)| *s == service) {
                Some((_, pool)) => pool.clone(),
                None => {
                    let pool = Arc::new(breaker.pool(service, urls));
                    by_service.push((service, pool.clone()));
                    pool
                }
            };
            (prefix.clone(), pool)
        })
        .collect()
}

/// Request headers passed upstream; hop-by-hop ones are not.
/// (`traceparent` is not passed through but continued: see [`platform::trace`].)
const FORWARDED_REQUEST: [HeaderName; 7] = [
    header::AUTHORIZATION,
    HeaderName::from_static(platform::bodies::WITHHELD),
    HeaderName::from_static(platform::idempotency::HEADER),
    header::CONTENT_TYPE,
    header::ACCEPT,
    HeaderName::from_static("x-request-id"),
    header::IF_NONE_MATCH,
];
const FORWARDED_RESPONSE: [HeaderName; 5] = [
    header::ALLOW,
    header::CONTENT_TYPE,
    header::LOCATION,
    header::RETRY_AFTER,
    header::ETAG,
];

async fn forward(State(proxy): State<Proxy>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    if leaves_its_prefix(parts.uri.path()) {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_path",
            "the path has a dot-segment or an encoded separator",
        )
        .into_response();
    }
    let prefix = route_of(parts.uri.path());
    let Some((name, pool)) = proxy.upstreams.iter().find(|(p, _)| p == prefix) else {
        return ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
            .into_response();
    };
    if contracts::calls::is_internal(parts.method.as_str(), parts.uri.path()) {
        return not_routed(parts.uri.path());
    }
    // The limits' middleware verified the token, once for both.
    if !is_public(&parts.method, prefix)
        && let Err(refused) = Authentication::of(&parts.extensions)
    {
        return refused.into_response();
    }
    let open = if is_stream(&parts.method, parts.uri.path()) {
        // A stream is never public: the caller was verified above.
        let opened = Authentication::of(&parts.extensions).and_then(|c| proxy.streams.open(c));
        match opened {
            Ok(open) => Some(open),
            Err(refused) => return refused.into_response(),
        }
    } else {
        None
    };
    // A stream's request has no body to pass on.
    let body = match open {
        Some(_) => Bytes::new(),
        None => match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
            Ok(bytes) => bytes,
            Err(_) => return too_large().into_response(),
        },
    };
    let http = if open.is_some() {
        &proxy.streams.http
    } else {
        &proxy.http
    };
    let response = match send(http, name, pool, &parts, body).await {
        Ok(response) => response,
        Err(refused) => return refused.into_response(),
    };
    match open {
        Some(open) if streams::is_event_stream(&response) => {
            let draining = parts.extensions.get::<Draining>().cloned();
            streams::relay(response, open, draining)
        }
        _ => relay(response, parts.uri.path()).await,
    }
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
    )
}

/// Sends the request to the first of `pool`'s replicas that takes it (the next one when a
/// replica cannot be reached), recording each outcome on the replica's breaker.
async fn send(
    http: &reqwest::Client,
    name: &str,
    pool: &Pool,
    parts: &axum::http::request::Parts,
    body: Bytes,
) -> Result<reqwest::Response, ApiError> {
    let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let mut refused = None;
    for replica in pool.candidates() {
        let mut upstream = http
            .request(
                parts.method.clone(),
                format!("{}{path_and_query}", replica.base),
            )
            .body(body.clone());
        for name in &FORWARDED_REQUEST {
            if let Some(value) = parts.headers.get(name) {
                upstream = upstream.header(name, value);
            }
        }
        if let Some((name, value)) = platform::trace::headers() {
            upstream = upstream.header(name, value);
        }
        match upstream.send().await {
            Ok(response) => {
                replica.breaker.on_success();
                return Ok(response);
            }
            // Nothing reached this replica: the next one may take the request.
            Err(err) if err.is_connect() => {
                replica.breaker.on_error();
                tracing::warn!(upstream = %replica.base, error = %err, "replica unreachable");
                refused = Some(err);
            }
            Err(err) => {
                replica.breaker.on_error();
                return Err(upstream_error(name, &err));
            }
        }
    }
    let refused = refused.expect("a pool has a replica, so one was tried");
    Err(upstream_error(name, &refused))
}

/// The answer to a call between services sent to the gateway: `/payments` is a public path for
/// reading, so a charge there is a method it does not allow; the seller alert is no path at all.
fn not_routed(path: &str) -> Response {
    if path.trim_end_matches('/') == contracts::calls::CHARGE_PATH {
        let mut response = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this endpoint does not accept that method",
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::ALLOW, axum::http::HeaderValue::from_static("GET"));
        response
    } else {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint").into_response()
    }
}

/// The public catalog: reading kits needs no token.
fn is_public(method: &axum::http::Method, prefix: &str) -> bool {
    prefix == "products"
        && (method == axum::http::Method::GET || method == axum::http::Method::HEAD)
}

/// Whether `path` has a segment that the upstream URL would resolve, so that a request could
/// leave its prefix for another path of the service (`/orders/%2e%2e/metrics` is order's own
/// `/metrics`): `.` or `..`, plain or percent-encoded, or an encoded `/` or `\`. No path of the
/// API has one.
fn leaves_its_prefix(path: &str) -> bool {
    path.split('/').any(|segment| {
        let lower = segment.to_ascii_lowercase();
        let decoded = lower.replace("%2e", ".");
        decoded == "."
            || decoded == ".."
            || lower.contains("%2f")
            || lower.contains("%5c")
            || segment.contains('\\')
    })
}

async fn relay(response: reqwest::Response, path: &str) -> Response {
    let status = response.status();
    let mut headers = HeaderMap::new();
    for name in &FORWARDED_RESPONSE {
        if let Some(value) = response.headers().get(name) {
            headers.insert(name, value.clone());
        }
    }
    // A service's `Allow` names its internal methods too (`POST /payments`); not here.
    if let Some(allow) = headers.get(header::ALLOW).and_then(|v| v.to_str().ok()) {
        let public: Vec<&str> = allow
            .split(',')
            .map(str::trim)
            .filter(|method| !contracts::calls::is_internal(method, path))
            .collect();
        if let Ok(value) = axum::http::HeaderValue::from_str(&public.join(",")) {
            headers.insert(header::ALLOW, value);
        }
    }
    match response.bytes().await {
        Ok(bytes) => (status, headers, Body::from(bytes)).into_response(),
        Err(err) => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "bad_gateway",
            format!("the upstream's answer broke off: {err}"),
        )
        .into_response(),
    }
}

fn upstream_error(prefix: &str, err: &reqwest::Error) -> ApiError {
    let service = service_of(prefix);
    if err.is_timeout() {
        tracing::warn!(service, error = %err, "upstream timed out");
        ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "upstream_timeout",
            format!("the {service} service did not answer in time"),
        )
    } else if err.is_connect() {
        tracing::warn!(service, error = %err, "upstream unreachable");
        ApiError::unavailable(
            "upstream_unavailable",
            format!("the {service} service is unavailable; try again shortly"),
            5,
        )
    } else {
        tracing::warn!(service, error = %err, "upstream failed");
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "bad_gateway",
            format!("the {service} service gave no valid answer"),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_prefixes_of_one_service_share_its_replicas_and_their_breakers() {
        let upstreams: Vec<(String, Vec<String>)> = ROUTES
            .iter()
            .map(|(prefix, _, _, url)| ((*prefix).to_owned(), vec![(*url).to_owned()]))
            .collect();
        let breaker = BreakerSettings {
            failures: 5,
            cooldown: Duration::from_secs(10),
        };
        let pools = pools(&upstreams, breaker);
        let pool_of = |prefix: &str| &pools.iter().find(|(p, _)| p == prefix).unwrap().1;
        assert!(Arc::ptr_eq(pool_of("sellers"), pool_of("dead-letters")));
        assert!(!Arc::ptr_eq(pool_of("sellers"), pool_of("orders")));
    }
}
