//! What a stack is started with: where its data and binaries are, and its ports.

use std::path::PathBuf;

use crate::{BROKER_PORT, GATEWAY, POSTGRES_PORT, SERVICES, StepError, postgres, step_error};

#[derive(Debug, Clone)]
pub struct Options {
    /// Where Postgres and tansu keep their data and every process its log.
    pub data_dir: PathBuf,
    /// Where the service binaries are (`target/release` for `./dev up`).
    pub bin_dir: PathBuf,
    /// Use this database instead of starting a cluster.
    pub database_url: Option<String>,
    /// Use these brokers instead of starting tansu.
    pub kafka_brokers: Option<String>,
    pub postgres_port: u16,
    pub broker_port: u16,
    pub gateway_port: u16,
    /// Port of each service, in [`SERVICES`] order.
    pub service_ports: [u16; 6],
    /// Extra environment for every service (tuning in tests).
    pub env: Vec<(String, String)>,
    /// Print progress lines.
    pub verbose: bool,
    /// Start the services and the gateway (false: only Postgres and the broker).
    pub with_services: bool,
}

impl Options {
    /// The fixed ports of the README's Architecture table.
    pub fn local(data_dir: PathBuf, bin_dir: PathBuf) -> Self {
        Self {
            data_dir,
            bin_dir,
            database_url: std::env::var("DATABASE_URL").ok().filter(|v| !v.is_empty()),
            kafka_brokers: std::env::var("KAFKA_BROKERS")
                .ok()
                .filter(|v| !v.is_empty()),
            postgres_port: POSTGRES_PORT,
            broker_port: BROKER_PORT,
            gateway_port: GATEWAY.1,
            service_ports: SERVICES.map(|(_, port)| port),
            env: Vec::new(),
            verbose: true,
            with_services: true,
        }
    }

    /// Free ports for everything: several stacks can run side by side (tests).
    pub fn isolated(data_dir: PathBuf, bin_dir: PathBuf) -> std::io::Result<Self> {
        let mut ports = free_ports(9)?.into_iter();
        let mut next = || ports.next().expect("nine ports");
        Ok(Self {
            data_dir,
            bin_dir,
            database_url: None,
            kafka_brokers: None,
            postgres_port: next(),
            broker_port: next(),
            gateway_port: next(),
            service_ports: [next(), next(), next(), next(), next(), next()],
            env: Vec::new(),
            verbose: false,
            with_services: true,
        })
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.data_dir.join("logs")
    }

    /// Every port this stack will listen on must be free: otherwise a readiness probe could be
    /// answered by whatever holds the port (another stack) and the launch would look fine.
    pub fn check_ports(&self) -> Result<(), StepError> {
        let o = self;
        let mut wanted = Vec::new();
        if o.database_url.is_none() {
            wanted.push(("Postgres", o.postgres_port));
        }
        if o.kafka_brokers.is_none() {
            wanted.push(("the broker", o.broker_port));
        }
        if o.with_services {
            for (i, (name, _)) in SERVICES.iter().enumerate() {
                wanted.push((name, o.service_ports[i]));
            }
            wanted.push((GATEWAY.0, o.gateway_port));
        }
        for (what, port) in wanted {
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
                return Err(step_error(
                    "ports",
                    format!(
                        "127.0.0.1:{port} (for {what}) is already in use; is another `./dev up` \
                         running? Stop it or free the port"
                    ),
                    None,
                ));
            }
        }
        Ok(())
    }
}

/// The PostgreSQL server binaries' folder (pgbench is there too), if installed.
pub fn postgres_bin_dir() -> Option<PathBuf> {
    postgres::bin_dir().ok()
}

/// `count` distinct ports that are free now, picked at random below Linux's ephemeral range
/// (32768 and up): ports the OS hands out for port 0 are the same ones outgoing connections
/// use, so one of those can be taken between being chosen and being bound. A collision is still
/// possible (two stacks starting at once); [`Stack::start`](crate::Stack::start) then fails with
/// a step error saying the port is in use, and a caller may simply try again.
pub fn free_ports(count: usize) -> std::io::Result<Vec<u16>> {
    use std::hash::{BuildHasher, Hasher};
    let mut ports: Vec<u16> = Vec::with_capacity(count);
    for attempt in 0..10_000u64 {
        if ports.len() == count {
            break;
        }
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(attempt);
        let port = 20_000 + (hasher.finish() % 12_000) as u16;
        if !ports.contains(&port) && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            ports.push(port);
        }
    }
    if ports.len() < count {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            "no free ports",
        ));
    }
    Ok(ports)
}
