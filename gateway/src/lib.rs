//! The gateway: one entry point for every public path (the README's HTTP API section).
//!
//! Routes by the first path segment, forwards method, path, query, body and the headers that
//! matter (the bearer token included), and answers JSON errors of its own when an upstream cannot: `503` (unreachable, with
//! `Retry-After`), `504` (no answer in time), `502` (a broken answer). It never hangs: every
//! upstream call has a deadline. Request ids are set (or kept) and passed upstream.
//! `/openapi.json` combines the services' documents; `/docs` shows it (see [`docs`]). `/` is
//! the storefront ([`storefront`]).
//!
//! Identity at the edge: every routed call but the public catalog (`GET /products...`) needs a
//! valid bearer token (`401` here, before any service is bothered); the calls between services
//! (`POST /payments`, `/notifications/seller-alerts`) are never routed (`404`). Each service
//! verifies the token again and decides ownership itself: the gateway is not the only guard.
//! With `AUTH_DEV_ISSUER=true` the gateway also serves the dev issuer
//! ([`platform::auth::dev`]).
//!
//! Abuse at the edge: request rates per client address and per caller, and requests in flight,
//! are bounded here ([`limits`]); a request whose headers or body stall is cut off by the
//! platform's server (30 s).

pub mod docs;
pub mod limits;
pub mod storefront;
pub mod upstreams;

use limits::{Authentication, LimitSettings, Limits};
use storefront::StorefrontSettings;
use upstreams::{BreakerSettings, Pool};

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use platform::ApiError;
use platform::auth::dev::{DevIssuer, DevIssuerSettings};
use platform::auth::{AuthSettings, Verifier};
use platform::health::Health;
use platform::service::{App, MAX_BODY_BYTES};
use platform::settings::{self, SettingsError};

/// Path prefix → service, its URL setting and default (the local launcher's ports). An order's
/// journey is the exception to routing by prefix: see [`route_of`].
pub const ROUTES: [(&str, &str, &str, &str); 7] = [
    (
        "products",
        "product",
        "PRODUCT_URL",
        "http://127.0.0.1:8081",
    ),
    ("orders", "order", "ORDER_URL", "http://127.0.0.1:8082"),
    (
        "payments",
        "payment",
        "PAYMENT_URL",
        "http://127.0.0.1:8083",
    ),
    (
        "deliveries",
        "delivery",
        "DELIVERY_URL",
        "http://127.0.0.1:8084",
    ),
    (
        "notifications",
        "marketing",
        "MARKETING_URL",
        "http://127.0.0.1:8085",
    ),
    (
        "sellers",
        "sellerpage",
        "SELLERPAGE_URL",
        "http://127.0.0.1:8086",
    ),
    (
        "dead-letters",
        "sellerpage",
        "SELLERPAGE_URL",
        "http://127.0.0.1:8086",
    ),
];

/// The route (a prefix of [`ROUTES`]) that answers `path`: its first segment, but for an
/// order's journey (`/orders/{id}/journey`), which the read side answers (sellerpage, routed as
/// `sellers`), so that it answers while order is down.
pub fn route_of(path: &str) -> &str {
    let mut segments = path.trim_start_matches('/').split('/');
    let first = segments.next().unwrap_or_default();
    let is_journey = first == "orders"
        && segments.next().is_some_and(|id| !id.is_empty())
        && segments.next() == Some("journey")
        && segments.next().is_none();
    if is_journey { "sellers" } else { first }
}

/// The service behind a path prefix.
fn service_of(prefix: &str) -> &'static str {
    ROUTES
        .iter()
        .find(|(p, ..)| *p == prefix)
        .map_or("unknown", |(_, service, ..)| service)
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub bind_addr: String,
    pub port: u16,
    /// (prefix, base URLs of the service's replicas) for each route.
    pub upstreams: Vec<(String, Vec<String>)>,
    /// `UPSTREAM_BREAKER_*`: each replica's circuit breaker.
    pub breaker: BreakerSettings,
    /// `UPSTREAM_TIMEOUT_MS`: longer than any service's own synchronous call.
    pub timeout: Duration,
    /// `AUTH_*`: how tokens are verified.
    pub auth: AuthSettings,
    /// `AUTH_DEV_*`: the dev issuer, off unless `AUTH_DEV_ISSUER=true`.
    pub dev_issuer: DevIssuerSettings,
    /// `RATE_LIMIT_*`, `MAX_CONCURRENT_REQUESTS`.
    pub limits: LimitSettings,
    /// `STOREFRONT_*`: where the storefront signs people in.
    pub storefront: StorefrontSettings,
}

