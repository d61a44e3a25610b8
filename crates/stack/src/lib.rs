//! The launcher behind `./dev up` and the end-to-end tests.
//!
//! [`Stack::start`] brings the system up step by step: a private Postgres cluster (or the one in
//! `DATABASE_URL`), Apache Kafka, one node or three ([`kafka`]; or `KAFKA_BROKERS`), the topics,
//! the six services and the gateway, each waited on until ready. A failing step stops what was started and is reported as
//! one [`StepError`] line naming the step, the reason and the log. [`Stack::stop`] stops
//! everything in reverse order; dropping a `Stack` kills what is left.

pub mod bus;
mod control;
pub mod kafka;
mod options;
mod postgres;
mod process;
pub mod roles;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use contracts::TopicNames;
pub use nix::sys::signal::Signal;
use platform::kafka::Brokers;

pub use options::{Options, free_ports, postgres_bin_dir};
pub use process::Managed;

/// The services in start order (consumers of a topic before nothing; all are independent), then
/// the gateway.
pub const SERVICES: [(&str, u16); 6] = [
    ("product", 8081),
    ("order", 8082),
    ("payment", 8083),
    ("delivery", 8084),
    ("marketing", 8085),
    ("sellerpage", 8086),
];
pub const GATEWAY: (&str, u16) = ("gateway", 8080);
/// The gateway's own `/metrics` port (its `METRICS_PORT` default), apart from its public one.
pub const GATEWAY_METRICS_PORT: u16 = 9090;
pub const POSTGRES_PORT: u16 = 55432;

/// The gateway's rate limits lifted, for clients that are one address and a few identities at
/// thousands of requests a second by design: the benchmark's load generators and the
/// end-to-end tests. The in-flight bound and the timeouts stay. `./dev up` keeps the defaults.
pub const UNTHROTTLED: [(&str, &str); 4] = [
    ("RATE_LIMIT_ADDRESS_PER_SEC", "1000000"),
    ("RATE_LIMIT_ADDRESS_BURST", "1000000"),
    ("RATE_LIMIT_CALLER_PER_SEC", "1000000"),
    ("RATE_LIMIT_CALLER_BURST", "1000000"),
];
pub const BROKER_PORT: u16 = 9092;

/// The process name of `service`'s replica `k` (from 0): `order`, `order-2`, `order-3`. Every
/// method that takes a service's name takes a replica's.
pub fn replica_name(service: &str, k: usize) -> String {
    if k == 0 {
        service.to_owned()
    } else {
        format!("{service}-{}", k + 1)
    }
}

/// A step that failed: which, why, and where its log is.
#[derive(Debug)]
pub struct StepError {
    pub step: String,
    pub reason: String,
    pub log: Option<PathBuf>,
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step '{}' failed: {}", self.step, self.reason)?;
        if let Some(log) = &self.log {
            write!(f, " (log: {})", log.display())?;
        }
        Ok(())
    }
}

impl std::error::Error for StepError {}

pub(crate) fn step_error(step: &str, reason: impl fmt::Display, log: Option<&Path>) -> StepError {
    StepError {
        step: step.to_owned(),
        reason: reason.to_string(),
        log: log.map(Path::to_path_buf),
    }
}

/// The running system.
pub struct Stack {
    pub options: Options,
    /// The administrator's URL (the tests' view across every schema); each service gets its
    /// own role's ([`Stack::service_database_url`]).
    pub database_url: String,
    /// Each service's `DATABASE_URL`: its own role ([`roles`]).
    service_database_urls: std::collections::BTreeMap<String, String>,
    /// The brokers, signed in to as their administrator (the tests' view of every topic); each
    /// service signs in as itself ([`Stack::kafka_as`]).
    pub kafka_brokers: Brokers,
    /// Each service's own connection to the brokers ([`bus`]).
    service_brokers: std::collections::BTreeMap<String, Brokers>,
    pub gateway_url: String,
    /// Where the gateway's own `/metrics` is (not on its public port).
    pub gateway_metrics_url: String,
    postgres: Option<postgres::Postgres>,
    kafka: Option<kafka::Cluster>,
    services: Vec<Managed>,
    /// The order service's secret for its service token from the dev issuer: made up at each
    /// start, known only to the gateway and order.
    client_secret: String,
}

