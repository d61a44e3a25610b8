//! The HTTP client for synchronous calls between services: every call has a timeout and goes
//! through a circuit breaker, one per replica of the dependency ([`replicas`]).
//!
//! The breaker is `failsafe`'s state machine (a maintained, small crate: consecutive-failure
//! policy, open → half-open after a cool-down, closes on a success). A timeout, a connection
//! failure or a 5xx counts as a failure; any other answer, 4xx included, proves the dependency
//! is healthy. Once every replica's breaker is open, calls fail at once with [`CallError::Open`]
//! without touching the network, and the caller's fallback answers. Transitions are logged and
//! exported as `circuit_breaker_state{dependency}` (0 closed, 1 half-open, 2 open).

mod replicas;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::StatusCode;
use failsafe::failure_policy::{ConsecutiveFailures, consecutive_failures};
use failsafe::{Config, Instrument, StateMachine, backoff};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::auth::credential::ServiceCredential;
use crate::settings::ClientSettings;
pub use replicas::{Pool, Replica, WhenAllOpen, parse_list};

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("the circuit breaker for {0} is open")]
    Open(String),
    #[error("{0} is unreachable: {1}")]
    Unreachable(String, String),
    #[error("{0} did not answer within {1:?}")]
    Timeout(String, Duration),
    #[error("{0} failed: {1}")]
    Failed(String, String),
}

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Reply {
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

pub struct BreakerEvents {
    dependency: String,
}

impl BreakerEvents {
    fn record(&self, state: &'static str, level: f64) {
        metrics::gauge!("circuit_breaker_state", "dependency" => self.dependency.clone())
            .set(level);
        metrics::counter!("circuit_breaker_transitions_total", "dependency" => self.dependency.clone(), "state" => state)
            .increment(1);
    }
}

impl Instrument for BreakerEvents {
    fn on_call_rejected(&self) {
        metrics::counter!("circuit_breaker_rejected_total", "dependency" => self.dependency.clone())
            .increment(1);
    }
    fn on_open(&self) {
        tracing::warn!(dependency = %self.dependency, "circuit breaker opened");
        self.record("open", 2.0);
    }
    fn on_half_open(&self) {
        tracing::info!(dependency = %self.dependency, "circuit breaker half-open: trying a call");
        self.record("half_open", 1.0);
    }
    fn on_closed(&self) {
        tracing::info!(dependency = %self.dependency, "circuit breaker closed");
        self.record("closed", 0.0);
    }
}

pub type Breaker = StateMachine<ConsecutiveFailures<backoff::Constant>, BreakerEvents>;

/// A breaker for `dependency` that opens after `failures` in a row (at least one) and tries
/// again after `cooldown`; its transitions are logged and exported under that name.
pub fn breaker(dependency: &str, failures: u32, cooldown: Duration) -> Breaker {
    crate::metrics::install();
    Config::new()
        .failure_policy(consecutive_failures(
            failures.max(1),
            backoff::constant(cooldown),
        ))
        .instrument(BreakerEvents {
            dependency: dependency.to_owned(),
        })
        .build()
}

#[derive(Clone)]
pub struct ServiceClient {
    dependency: String,
    replicas: Arc<Pool>,
    timeout: Duration,
    http: reqwest::Client,
    credential: ServiceCredential,
}

impl ServiceClient {
    /// A client of `dependency` that presents `credential`'s token on every call (the callee's
    /// internal endpoints admit only the service role).
    pub fn new(
        dependency: &str,
        settings: &ClientSettings,
        credential: ServiceCredential,
    ) -> anyhow::Result<Self> {
        let replicas = Pool::new(
            dependency,
            &settings.base_urls,
            settings.failure_threshold,
            settings.cooldown,
            WhenAllOpen::Refuse,
        );
        let http = http_client()
            .connect_timeout(settings.timeout)
            .timeout(settings.timeout)
            .build()?;
        Ok(Self {
            dependency: dependency.to_owned(),
            replicas: Arc::new(replicas),
            timeout: settings.timeout,
            http,
            credential,
        })
    }

    pub async fn post_json(&self, path: &str, body: &impl Serialize) -> Result<Reply, CallError> {
        self.call(|base| self.http.post(format!("{base}{path}")).json(body))
            .await
    }

    pub async fn get(&self, path: &str) -> Result<Reply, CallError> {
        self.call(|base| self.http.get(format!("{base}{path}")))
            .await
    }

    /// Calls the replicas in turn (see [`replicas`]) until one is reached: a refused connection
    /// reached nothing, so the next replica is tried; anything else is the answer. Each
    /// replica's breaker hears of its own outcome.
    async fn call(
        &self,
        request: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<Reply, CallError> {
        // Without a token the call certainly is not made: not the dependency's failure, so no
        // breaker hears of it.
        let token = self.credential.token().await.map_err(|e| {
            tracing::warn!(error = %e, "no service token");
            CallError::Unreachable(self.dependency.clone(), e)
        })?;
        let mut result = Err(CallError::Open(self.dependency.clone()));
        for replica in self.replicas.candidates() {
            let mut attempt = request(&replica.base).bearer_auth(&token);
            if let Some((name, value)) = crate::trace::headers() {
                attempt = attempt.header(name, value);
            }
            result = self.exchange(attempt).await;
            match &result {
                Ok(_) => replica.breaker.on_success(),
                Err(err) => {
                    tracing::warn!(error = %err, replica = %replica.base, "synchronous call failed");
                    replica.breaker.on_error();
                }
            }
            if !matches!(result, Err(CallError::Unreachable(..))) {
                break;
            }
        }
        result
    }

    async fn exchange(&self, request: reqwest::RequestBuilder) -> Result<Reply, CallError> {
        let exchange = async {
            let response = request.send().await?;
            let status = response.status();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>(Reply { status, body })
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Err(_) => Err(CallError::Timeout(self.dependency.clone(), self.timeout)),
            Ok(Err(err)) if err.is_timeout() => {
                Err(CallError::Timeout(self.dependency.clone(), self.timeout))
            }
            Ok(Err(err)) if err.is_connect() => Err(CallError::Unreachable(
                self.dependency.clone(),
                root_cause(&err),
            )),
            Ok(Err(err)) => Err(CallError::Failed(self.dependency.clone(), root_cause(&err))),
            Ok(Ok(reply)) if reply.status.is_server_error() => Err(CallError::Failed(
                self.dependency.clone(),
                format!("answered {}", reply.status),
            )),
            Ok(Ok(reply)) => Ok(reply),
        }
    }
}

fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// The HTTP client builder every service and the gateway start from: no Nagle delay, and idle
/// connections reused only while the server keeps them
/// ([`IDLE_CONNECTION_REUSE`](crate::service::IDLE_CONNECTION_REUSE)).
pub fn http_client() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_idle_timeout(crate::service::IDLE_CONNECTION_REUSE)
}
