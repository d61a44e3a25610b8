//! A service's replicas behind the gateway: a list of base URLs (`ORDER_URL=http://a,http://b`),
//! taken in turn, each behind its own circuit breaker.
//!
//! A request goes to the next replica whose breaker lets a call through. If that replica
//! refuses the connection, nothing reached it, so the same request is tried on the next one;
//! a timeout or a broken answer is not retried (the replica may have acted on it) and is
//! answered `504`/`502` as before. Transport failures count against a replica's breaker; any
//! HTTP answer, `5xx` included, proves the replica is up (a service's `503` speaks of *its*
//! dependencies). After [`BreakerSettings::failures`] in a row a replica is skipped without
//! being called until its cool-down has passed, as long as another replica's breaker is
//! closed. When every breaker is open, every replica is tried anyway: a service that comes back
//! is served at once rather than a cool-down later, and a lone replica behaves as if it had no
//! breaker. In Kubernetes each URL is a Service that spreads requests itself, so the list has
//! one entry there; locally it lists the launcher's replicas.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use platform::client::{Breaker, breaker};
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
}

/// The base URLs a `*_URL` setting lists: comma-separated, each `http://` or `https://`.
pub fn parse_list(name: &str, text: &str) -> Result<Vec<String>, SettingsError> {
    let urls: Vec<String> = text
        .split(',')
        .map(|url| url.trim().trim_end_matches('/').to_owned())
        .filter(|url| !url.is_empty())
        .collect();
    let bad = urls
        .iter()
        .find(|url| !(url.starts_with("http://") || url.starts_with("https://")));
    if urls.is_empty() || bad.is_some() {
        return Err(SettingsError {
            name: name.to_owned(),
            value: text.to_owned(),
            reason: "a comma-separated list of http:// or https:// base URLs".into(),
        });
    }
    Ok(urls)
}

/// One replica: its base URL and its breaker.
pub struct Replica {
    pub base: String,
    pub breaker: Breaker,
}

/// The replicas of one service.
pub struct Pool {
    replicas: Vec<Replica>,
    next: AtomicUsize,
}

impl Pool {
    /// `service`'s replicas at `bases` (at least one: [`parse_list`] never gives none); each
    /// breaker is labelled `service@base` on the metrics.
    pub fn new(service: &str, bases: &[String], settings: BreakerSettings) -> Self {
        assert!(!bases.is_empty(), "{service} has no replica");
        let replicas = bases
            .iter()
            .map(|base| Replica {
                base: base.clone(),
                breaker: breaker(
                    &format!("{service}@{base}"),
                    settings.failures,
                    settings.cooldown,
                ),
            })
            .collect();
        Self {
            replicas,
            next: AtomicUsize::new(0),
        }
    }

    /// The replicas to try for one request, in order: starting with the next in turn, those
    /// whose breaker lets a call through, or all of them when no breaker does.
    pub fn candidates(&self) -> Vec<&Replica> {
        let count = self.replicas.len();
        let first = self.next.fetch_add(1, Ordering::Relaxed) % count.max(1);
        let in_turn: Vec<&Replica> = (0..count)
            .map(|offset| &self.replicas[(first + offset) % count])
            .collect();
        let permitted: Vec<&Replica> = in_turn
            .iter()
            .copied()
            .filter(|replica| replica.breaker.is_call_permitted())
            .collect();
        if permitted.is_empty() {
            in_turn
        } else {
            permitted
        }
    }

    /// Any replica's base URL (the API documents are the same on every replica).
    pub fn first_base(&self) -> &str {
        &self.replicas[0].base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> BreakerSettings {
        BreakerSettings {
            failures: 2,
            cooldown: Duration::from_secs(60),
        }
    }

    #[test]
    fn lists_parse_and_refuse_what_is_not_a_url() {
        assert_eq!(
            parse_list("ORDER_URL", " http://a:1/, http://b:2 ").unwrap(),
            ["http://a:1", "http://b:2"]
        );
        assert!(parse_list("ORDER_URL", "").is_err());
        assert!(parse_list("ORDER_URL", "http://a, b:2").is_err());
    }

    #[test]
    fn requests_take_replicas_in_turn_and_skip_an_open_breaker() {
        let bases = ["http://a".to_owned(), "http://b".to_owned()];
        let pool = Pool::new("order", &bases, settings());
        let firsts: Vec<&str> = (0..4).map(|_| pool.candidates()[0].base.as_str()).collect();
        assert_eq!(firsts, ["http://a", "http://b", "http://a", "http://b"]);
        let tried: Vec<&str> = pool.candidates().iter().map(|r| r.base.as_str()).collect();
        assert_eq!(
            tried,
            ["http://a", "http://b"],
            "the others follow in order"
        );
        for _ in 0..2 {
            pool.replicas[0].breaker.on_error();
        }
        for _ in 0..3 {
            let tried: Vec<&str> = pool.candidates().iter().map(|r| r.base.as_str()).collect();
            assert_eq!(tried, ["http://b"], "a's breaker is open");
        }
        for _ in 0..2 {
            pool.replicas[1].breaker.on_error();
        }
        assert_eq!(
            pool.candidates().len(),
            2,
            "every breaker open: all are tried"
        );
    }
}