impl Stack {
    pub async fn start(options: Options) -> Result<Self, StepError> {
        let logs = options.logs_dir();
        std::fs::create_dir_all(&logs).map_err(|e| {
            step_error("prepare", format!("creating {}: {e}", logs.display()), None)
        })?;
        let mut stack = Stack {
            database_url: String::new(),
            service_database_urls: Default::default(),
            kafka_brokers: Brokers::plaintext(""),
            service_brokers: Default::default(),
            gateway_url: format!("http://127.0.0.1:{}", options.gateway_port),
            gateway_metrics_url: format!("http://127.0.0.1:{}", options.gateway_metrics_port),
            postgres: None,
            kafka: None,
            services: Vec::new(),
            client_secret: platform::auth::dev::random_secret(),
            options,
        };
        match stack.bring_up().await {
            Ok(()) => Ok(stack),
            Err(err) => {
                stack.say("a step failed; stopping what was started");
                stack.stop().await;
                Err(err)
            }
        }
    }

    fn say(&self, line: &str) {
        if self.options.verbose {
            eprintln!("==> {line}");
        }
    }

    async fn bring_up(&mut self) -> Result<(), StepError> {
        self.options.check_ports()?;
        let logs = self.options.logs_dir();
        self.database_url = match self.options.database_url.clone() {
            Some(url) => {
                self.say("using the database in DATABASE_URL");
                url
            }
            None => {
                self.say(&format!(
                    "starting Postgres on 127.0.0.1:{}",
                    self.options.postgres_port
                ));
                self.start_postgres().await?;
                self.postgres
                    .as_ref()
                    .map(|pg| pg.url.clone())
                    .unwrap_or_default()
            }
        };
        self.kafka_brokers = match self.options.kafka_brokers.clone() {
            Some(bootstrap) => {
                self.say("using the brokers in KAFKA_BROKERS");
                Brokers::from_env(&bootstrap).map_err(|e| step_error("kafka", e, None))?
            }
            None => {
                let cluster = kafka::Cluster::new(
                    &self.options.data_dir.join("kafka"),
                    &logs,
                    self.options.kafka_ports(),
                )?;
                self.say(&format!(
                    "starting Apache Kafka {} on {} (a JVM: a few seconds)",
                    kafka::version(),
                    cluster.bootstrap()
                ));
                let cluster = self.kafka.insert(cluster);
                cluster.start().await?;
                cluster.admin()
            }
        };
        self.say("creating the topics");
        create_topics(&self.kafka_brokers, &TopicNames::default()).await?;
        if !self.options.with_services {
            return Ok(());
        }
        self.service_brokers = if self.kafka_brokers.sasl.is_some() {
            self.say("giving each service its own principal on the brokers");
            bus::provision(&self.kafka_brokers, &TopicNames::default()).await?
        } else {
            self.say(
                "the brokers take anyone (no KAFKA_USERNAME): every service connects unsigned",
            );
            Default::default()
        };
        self.say("creating each service's own database role");
        self.service_database_urls = roles::provision(&self.database_url).await?;

        for (service, name, port) in self.replicas() {
            self.say(&format!("starting {name} on 127.0.0.1:{port}"));
            let env = self.service_env(&service, &name, port);
            let bin_dir = &self.options.bin_dir;
            let process = process::spawn_service(bin_dir, &service, &name, port, env, &logs)?;
            self.services.push(process);
        }
        let gateway_env = self.service_env(GATEWAY.0, GATEWAY.0, self.options.gateway_port);
        self.say(&format!(
            "starting the gateway on 127.0.0.1:{}",
            self.options.gateway_port
        ));
        self.services.push(process::spawn_service(
            &self.options.bin_dir,
            GATEWAY.0,
            GATEWAY.0,
            self.options.gateway_port,
            gateway_env,
            &logs,
        )?);
        self.say("waiting for every service to be ready");
        for service in &mut self.services {
            service.wait_ready(Duration::from_secs(90)).await?;
        }
        Ok(())
    }

