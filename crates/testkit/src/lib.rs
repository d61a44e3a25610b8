//! Test harness shared by the services' integration tests.
//!
//! Tests run against real infrastructure: the Postgres cluster and the Kafka broker that
//! `./dev test` starts (it exports `DATABASE_URL` and `KAFKA_BROKERS`). Each [`TestEnv`] gets a
//! database of its own and a topic prefix of its own, so tests run in parallel without seeing
//! each other's rows or events.

mod identity;
pub mod metrics;
pub mod otlp;
mod topics;

pub use topics::{read_topic, read_topic_raw, topic_reader};

pub use identity::forged_tokens;

use std::future::Future;
use std::time::Duration;

use contracts::{Envelope, Topic, TopicNames};
pub use platform::Role;
use platform::auth::AuthSettings;
use platform::auth::credential::CredentialSettings;
use platform::auth::dev::DevIssuer;
use platform::kafka::Brokers;
use platform::service::App;
use platform::settings::CommonSettings;
use platform::shutdown::CancellationToken;
use rdkafka::Message;
use rdkafka::message::Headers;
use rdkafka::producer::FutureRecord;
use serde_json::Value;
use sqlx::{Connection, PgConnection, PgPool};

fn required(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests with `./dev test`, which starts Postgres and the broker")
    })
}

/// One test's private database, topics and token issuer.
pub struct TestEnv {
    pub database_url: String,
    /// The tests' broker, signed in to as its administrator when it takes credentials
    /// (`KAFKA_USERNAME`, from `./dev test`'s environment).
    pub brokers: Brokers,
    pub prefix: String,
    pub topics: TopicNames,
    /// A dev issuer served over real HTTP on a free port: the services under test fetch its
    /// keys and ask it for their service tokens exactly as they would from any issuer.
    pub issuer: DevIssuer,
    pub issuer_url: String,
    /// The secret every service of this test presents for its service token.
    client_secret: String,
}

