//! A dependency's replicas: a list of base URLs (`PAYMENT_URL=http://a,http://b`), taken in
//! turn, each behind its own circuit breaker.
//!
//! Both kinds of caller share this: the gateway ([`WhenAllOpen::TryAll`]) and a service's
//! synchronous client ([`WhenAllOpen::Refuse`]). A call goes to the next replica whose breaker
//! lets a call through; if that replica refuses the connection, nothing reached it, so the
//! caller tries the next [`candidate`](Pool::candidates). In Kubernetes each URL is a Service that
//! spreads calls itself, so the list has one entry there; locally it lists the launcher's
//! replicas.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::{Breaker, breaker};
use crate::settings::SettingsError;

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

/// What a call does when every replica's breaker is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenAllOpen {
    /// Try them all anyway: a replica that comes back is served at once rather than a cool-down
    /// later, and a lone replica behaves as if it had no breaker (the gateway: each service's
    /// own answer, a 503 included, is what the client should see).
    TryAll,
    /// Fail at once without touching the network, so the caller's fallback answers (a service's
    /// synchronous dependency: the seed's circuit breaker).
    Refuse,
}

/// One replica: its base URL and its breaker.
pub struct Replica {
    pub base: String,
    pub breaker: Breaker,
}

/// The replicas of one dependency.
pub struct Pool {
    replicas: Vec<Replica>,
    next: AtomicUsize,
    when_all_open: WhenAllOpen,
}

impl Pool {
    /// `dependency`'s replicas at `bases` (at least one: [`parse_list`] never gives none), each
    /// breaker opening after `failures` in a row for `cooldown`. With one replica the breaker is
    /// labelled `dependency` on the metrics, with several `dependency@base`.
    pub fn new(
        dependency: &str,
        bases: &[String],
        failures: u32,
        cooldown: Duration,
        when_all_open: WhenAllOpen,
    ) -> Self {
        assert!(!bases.is_empty(), "{dependency} has no replica");
        let replicas = bases
            .iter()
            .map(|base| {
                let label = if bases.len() == 1 {
                    dependency.to_owned()
                } else {
                    format!("{dependency}@{base}")
                };
                Replica {
                    base: base.trim_end_matches('/').to_owned(),
                    breaker: breaker(&label, failures, cooldown),
                }
            })
            .collect();
        Self {
            replicas,
            next: AtomicUsize::new(0),
            when_all_open,
        }
    }

    /// The replicas to try for one call, in order: starting with the next in turn, those whose
    /// breaker lets a call through; when none does, what [`WhenAllOpen`] says.
    pub fn candidates(&self) -> Vec<&Replica> {
        let count = self.replicas.len();
        let first = self.next.fetch_add(1, Ordering::Relaxed) % count;
        let in_turn: Vec<&Replica> = (0..count)
            .map(|offset| &self.replicas[(first + offset) % count])
            .collect();
        let permitted: Vec<&Replica> = in_turn
            .iter()
            .copied()
            .filter(|replica| replica.breaker.is_call_permitted())
            .collect();
        match self.when_all_open {
            WhenAllOpen::TryAll if permitted.is_empty() => in_turn,
            _ => permitted,
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

    fn pool(when_all_open: WhenAllOpen) -> Pool {
        let bases = ["http://a".to_owned(), "http://b".to_owned()];
        Pool::new("order", &bases, 2, Duration::from_secs(60), when_all_open)
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
    fn calls_take_replicas_in_turn_and_skip_an_open_breaker() {
        let pool = pool(WhenAllOpen::TryAll);
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

    #[test]
    fn a_refusing_pool_offers_nothing_once_every_breaker_is_open() {
        let pool = pool(WhenAllOpen::Refuse);
        for replica in &pool.replicas {
            replica.breaker.on_error();
            replica.breaker.on_error();
        }
        assert!(pool.candidates().is_empty());
    }
}
