//! Typed settings read from environment variables (ConfigMap-friendly), with defaults that
//! match the local launcher. A bad value is reported with the variable's name.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

use crate::auth::AuthSettings;
use crate::auth::credential::CredentialSettings;
use crate::kafka::Brokers;

thread_local! {
    static RECORDING: RefCell<Option<BTreeSet<String>>> = const { RefCell::new(None) };
}

/// Notes that `name` is read (every read below goes through here).
pub fn note(name: &str) {
    RECORDING.with(|r| {
        if let Some(names) = r.borrow_mut().as_mut() {
            names.insert(name.to_owned());
        }
    });
}

/// Runs `read` and returns the names of the environment variables it read: the source of
/// truth the deployment manifests are checked against.
pub fn recording<T>(read: impl FnOnce() -> T) -> (T, BTreeSet<String>) {
    RECORDING.with(|r| *r.borrow_mut() = Some(BTreeSet::new()));
    let value = read();
    let names = RECORDING
        .with(|r| r.borrow_mut().take())
        .unwrap_or_default();
    (value, names)
}

#[derive(Debug, thiserror::Error)]
#[error("environment variable {name}={value:?} is invalid: {reason}")]
pub struct SettingsError {
    pub name: String,
    pub value: String,
    pub reason: String,
}

/// Reads `name`, falling back to `default` when it is unset or empty.
pub fn var<T>(name: &str, default: T) -> Result<T, SettingsError>
where
    T: FromStr,
    T::Err: Display,
{
    note(name);
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => {
            value.trim().parse().map_err(|e: T::Err| SettingsError {
                name: name.to_owned(),
                value,
                reason: e.to_string(),
            })
        }
        _ => Ok(default),
    }
}

pub fn string(name: &str, default: &str) -> String {
    note(name);
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => value.trim().to_owned(),
        _ => default.to_owned(),
    }
}

pub fn millis(name: &str, default_ms: u64) -> Result<Duration, SettingsError> {
    var(name, default_ms).map(Duration::from_millis)
}

/// The local launcher's private cluster; production sets `DATABASE_URL`.
pub const DEFAULT_DATABASE_URL: &str = "postgres://mealkit@127.0.0.1:55432/mealkit";
pub const DEFAULT_KAFKA_BROKERS: &str = "127.0.0.1:9092";

/// Settings every service reads. Service-specific ones live in the service's own settings.
#[derive(Debug, Clone)]
pub struct CommonSettings {
    /// Service name: log field, consumer group, event `source`.
    pub service: String,
    /// `BIND_ADDR` (default `0.0.0.0`).
    pub bind_addr: String,
    /// `PORT`; 0 picks a free port (tests).
    pub port: u16,
    /// `DATABASE_URL`.
    pub database_url: String,
    /// `DATABASE_SCHEMA`: the schema this service owns.
    pub database_schema: String,
    /// `DATABASE_MAX_CONNECTIONS`.
    pub database_max_connections: u32,
    /// `KAFKA_BROKERS` and this service's credential for them (`KAFKA_USERNAME`, ...): see
    /// [`Brokers`].
    pub kafka_brokers: Brokers,
    /// `KAFKA_TOPIC_PREFIX`: prepended to every topic name (isolates test runs).
    pub topic_prefix: String,
    /// `KAFKA_CONSUMER_GROUP` (default: the service name).
    pub consumer_group: String,
    /// `KAFKA_SESSION_TIMEOUT_MS`, `KAFKA_FETCH_WAIT_MS`, `KAFKA_GROUP_INSTANCE_ID`: see
    /// [`ConsumerTuning`].
    pub consumer: ConsumerTuning,
    /// `CONSUMER_MAX_ATTEMPTS`: tries before a failing message goes to the dead-letter topic.
    pub consumer_max_attempts: u32,
    /// `OUTBOX_POLL_MS`: how often the relay looks for rows no in-process wake announced.
    pub outbox_poll: Duration,
    /// `STARTUP_TIMEOUT_MS`: how long to wait for the database at startup.
    pub startup_timeout: Duration,
    /// `AUTH_*`: how callers' tokens are verified.
    pub auth: AuthSettings,
    /// `SERVICE_*`: the token this service presents to the others it calls.
    pub credential: CredentialSettings,
}

