//! What one client may ask of the gateway: a request rate per client address and per signed-in
//! caller (`429 rate_limited` with `Retry-After`), and one bound on the requests in flight
//! through the whole gateway (`503 overloaded`, [`InFlight`]). Timeouts on a request's headers
//! and body are the platform's ([`platform::service`]), for every service alike; a body sent
//! without a valid token has a shorter one ([`crate::bodies`]).
//!
//! Rates are GCRA buckets from the `governor` crate (a maintained implementation, lock-free per
//! key): each key may burst up to its `*_BURST` and then gets `*_PER_SEC` requests a second.
//! The address is the TCP peer's: behind a load balancer that does not keep it, every client
//! shares one address, so raise that limit there (the caller's limit still holds per identity).

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use platform::auth::Verifier;
use platform::settings::{self, SettingsError};
use platform::shutdown::CancellationToken;
use platform::{ApiError, Caller};
use tokio::sync::Semaphore;

/// `MAX_CONCURRENT_REQUESTS`' default.
pub const DEFAULT_MAX_CONCURRENT: usize = 1024;

/// The limits, from the environment (defaults in the README's configuration table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitSettings {
    /// `RATE_LIMIT_ADDRESS_PER_SEC` / `RATE_LIMIT_ADDRESS_BURST`: every request, per client
    /// address.
    pub per_address: Rate,
    /// `RATE_LIMIT_CALLER_PER_SEC` / `RATE_LIMIT_CALLER_BURST`: requests with a valid token, per
    /// caller (role and id).
    pub per_caller: Rate,
    /// `MAX_CONCURRENT_REQUESTS`: requests in flight through the gateway at once.
    pub max_concurrent: usize,
    /// `MAX_OPEN_STREAMS`: live streams open through the gateway at once
    /// ([`crate::streams`]).
    pub max_open_streams: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_sec: NonZeroU32,
    pub burst: NonZeroU32,
}

impl LimitSettings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Ok(Self {
            per_address: Rate {
                per_sec: settings::var("RATE_LIMIT_ADDRESS_PER_SEC", nonzero(200))?,
                burst: settings::var("RATE_LIMIT_ADDRESS_BURST", nonzero(400))?,
            },
            per_caller: Rate {
                per_sec: settings::var("RATE_LIMIT_CALLER_PER_SEC", nonzero(50))?,
                burst: settings::var("RATE_LIMIT_CALLER_BURST", nonzero(100))?,
            },
            max_concurrent: settings::var("MAX_CONCURRENT_REQUESTS", DEFAULT_MAX_CONCURRENT)?,
            max_open_streams: settings::var(
                "MAX_OPEN_STREAMS",
                crate::streams::DEFAULT_MAX_OPEN_STREAMS,
            )?,
        })
    }
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).expect("a positive default")
}

impl Rate {
    fn quota(self) -> Quota {
        Quota::per_second(self.per_sec).allow_burst(self.burst)
    }
}

/// The rate limiters, shared by every request.
#[derive(Clone)]
pub struct Limits {
    by_address: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    by_caller: Arc<DefaultKeyedRateLimiter<(platform::Role, i64)>>,
    verifier: Verifier,
}

impl Limits {
    pub fn new(settings: &LimitSettings, verifier: Verifier) -> Self {
        Self {
            by_address: Arc::new(RateLimiter::keyed(settings.per_address.quota())),
            by_caller: Arc::new(RateLimiter::keyed(settings.per_caller.quota())),
            verifier,
        }
    }

    /// Whether `address` may make one more request now.
    pub fn admit_address(&self, address: IpAddr) -> Result<(), ApiError> {
        admit(&self.by_address, &address, "address")
    }

    /// Whether `caller` may make one more request now.
    pub fn admit_caller(&self, caller: &Caller) -> Result<(), ApiError> {
        admit(&self.by_caller, &(caller.role, caller.id), "caller")
    }

    /// Forgets, once a minute, the keys whose buckets are full again (they would behave as new):
    /// the maps hold only recently active clients.
    pub async fn forget_idle(self, stop: CancellationToken) {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(60)) => {}
            }
            self.by_address.retain_recent();
            self.by_address.shrink_to_fit();
            self.by_caller.retain_recent();
            self.by_caller.shrink_to_fit();
        }
    }
}

