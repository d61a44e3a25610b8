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
//! Abuse at the edge: request rates per client address and per caller, and requests in flight
//! through the whole gateway, are bounded here ([`limits`]); a request whose headers or body
//! stall is cut off by the platform's server (30 s), a body on a method that takes none is
//! refused at once, and a body without a valid token gets 2 s ([`bodies`]). No answer may be
//! framed ([`framing`]). The gateway's own `/metrics` is served on a port of its own
//! (`METRICS_PORT`), which only Prometheus reaches; the public port answers `404` there.

pub mod bodies;
pub mod docs;
pub mod framing;
pub mod limits;
mod proxy;
pub mod storefront;
pub mod streams;
pub mod upstreams;

use limits::{InFlight, LimitSettings, Limits};
use proxy::Proxy;
use storefront::StorefrontSettings;
use streams::Streams;
use upstreams::BreakerSettings;

use std::time::Duration;

use axum::middleware;
use platform::auth::dev::{DevIssuer, DevIssuerSettings};
use platform::auth::{AuthSettings, Verifier};
use platform::health::Health;
use platform::service::{App, MetricsAt};
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
/// order's journey (`/orders/{id}/journey` and its live stream `/orders/{id}/journey/events`),
/// which the read side answers (sellerpage, routed as `sellers`), so that it answers while
/// order is down.
pub fn route_of(path: &str) -> &str {
    let mut segments = path.trim_start_matches('/').split('/');
    let first = segments.next().unwrap_or_default();
    let is_journey = first == "orders"
        && segments.next().is_some_and(|id| !id.is_empty())
        && segments.next() == Some("journey")
        && matches!(segments.next(), None | Some("events"))
        && segments.next().is_none();
    if is_journey { "sellers" } else { first }
}

/// Whether a request opens a live stream ([`streams`]): `GET /orders/{id}/journey/events` or
/// `GET /sellers/{id}/events`.
pub fn is_stream(method: &axum::http::Method, path: &str) -> bool {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    method == axum::http::Method::GET
        && matches!(
            segments.as_slice(),
            ["orders", id, "journey", "events"] | ["sellers", id, "events"] if !id.is_empty()
        )
}

/// The service behind a path prefix.
pub(crate) fn service_of(prefix: &str) -> &'static str {
    ROUTES
        .iter()
        .find(|(p, ..)| *p == prefix)
        .map_or("unknown", |(_, service, ..)| service)
}

/// `METRICS_PORT`'s default (Prometheus' own port number, by custom a metrics port).
pub const DEFAULT_METRICS_PORT: u16 = 9090;

#[derive(Debug, Clone)]
pub struct Settings {
    pub bind_addr: String,
    pub port: u16,
    /// `METRICS_PORT`: where the gateway's own `/metrics` is served, apart from the public port.
    pub metrics_port: u16,
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
            metrics_port: settings::var("METRICS_PORT", DEFAULT_METRICS_PORT)?,
            upstreams: ROUTES
                .iter()
                .map(|(prefix, _, var, default)| {
                    let urls = platform::client::parse_list(var, &settings::string(var, default))?;
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

pub async fn build(settings: Settings) -> anyhow::Result<App> {
    let http = platform::client::http_client()
        .timeout(settings.timeout)
        .connect_timeout(Duration::from_secs(2))
        .pool_max_idle_per_host(256)
        .build()?;
    let verifier = Verifier::new(settings.auth.clone())?;
    let streams = Streams::new(settings.limits.max_open_streams)?;
    let proxy = Proxy::new(http.clone(), streams, &settings.upstreams, settings.breaker);
    let documented = proxy.documented();
    let mut own = docs::routes(http, documented)
        .merge(storefront::routes(&settings.storefront, &settings.auth)?);
    if settings.dev_issuer.enabled {
        let issuer = DevIssuer::load_or_create(&settings.dev_issuer, &settings.auth)?;
        tracing::warn!(
            issuer = %settings.auth.issuer,
            "the dev issuer is on: anyone can get a token for any customer, seller, courier or admin"
        );
        own = own.merge(issuer.routes());
    }
    // The gateway's own pages refuse a withheld body as a service does ([`bodies`]); the
    // services answer for theirs.
    let routes = proxy
        .routes()
        .merge(own.route_layer(middleware::from_fn(platform::bodies::refuse_unexpected)));
    let limits = Limits::new(&settings.limits, verifier.clone());
    let in_flight = InFlight::new(settings.limits.max_concurrent);
    // Outermost last: a body where none belongs is kept back, unread, before anything else is
    // spent on it; then the rates and the token; then the public body deadline; then the one
    // in-flight bound, shared by every route.
    let routes = routes
        .layer(middleware::from_fn_with_state(
            in_flight,
            limits::bound_in_flight,
        ))
        .layer(middleware::from_fn(bodies::public_deadline))
        .layer(middleware::from_fn_with_state(
            limits.clone(),
            limits::enforce,
        ))
        .layer(middleware::from_fn(bodies::withhold_unexpected))
        .layer(middleware::map_response(framing::never_framed));
    App::bind(
        &settings.bind_addr,
        settings.port,
        MetricsAt::Port(settings.metrics_port),
        routes,
        Health::default(),
        verifier,
        vec![platform::service::task(|stop| limits.forget_idle(stop))],
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::{is_stream, route_of};
    use axum::http::Method;

    #[test]
    fn a_stream_is_a_get_of_a_journeys_or_a_sellers_events() {
        assert!(is_stream(&Method::GET, "/orders/42/journey/events"));
        assert!(is_stream(&Method::GET, "/sellers/7/events"));
        assert!(!is_stream(&Method::POST, "/sellers/7/events"));
        assert!(!is_stream(&Method::GET, "/sellers/7/orders"));
        assert!(!is_stream(&Method::GET, "/sellers//events"));
        assert!(!is_stream(&Method::GET, "/orders/42/journey"));
    }

    #[test]
    fn an_orders_journey_goes_to_the_read_side_and_everything_else_by_prefix() {
        assert_eq!(route_of("/orders/42/journey"), "sellers");
        assert_eq!(route_of("/orders/42"), "orders");
        assert_eq!(route_of("/orders/42/cancel"), "orders");
        assert_eq!(route_of("/orders//journey"), "orders");
        assert_eq!(route_of("/orders/42/journey/x"), "orders");
        assert_eq!(route_of("/orders/42/journey/events"), "sellers");
        assert_eq!(route_of("/orders/42/journey/events/x"), "orders");
        assert_eq!(route_of("/dead-letters/3/redrive"), "dead-letters");
        assert_eq!(route_of("/"), "");
    }
}