impl CommonSettings {
    pub fn from_env(
        service: &str,
        default_port: u16,
        default_schema: &str,
    ) -> Result<Self, SettingsError> {
        Ok(Self {
            service: service.to_owned(),
            bind_addr: string("BIND_ADDR", "0.0.0.0"),
            port: var("PORT", default_port)?,
            database_url: string("DATABASE_URL", DEFAULT_DATABASE_URL),
            database_schema: string("DATABASE_SCHEMA", default_schema),
            database_max_connections: var("DATABASE_MAX_CONNECTIONS", 10)?,
            kafka_brokers: Brokers::from_env(DEFAULT_KAFKA_BROKERS)?,
            topic_prefix: string("KAFKA_TOPIC_PREFIX", ""),
            consumer_group: string("KAFKA_CONSUMER_GROUP", service),
            consumer: ConsumerTuning {
                session_timeout: millis(
                    "KAFKA_SESSION_TIMEOUT_MS",
                    ConsumerTuning::SESSION_TIMEOUT_MS,
                )?,
                fetch_wait: millis("KAFKA_FETCH_WAIT_MS", ConsumerTuning::FETCH_WAIT_MS)?,
                instance_id: Some(string("KAFKA_GROUP_INSTANCE_ID", ""))
                    .filter(|id| !id.is_empty()),
            },
            consumer_max_attempts: var("CONSUMER_MAX_ATTEMPTS", 5)?,
            outbox_poll: millis("OUTBOX_POLL_MS", 500)?,
            startup_timeout: millis("STARTUP_TIMEOUT_MS", 60_000)?,
            auth: AuthSettings::from_env()?,
            credential: CredentialSettings::from_env(service)?,
        })
    }

    /// Settings for an in-process test instance: port 0, the given database and broker, tokens
    /// of `auth`'s issuer, and `credential` for the calls it makes.
    pub fn for_test(
        service: &str,
        schema: &str,
        database_url: &str,
        kafka_brokers: &Brokers,
        topic_prefix: &str,
        auth: AuthSettings,
        credential: CredentialSettings,
    ) -> Self {
        Self {
            service: service.to_owned(),
            bind_addr: "127.0.0.1".into(),
            port: 0,
            database_url: database_url.to_owned(),
            database_schema: schema.to_owned(),
            database_max_connections: 5,
            kafka_brokers: kafka_brokers.clone(),
            topic_prefix: topic_prefix.to_owned(),
            consumer_group: format!("{topic_prefix}{service}"),
            consumer: ConsumerTuning {
                session_timeout: Duration::from_millis(ConsumerTuning::SESSION_TIMEOUT_MS),
                fetch_wait: Duration::from_millis(ConsumerTuning::FETCH_WAIT_MS),
                // Several instances of one service may share a test's group: dynamic membership.
                instance_id: None,
            },
            consumer_max_attempts: 3,
            outbox_poll: Duration::from_millis(200),
            startup_timeout: Duration::from_secs(20),
            auth,
            credential,
        }
    }
}

/// How a service's consumers take part in their group and fetch.
#[derive(Debug, Clone)]
pub struct ConsumerTuning {
    /// `KAFKA_SESSION_TIMEOUT_MS`: how long the group waits for a silent member before giving
    /// its partitions to the others. See [`ConsumerTuning::SESSION_TIMEOUT_MS`].
    pub session_timeout: Duration,
    /// `KAFKA_FETCH_WAIT_MS`: how long a broker may hold a fetch that found nothing
    /// (`fetch.wait.max.ms`). See [`ConsumerTuning::FETCH_WAIT_MS`].
    pub fetch_wait: Duration,
    /// `KAFKA_GROUP_INSTANCE_ID`: this replica's name in its group, unique there (static
    /// membership); unset, membership is dynamic. See [`crate::kafka::consumer`].
    pub instance_id: Option<String>,
}