    /// Every replica of every service: (service, replica name, port), in [`SERVICES`] order.
    pub fn replicas(&self) -> Vec<(String, String, u16)> {
        SERVICES
            .iter()
            .zip(&self.options.service_ports)
            .flat_map(|((service, _), ports)| {
                ports
                    .iter()
                    .enumerate()
                    .map(move |(k, port)| ((*service).to_owned(), replica_name(service, k), *port))
            })
            .collect()
    }

    /// The base URLs of `service`'s replicas (the gateway's, for `gateway`).
    pub fn replica_urls(&self, service: &str) -> Vec<String> {
        let ports = SERVICES
            .iter()
            .position(|(name, _)| *name == service)
            .map_or_else(
                || vec![self.options.gateway_port],
                |i| self.options.service_ports[i].clone(),
            );
        ports
            .iter()
            .map(|port| format!("http://127.0.0.1:{port}"))
            .collect()
    }

    fn url_of(&self, service: &str) -> String {
        self.replica_urls(service).swap_remove(0)
    }

    /// The `DATABASE_URL` `service` connects with: its own role, which can use only its schema
    /// (empty for the gateway, which has no database).
    pub fn service_database_url(&self, service: &str) -> &str {
        self.service_database_urls
            .get(service)
            .map_or("", String::as_str)
    }

    /// The brokers, signed in to as `service` (its own principal; the administrator's when the
    /// brokers take anyone): what a test produces or reads as that service.
    pub fn kafka_as(&self, service: &str) -> Brokers {
        self.service_brokers
            .get(service)
            .cloned()
            .unwrap_or_else(|| self.kafka_brokers.clone())
    }

    /// The order service's client secret at the dev issuer (tests that call an internal endpoint
    /// as a service would).
    pub fn service_client_secret(&self) -> &str {
        &self.client_secret
    }

    /// The dev issuer's signing key: in the stack's data folder, kept across restarts.
    pub fn dev_key_file(&self) -> PathBuf {
        self.options.data_dir.join("auth").join("dev-issuer.key")
    }

    /// The environment replica `replica` of service `name` reads (the same names a ConfigMap
    /// sets).
    fn service_env(&self, name: &str, replica: &str, port: u16) -> Vec<(String, String)> {
        let gateway = &self.gateway_url;
        let mut env = vec![
            ("PORT".to_owned(), port.to_string()),
            ("BIND_ADDR".to_owned(), "127.0.0.1".to_owned()),
            (
                "KAFKA_BROKERS".to_owned(),
                self.kafka_brokers.bootstrap.clone(),
            ),
            // Every service verifies tokens of the gateway's dev issuer.
            ("AUTH_ISSUER".to_owned(), format!("{gateway}/auth/dev")),
            (
                "AUTH_JWKS_URL".to_owned(),
                format!("{gateway}/.well-known/jwks.json"),
            ),
        ];
        if let Some(own) = self.service_brokers.get(name) {
            env.extend(own.env().into_iter().map(|(k, v)| (k.to_owned(), v)));
        }
        if let Some(url) = self.service_database_urls.get(name) {
            env.push(("DATABASE_URL".to_owned(), url.clone()));
            // Static group membership: a replica started again takes its partitions back.
            env.push(("KAFKA_GROUP_INSTANCE_ID".to_owned(), replica.to_owned()));
        }
        match name {
            "order" => {
                env.push(("PAYMENT_URL".into(), self.replica_urls("payment").join(",")));
                env.push((
                    "MARKETING_URL".into(),
                    self.replica_urls("marketing").join(","),
                ));
                env.push((
                    "SERVICE_TOKEN_URL".into(),
                    format!("{gateway}/auth/dev/oauth2/token"),
                ));
                env.push(("SERVICE_CLIENT_SECRET".into(), self.client_secret.clone()));
            }
            "gateway" => {
                let metrics_port = self.options.gateway_metrics_port;
                env.push(("METRICS_PORT".into(), metrics_port.to_string()));
                // The storefront's page, by either loopback name: where a sign-in may return.
                let port = self.options.gateway_port;
                let storefront = format!("http://127.0.0.1:{port}/,http://localhost:{port}/");
                env.push(("AUTH_DEV_REDIRECT_URIS".into(), storefront));
                env.push(("AUTH_DEV_ISSUER".into(), "true".into()));
                env.push((
                    "AUTH_DEV_KEY_FILE".into(),
                    self.dev_key_file().display().to_string(),
                ));
                env.push((
                    "AUTH_DEV_CLIENTS".into(),
                    format!("order:{}", self.client_secret),
                ));
                for (var, service) in [
                    ("PRODUCT_URL", "product"),
                    ("ORDER_URL", "order"),
                    ("PAYMENT_URL", "payment"),
                    ("DELIVERY_URL", "delivery"),
                    ("MARKETING_URL", "marketing"),
                    ("SELLERPAGE_URL", "sellerpage"),
                ] {
                    env.push((var.into(), self.replica_urls(service).join(",")));
                }
            }
            _ => {}
        }
        env.extend(self.options.env.iter().cloned());
        env
    }