impl TestEnv {
    pub async fn new() -> Self {
        let admin_url = required("DATABASE_URL");
        let brokers = Brokers::from_env(&required("KAFKA_BROKERS")).expect("KAFKA_* settings");
        let id = uuid::Uuid::new_v4().simple().to_string();
        let name = format!("test_{}", &id[..16]);
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .expect("connecting to the test cluster");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("creating the test database");
        let database_url = match admin_url.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => panic!("DATABASE_URL has no database name: {admin_url}"),
        };
        let prefix = format!("t{}.", &id[..12]);
        let topics = TopicNames::new(prefix.clone());
        platform::kafka::ensure_topics(&brokers, &topics.all())
            .await
            .expect("creating the test topics");
        let (issuer, issuer_url, client_secret) = identity::serve_issuer().await;
        Self {
            database_url,
            brokers,
            prefix,
            topics,
            issuer,
            issuer_url,
            client_secret,
        }
    }

    /// How the services of this test verify tokens.
    pub fn auth(&self) -> AuthSettings {
        AuthSettings::for_dev_issuer(&self.issuer_url)
    }

    /// What `service` presents to get its service token from this test's issuer.
    pub fn credential(&self, service: &str) -> CredentialSettings {
        CredentialSettings {
            token_url: format!("{}/auth/dev/oauth2/token", self.issuer_url),
            client_id: service.to_owned(),
            client_secret: self.client_secret.clone(),
            scope: String::new(),
        }
    }

    /// A token of this test's issuer for `role` `id`.
    pub fn token(&self, role: Role, id: i64) -> String {
        self.issuer.token(role, id)
    }

    /// A client that sends `role` `id`'s token with every request.
    pub fn http_as(&self, role: Role, id: i64) -> Http {
        Http::bearer(&self.token(role, id))
    }

    /// A client with the service role's token (a service's internal calls).
    pub fn http_as_service(&self) -> Http {
        Http::bearer(&self.issuer.service_token("test"))
    }

    pub fn settings(&self, service: &str, schema: &str) -> CommonSettings {
        CommonSettings::for_test(
            service,
            schema,
            &self.database_url,
            &self.brokers,
            &self.prefix,
            self.auth(),
            self.credential(service),
        )
    }

    /// A pool on this test's database in `schema` (for asserting on rows).
    pub fn pool(&self, schema: &str) -> PgPool {
        platform::db::pool(&self.database_url, schema, 2).expect("test pool")
    }

    /// Publishes `envelope` on its topic, as another service's relay would.
    pub async fn publish(&self, envelope: &Envelope) {
        self.publish_to(envelope.topic(), envelope).await;
    }

    /// Publishes `envelope` on `topic`, its own or not, as anyone who can write there would.
    pub async fn publish_to(&self, topic: Topic, envelope: &Envelope) {
        let producer = platform::kafka::producer(&self.brokers).expect("producer");
        let topic = self.topics.name(topic);
        let body = envelope.to_json();
        let key = envelope.key();
        producer
            .send(
                FutureRecord::to(&topic).key(&key).payload(&body),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(e, _)| e)
            .expect("publishing a test event");
    }

    /// Reads `topic` from the beginning for `window` and returns every envelope found.
    pub async fn events(&self, topic: Topic, window: Duration) -> Vec<Envelope> {
        read_topic(&self.brokers, &self.topics.name(topic), window).await
    }

    /// How many events of `event_type` are on `topic` (read from the beginning for 1.5 s): what
    /// a service published, since its outbox keeps a row only until the relay has sent it.
    pub async fn published(&self, topic: Topic, event_type: &str) -> usize {
        self.events(topic, Duration::from_millis(1500))
            .await
            .iter()
            .filter(|e| e.event_type() == event_type)
            .count()
    }

    /// Waits up to `within` for `envelope` on the dead-letter topic; the reason it was put
    /// there (its `dlq-error` header).
    pub async fn dead_lettered(&self, envelope: &Envelope, within: Duration) -> Option<String> {
        let id = envelope.event_id.to_string();
        eventually(within, || async {
            let found = self.dead_letters(Duration::from_secs(1)).await;
            found
                .into_iter()
                .find(|(payload, _)| payload.contains(&id))
                .map(|(_, reason)| reason)
        })
        .await
    }

    /// Waits up to 15 s for `envelope` on the dead-letter topic; fails unless it is there with a
    /// reason that contains `why`.
    pub async fn assert_dead_lettered(&self, envelope: &Envelope, why: &str) {
        let reason = self
            .dead_lettered(envelope, Duration::from_secs(15))
            .await
            .unwrap_or_else(|| panic!("{} was not dead-lettered", envelope.event_type()));
        assert!(reason.contains(why), "{reason}");
    }

    /// Reads the dead-letter topic from the beginning for `window`: each message's payload and
    /// its `dlq-error` header.
    pub async fn dead_letters(&self, window: Duration) -> Vec<(String, String)> {
        let consumer = topic_reader(&self.brokers, &self.topics.name(Topic::DeadLetter));
        let mut found = Vec::new();
        let deadline = tokio::time::Instant::now() + window;
        while let Ok(Ok(message)) = tokio::time::timeout_at(deadline, consumer.recv()).await {
            let header = |key: &str| {
                message
                    .headers()?
                    .iter()
                    .find(|h| h.key == key)?
                    .value
                    .map(|v| String::from_utf8_lossy(v).into_owned())
            };
            let payload = String::from_utf8_lossy(message.payload().unwrap_or_default());
            found.push((
                payload.into_owned(),
                header("dlq-error").unwrap_or_default(),
            ));
        }
        found
    }
}

