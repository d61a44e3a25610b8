//! A service's replicas behind the gateway: a list of base URLs (`ORDER_URL=http://a,http://b`),
//! taken in turn, each behind its own circuit breaker ([`platform::client::Pool`], which order's
//! calls to payment and marketing use too).
//!
//! A refused connection reached nothing, so the same request is tried on the next replica; a
//! timeout or a broken answer is not retried (the replica may have acted on it) and is answered
//! `504`/`502`. Unlike a service's synchronous client, the gateway counts transport failures
//! only: any HTTP answer, `5xx` included, proves the replica is up (a service's `503` speaks of
//! *its* dependencies, and is what the client should see). When every breaker is open, every
//! replica is tried anyway ([`WhenAllOpen::TryAll`]).

use std::time::Duration;

use platform::client::{Pool, WhenAllOpen};
use platform::settings::{self, SettingsError};

/// `UPSTREAM_BREAKER_FAILURES`, `UPSTREAM_BREAKER_COOLDOWN_MS`: each replica's breaker.
#[derive(Debug, Clone, Copy)]
pub struct BreakerSettings {
    pub failures: u32,
    pub cooldown: Duration,
}

impl BreakerSettings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Ok(Self {
            failures: settings::var("UPSTREAM_BREAKER_FAILURES", 5)?,
            cooldown: settings::millis("UPSTREAM_BREAKER_COOLDOWN_MS", 10_000)?,
        })
    }

    /// The pool of `service`'s replicas at `bases`, with these breakers.
    pub fn pool(self, service: &str, bases: &[String]) -> Pool {
        Pool::new(
            service,
            bases,
            self.failures,
            self.cooldown,
            WhenAllOpen::TryAll,
        )
    }
}