impl ConsumerTuning {
    /// 10 s. With static membership this is both how long a replica started again may take to
    /// come back and still find its partitions waiting, and how long a replica that died keeps
    /// its partitions from the others: a service restarts in well under a second, while a dead
    /// replica's share of the saga waits this long. Kafka allows 6 s at the least
    /// (`group.min.session.timeout.ms`); the heartbeat goes every 3 s, so 10 s survives one lost
    /// heartbeat on a busy machine. Measured in `tests/replicas.rs` and `tests/restarts.rs`.
    pub const SESSION_TIMEOUT_MS: u64 = 10_000;

    /// 500 ms, librdkafka's default. A Kafka broker answers a fetch as soon as records arrive,
    /// so this bounds only how long an idle fetch is held: it adds nothing to an event's
    /// latency, and a longer wait means fewer idle fetches (measured on the idle stack:
    /// `bench/results/2026-12-06-kafka-and-nisshi.md`).
    pub const FETCH_WAIT_MS: u64 = 500;
}

/// Settings of one outgoing synchronous dependency: its replicas' URLs, timeout and breakers.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// One or more (`http://a,http://b`): see [`crate::client::Pool`].
    pub base_urls: Vec<String>,
    pub timeout: Duration,
    /// Consecutive failures that open the breaker.
    pub failure_threshold: u32,
    /// How long the breaker stays open before letting a trial call through.
    pub cooldown: Duration,
}

impl ClientSettings {
    /// Reads `<PREFIX>_URL`, `<PREFIX>_TIMEOUT_MS`, `<PREFIX>_BREAKER_FAILURES`,
    /// `<PREFIX>_BREAKER_COOLDOWN_MS`.
    pub fn from_env(prefix: &str, default_url: &str) -> Result<Self, SettingsError> {
        Ok(Self {
            base_urls: crate::client::parse_list(
                &format!("{prefix}_URL"),
                &string(&format!("{prefix}_URL"), default_url),
            )?,
            timeout: millis(&format!("{prefix}_TIMEOUT_MS"), 2_000)?,
            failure_threshold: var(&format!("{prefix}_BREAKER_FAILURES"), 5)?,
            cooldown: millis(&format!("{prefix}_BREAKER_COOLDOWN_MS"), 10_000)?,
        })
    }

    pub fn for_test(base_url: &str) -> Self {
        Self {
            base_urls: vec![base_url.to_owned()],
            timeout: Duration::from_millis(1_500),
            failure_threshold: 3,
            cooldown: Duration::from_secs(2),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_recorded() {
        let (_, names) = recording(|| CommonSettings::from_env("x", 1, "x"));
        assert!(
            names.contains("DATABASE_URL") && names.contains("KAFKA_BROKERS"),
            "{names:?}"
        );
        assert!(recording(|| ()).1.is_empty());
    }

    #[test]
    fn a_bad_value_names_the_variable() {
        // A name no other test or process sets, so this test cannot race with anything.
        let name = "MEALKIT_SETTINGS_TEST_PORT";
        // SAFETY-free: edition 2024 makes set_var unsafe, and unsafe is forbidden here, so the
        // parser is exercised through `parse_named` instead of the process environment.
        let err = parse_named::<u16>(name, "eighty").unwrap_err();
        assert!(err.to_string().contains(name), "{err}");
        assert!(err.to_string().contains("eighty"), "{err}");
        assert_eq!(parse_named::<u16>(name, " 8080 ").unwrap(), 8080);
    }

    fn parse_named<T: FromStr>(name: &str, value: &str) -> Result<T, SettingsError>
    where
        T::Err: Display,
    {
        value.trim().parse().map_err(|e: T::Err| SettingsError {
            name: name.to_owned(),
            value: value.to_owned(),
            reason: e.to_string(),
        })
    }
}