/// A service running in-process on a free port; stopped when dropped.
pub struct Running {
    pub url: String,
    /// Where its `/metrics` is: `url`, or the port of its own (the gateway's).
    pub metrics_url: String,
    stop: CancellationToken,
    handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Running {
    pub async fn start(app: impl Future<Output = anyhow::Result<App>>) -> Self {
        let app = app.await.expect("building the service");
        let url = format!("http://127.0.0.1:{}", app.port());
        let metrics_url = app
            .metrics_port()
            .map_or_else(|| url.clone(), |port| format!("http://127.0.0.1:{port}"));
        let stop = CancellationToken::new();
        let signal = stop.clone();
        let handle = tokio::spawn(app.run_until(async move { signal.cancelled().await }));
        Self {
            url,
            metrics_url,
            stop,
            handle: Some(handle),
        }
    }

    pub async fn shutdown(mut self) {
        self.stop.cancel();
        if let Some(handle) = self.handle.take() {
            let _ = handle.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// A JSON HTTP client for tests that returns status and body for every answer.
#[derive(Clone)]
pub struct Http(reqwest::Client);

impl Default for Http {
    fn default() -> Self {
        Self(
            platform::client::http_client()
                .build()
                .expect("an HTTP client"),
        )
    }
}

impl Http {
    /// A client that sends `Authorization: Bearer <token>` with every request.
    pub fn bearer(token: &str) -> Self {
        let mut headers = reqwest::header::HeaderMap::new();
        let value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
            .expect("a token is header-safe");
        headers.insert(reqwest::header::AUTHORIZATION, value);
        Self(
            platform::client::http_client()
                .default_headers(headers)
                .build()
                .expect("an HTTP client"),
        )
    }

    pub async fn post(&self, url: &str, body: Value) -> (u16, Value) {
        Self::read(self.0.post(url).json(&body).send().await).await
    }

    /// [`Http::post`] with extra request headers (an `Idempotency-Key`, say).
    pub async fn post_with(
        &self,
        url: &str,
        body: Value,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut request = self.0.post(url).json(&body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Self::read(request.send().await).await
    }

    pub async fn post_raw(
        &self,
        url: &str,
        content_type: &str,
        body: impl Into<String>,
    ) -> (u16, Value) {
        let body: String = body.into();
        Self::read(
            self.0
                .post(url)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await,
        )
        .await
    }

    /// Like [`Http::post`], but a request that gets no answer (connection refused or reset)
    /// is `None` instead of a panic: for traffic during injected faults.
    pub async fn try_post(&self, url: &str, body: Value) -> Option<(u16, Value)> {
        let response = self
            .0
            .post(url)
            .json(&body)
            .timeout(Duration::from_secs(15))
            .send()
            .await
            .ok()?;
        let status = response.status().as_u16();
        let text = response.text().await.ok()?;
        Some((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    pub async fn patch(&self, url: &str, body: Value) -> (u16, Value) {
        Self::read(self.0.patch(url).json(&body).send().await).await
    }

    pub async fn delete(&self, url: &str) -> (u16, Value) {
        Self::read(self.0.delete(url).send().await).await
    }

    pub async fn get(&self, url: &str) -> (u16, Value) {
        Self::read(self.0.get(url).send().await).await
    }

    async fn read(response: reqwest::Result<reqwest::Response>) -> (u16, Value) {
        let response = response.expect("HTTP request");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }
}

/// Asserts a JSON error body of the documented shape with `code`.
#[track_caller]
pub fn assert_error(answer: &(u16, Value), status: u16, code: &str) {
    assert_eq!(answer.0, status, "unexpected status, body {}", answer.1);
    assert_eq!(
        answer.1["error"], code,
        "unexpected error code in {}",
        answer.1
    );
    assert!(
        answer.1["message"].as_str().is_some_and(|m| !m.is_empty()),
        "error without a message: {}",
        answer.1
    );
}

/// Polls `{url}/health/ready` until it answers `status`, for up to `within`; its body then.
pub async fn readiness(http: &Http, url: &str, status: u16, within: Duration) -> Option<Value> {
    let ready = format!("{url}/health/ready");
    eventually(within, || async {
        let (answered, body) = http.get(&ready).await;
        (answered == status).then_some(body)
    })
    .await
}

/// Polls `check` until it returns `Some` or `within` elapses.
pub async fn eventually<T, F, Fut>(within: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