    pub fn service(&self, name: &str) -> Option<&Managed> {
        self.services.iter().find(|s| s.name == name)
    }

    /// Services that have exited since they were started: name, exit status, log.
    pub fn exited_services(&mut self) -> Vec<(String, String, PathBuf)> {
        self.services
            .iter_mut()
            .filter_map(|s| {
                s.exited()
                    .map(|status| (s.name.clone(), status, s.log.clone()))
            })
            .collect()
    }

    /// Every process this stack started, by name: services, gateway, Kafka's nodes (`kafka`,
    /// `kafka-2`, ...), Postgres (its postmaster; the backends are its children).
    pub fn pids(&self) -> Vec<(String, u32)> {
        let mut pids: Vec<(String, u32)> = self
            .services
            .iter()
            .filter_map(|s| s.pid().map(|pid| (s.name.clone(), pid)))
            .collect();
        pids.extend(self.kafka.iter().flat_map(kafka::Cluster::pids));
        if let Some(pid) = self.postgres.as_ref().and_then(|pg| pg.pid()) {
            pids.push(("postgres".to_owned(), pid));
        }
        pids
    }

    /// How long each Kafka node, each service and the gateway took from spawn to ready.
    pub fn startup_times(&self) -> Vec<(String, Duration)> {
        let services = self
            .services
            .iter()
            .filter_map(|s| s.ready_after.map(|d| (s.name.clone(), d)));
        self.kafka
            .iter()
            .flat_map(kafka::Cluster::startup_times)
            .chain(services)
            .collect()
    }

    /// Which broker this stack runs (or that it uses `KAFKA_BROKERS`), for reports.
    pub fn broker_description(&self) -> String {
        match &self.kafka {
            Some(cluster) => format!(
                "Apache Kafka {}, {} node(s) in KRaft mode",
                kafka::version(),
                cluster.node_ids().len()
            ),
            None => format!("the brokers in KAFKA_BROKERS ({})", self.kafka_brokers),
        }
    }

    /// Base URL of a service (its first replica's), bypassing the gateway.
    pub fn service_url(&self, name: &str) -> String {
        self.url_of(name)
    }

    /// Stops the gateway and services, then Kafka, then Postgres.
    pub async fn stop(&mut self) {
        for service in self.services.iter_mut().rev() {
            service.stop(Duration::from_secs(10)).await;
        }
        if let Some(cluster) = self.kafka.as_mut() {
            cluster.stop().await;
        }
        if let Some(pg) = self.postgres.as_mut() {
            pg.stop().await;
        }
    }
}

/// Writes `text` to `file`, readable and writable by its owner only: a new file is made so, and
/// one that existed before is made so before anything is written to it. For the files that hold
/// passwords (the brokers' settings, their administrator's, the tests' environment).
pub fn write_private(file: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut opened = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(file)?;
    opened.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    opened.write_all(text.as_bytes())
}

/// Creates the topics of the README's Contracts section (the brokers do not create topics on
/// their own), retrying while the cluster settles.
async fn create_topics(brokers: &Brokers, topics: &TopicNames) -> Result<(), StepError> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match platform::kafka::ensure_topics(brokers, &topics.all()).await {
            Ok(()) => return Ok(()),
            Err(e) if tokio::time::Instant::now() >= deadline => {
                return Err(step_error(
                    "topics",
                    format!("creating topics on {brokers}: {e}"),
                    None,
                ));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}