impl Settings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Ok(Self {
            bind_addr: settings::string("BIND_ADDR", "0.0.0.0"),
            port: settings::var("PORT", 8080)?,
            upstreams: ROUTES
                .iter()
                .map(|(prefix, _, var, default)| {
                    let urls = upstreams::parse_list(var, &settings::string(var, default))?;
                    Ok(((*prefix).to_owned(), urls))
                })
                .collect::<Result<_, SettingsError>>()?,
            breaker: BreakerSettings::from_env()?,
            timeout: settings::millis("UPSTREAM_TIMEOUT_MS", 10_000)?,
            auth: AuthSettings::from_env()?,
            dev_issuer: DevIssuerSettings::from_env()?,
            limits: LimitSettings::from_env()?,
            storefront: StorefrontSettings::from_env()?,
        })
    }
}

#[derive(Clone)]
struct Proxy {
    http: reqwest::Client,
    /// (prefix, the replicas behind it); two prefixes of one service share its pool.
    upstreams: Arc<Vec<(String, Arc<Pool>)>>,
}

pub async fn build(settings: Settings) -> anyhow::Result<App> {
    let http = platform::client::http_client()
        .timeout(settings.timeout)
        .connect_timeout(Duration::from_secs(2))
        .pool_max_idle_per_host(256)
        .build()?;
    let verifier = Verifier::new(settings.auth.clone())?;
    let proxy = Proxy {
        http: http.clone(),
        upstreams: Arc::new(pools(&settings.upstreams, settings.breaker)),
    };
    let documented = proxy
        .upstreams
        .iter()
        .map(|(prefix, pool)| {
            let service = service_of(prefix).to_owned();
            (prefix.clone(), service, pool.first_base().to_owned())
        })
        .collect();
    let mut routes = Router::new();
    for (prefix, ..) in ROUTES {
        routes = routes
            .route(&format!("/{prefix}"), axum::routing::any(forward))
            .route(&format!("/{prefix}/{{*rest}}"), axum::routing::any(forward));
    }
    let mut routes = routes
        .with_state(proxy)
        .merge(docs::routes(http, documented))
        .merge(storefront::routes(&settings.storefront, &settings.auth)?);
    if settings.dev_issuer.enabled {
        let issuer = DevIssuer::load_or_create(&settings.dev_issuer, &settings.auth)?;
        tracing::warn!(
            issuer = %settings.auth.issuer,
            "the dev issuer is on: anyone can get a token for any customer, seller, courier or admin"
        );
        routes = routes.merge(issuer.routes());
    }
    let limits = Limits::new(&settings.limits, verifier.clone());
    let in_flight = tower::ServiceBuilder::new()
        .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
            limits::overloaded()
        }))
        .load_shed()
        .concurrency_limit(settings.limits.max_concurrent);
    let routes = routes
        .layer(in_flight)
        .layer(axum::middleware::from_fn_with_state(
            limits.clone(),
            limits::enforce,
        ));
    App::bind(
        &settings.bind_addr,
        settings.port,
        routes,
        Health::default(),
        verifier,
        vec![platform::service::task(|stop| limits.forget_idle(stop))],
    )
    .await
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
                    let pool = Arc::new(Pool::new(service, urls, breaker));
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
const FORWARDED_REQUEST: [HeaderName; 6] = [
    header::AUTHORIZATION,
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
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
            )
            .into_response();
        }
    };
    let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let mut refused = None;
    for replica in pool.candidates() {
        let mut upstream = proxy
            .http
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
                return relay(response, parts.uri.path()).await;
            }
            // Nothing reached this replica: the next one may take the request.
            Err(err) if err.is_connect() => {
                replica.breaker.on_error();
                tracing::warn!(upstream = %replica.base, error = %err, "replica unreachable");
                refused = Some(err);
            }
            Err(err) => {
                replica.breaker.on_error();
                return upstream_error(name, &err).into_response();
            }
        }
    }
    let refused = refused.expect("a pool has a replica, so one was tried");
    upstream_error(name, &refused).into_response()
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

    #[test]
    fn an_orders_journey_goes_to_the_read_side_and_everything_else_by_prefix() {
        assert_eq!(route_of("/orders/42/journey"), "sellers");
        assert_eq!(route_of("/orders/42"), "orders");
        assert_eq!(route_of("/orders/42/cancel"), "orders");
        assert_eq!(route_of("/orders//journey"), "orders");
        assert_eq!(route_of("/orders/42/journey/x"), "orders");
        assert_eq!(route_of("/dead-letters/3/redrive"), "dead-letters");
        assert_eq!(route_of("/"), "");
    }
}