fn admit<K: std::hash::Hash + Eq + Clone>(
    limiter: &DefaultKeyedRateLimiter<K>,
    key: &K,
    limit: &'static str,
) -> Result<(), ApiError> {
    limiter.check_key(key).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        metrics::counter!("gateway_rate_limited_total", "limit" => limit).increment(1);
        let seconds = u32::try_from(wait.as_millis().div_ceil(1000))
            .unwrap_or(u32::MAX)
            .max(1);
        let mut err = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests from this {limit}; try again in {seconds} s"),
        );
        err.retry_after = Some(seconds);
        err
    })
}

/// Who a request's bearer token says is calling, verified once by [`enforce`] for the routes
/// behind it: the caller, or the `401` (or `503`) the request gets where a token is required.
#[derive(Clone)]
pub struct Authentication(Result<Caller, ApiError>);

impl Authentication {
    /// The verified caller of a request that went through [`enforce`].
    pub fn of(extensions: &axum::http::Extensions) -> Result<&Caller, ApiError> {
        match extensions.get::<Authentication>() {
            Some(Authentication(verified)) => verified.as_ref().map_err(Clone::clone),
            None => Err(ApiError::internal("the limits middleware is not installed")),
        }
    }
}

/// The middleware: the client address's limit on every request, then the token is verified
/// (once: the routes read the outcome, [`Authentication`]) and, for a valid one, the caller's
/// limit applies.
pub async fn enforce(
    State(limits): State<Limits>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Err(refused) = limits.admit_address(peer.ip()) {
        return refused.into_response();
    }
    let verified = match platform::auth::bearer(request.headers()) {
        Ok(token) => limits.verifier.verify(token).await,
        Err(missing_or_malformed) => Err(missing_or_malformed),
    };
    if let Ok(caller) = &verified
        && let Err(refused) = limits.admit_caller(caller)
    {
        return refused.into_response();
    }
    request
        .extensions_mut()
        .insert(Authentication(verified.map_err(ApiError::from)));
    next.run(request).await
}

/// The bound on requests in flight: one count for the whole gateway, whichever route a request
/// takes (a tower concurrency limit layered on the router would be one count per route).
#[derive(Clone)]
pub struct InFlight(Arc<Semaphore>);

impl InFlight {
    pub fn new(max_concurrent: usize) -> Self {
        Self(Arc::new(Semaphore::new(max_concurrent)))
    }
}

/// The middleware: a slot from the request until its answer starts (so an open live stream,
/// whose answer has started, holds none), or `503 overloaded` at once when none is free.
pub async fn bound_in_flight(
    State(in_flight): State<InFlight>,
    request: Request,
    next: Next,
) -> Response {
    let Ok(_slot) = in_flight.0.try_acquire() else {
        return overloaded().into_response();
    };
    next.run(request).await
}

/// The answer when `MAX_CONCURRENT_REQUESTS` are in flight already.
fn overloaded() -> ApiError {
    ApiError::unavailable(
        "overloaded",
        "the gateway has too many requests in flight; try again shortly",
        1,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_sec: u32, burst: u32) -> Limits {
        let rate = Rate {
            per_sec: nonzero(per_sec),
            burst: nonzero(burst),
        };
        let settings = LimitSettings {
            per_address: rate,
            per_caller: rate,
            max_concurrent: 1,
            max_open_streams: 1,
        };
        let verifier = Verifier::new(platform::auth::AuthSettings::for_dev_issuer(
            "http://127.0.0.1:1",
        ))
        .unwrap();
        Limits::new(&settings, verifier)
    }

    #[test]
    fn a_burst_over_the_limit_is_refused_with_a_retry_after() {
        let limits = limits(1, 3);
        let address: IpAddr = [10, 0, 0, 1].into();
        for _ in 0..3 {
            limits.admit_address(address).unwrap();
        }
        let refused = limits.admit_address(address).unwrap_err();
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.code, "rate_limited");
        assert_eq!(refused.retry_after, Some(1));
        // Another client is not affected.
        limits.admit_address([10, 0, 0, 2].into()).unwrap();
    }

    #[test]
    fn callers_are_limited_one_by_one() {
        let limits = limits(1, 1);
        let caller = |id| Caller {
            role: platform::Role::Customer,
            id,
            subject: format!("customer-{id}"),
        };
        limits.admit_caller(&caller(1)).unwrap();
        assert!(limits.admit_caller(&caller(1)).is_err());
        limits.admit_caller(&caller(2)).unwrap();
    }
}
