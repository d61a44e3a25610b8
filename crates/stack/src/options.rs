//! What a stack is started with: where its data and binaries are, and its ports.

use std::path::PathBuf;

use crate::kafka::BrokerPorts;
use crate::{
    BROKER_PORT, GATEWAY, GATEWAY_METRICS_PORT, POSTGRES_PORT, SERVICES, StepError, postgres,
    step_error,
};

/// Most Kafka nodes a stack runs ([`Options::set_brokers`]).
const MAX_BROKERS: usize = 3;

#[derive(Debug, Clone)]
pub struct Options {
    /// Where Postgres and the broker keep their data and every process its log.
    pub data_dir: PathBuf,
    /// Where the service binaries are (`target/release` for `./dev up`).
    pub bin_dir: PathBuf,
    /// Use this database instead of starting a cluster.
    pub database_url: Option<String>,
    /// Use these brokers instead of starting Kafka.
    pub kafka_brokers: Option<String>,
    pub postgres_port: u16,
    /// How many Kafka nodes to run: 1, or 3 for a cluster ([`Options::set_brokers`]).
    pub brokers: usize,
    /// Each possible Kafka node's ports (the first [`Options::brokers`] are used).
    pub broker_ports: [BrokerPorts; MAX_BROKERS],
    pub gateway_port: u16,
    /// The gateway's `/metrics` port (`METRICS_PORT`), apart from its public one.
    pub gateway_metrics_port: u16,
    /// The ports of each service's replicas, in [`SERVICES`] order: one each unless
    /// [`Options::set_replicas`] asks for more.
    pub service_ports: [Vec<u16>; 6],
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
            brokers: 1,
            // 9092 for clients and 9093 for the controllers' quorum, then plus 100 per node.
            broker_ports: [0u16, 100, 200].map(|k| BrokerPorts {
                client: BROKER_PORT + k,
                controller: BROKER_PORT + 1 + k,
            }),
            gateway_port: GATEWAY.1,
            gateway_metrics_port: GATEWAY_METRICS_PORT,
            service_ports: SERVICES.map(|(_, port)| vec![port]),
            env: Vec::new(),
            verbose: true,
            with_services: true,
        }
    }

    /// Free ports for everything: several stacks can run side by side (tests).
    pub fn isolated(data_dir: PathBuf, bin_dir: PathBuf) -> std::io::Result<Self> {
        let mut ports = free_ports(15)?.into_iter();
        let mut next = || ports.next().expect("fifteen ports");
        Ok(Self {
            data_dir,
            bin_dir,
            database_url: None,
            kafka_brokers: None,
            postgres_port: next(),
            brokers: 1,
            broker_ports: [(); MAX_BROKERS].map(|()| BrokerPorts {
                client: next(),
                controller: next(),
            }),
            gateway_port: next(),
            gateway_metrics_port: next(),
            service_ports: [(); 6].map(|()| vec![next()]),
            env: Vec::new(),
            verbose: false,
            with_services: true,
        })
    }

    /// Runs `count` replicas of `service` (at least one): the first on its own port, replica
    /// `k` (from 0) on that port plus `100 * k` (order: 8082, 8182, 8282).
    pub fn set_replicas(&mut self, service: &str, count: usize) -> Result<(), String> {
        let i = SERVICES
            .iter()
            .position(|(name, _)| *name == service)
            .ok_or_else(|| format!("no service named {service:?}"))?;
        if !(1..=9).contains(&count) {
            return Err(format!("{service}: between 1 and 9 replicas, not {count}"));
        }
        let first = self.service_ports[i][0];
        self.service_ports[i] = (0..count as u16).map(|k| first + 100 * k).collect();
        Ok(())
    }

    /// Runs `count` Kafka nodes: 1, or 3 (a KRaft quorum of three, every topic on three nodes
    /// and two in sync for a write). Two would make a quorum that survives no loss.
    pub fn set_brokers(&mut self, count: usize) -> Result<(), String> {
        if count != 1 && count != MAX_BROKERS {
            return Err(format!(
                "1 or 3 brokers, not {count} (a quorum of two survives no lost node)"
            ));
        }
        self.brokers = count;
        Ok(())
    }

    /// The ports of the Kafka nodes this stack runs.
    pub fn kafka_ports(&self) -> &[BrokerPorts] {
        &self.broker_ports[..self.brokers]
    }

    /// Applies a `--replicas` list: `order=3,delivery=2`.
    pub fn set_replicas_from(&mut self, list: &str) -> Result<(), String> {
        for entry in list.split(',').filter(|e| !e.trim().is_empty()) {
            let (service, count) = entry
                .split_once('=')
                .ok_or_else(|| format!("{entry:?}: expected service=count"))?;
            let count = count
                .trim()
                .parse()
                .map_err(|_| format!("{entry:?}: the count is not a number"))?;
            self.set_replicas(service.trim(), count)?;
        }
        Ok(())
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
            for ports in o.kafka_ports() {
                wanted.push(("Kafka", ports.client));
                wanted.push(("Kafka's controller", ports.controller));
            }
        }
        if o.with_services {
            for (i, (name, _)) in SERVICES.iter().enumerate() {
                for port in &o.service_ports[i] {
                    wanted.push((name, *port));
                }
            }
            wanted.push((GATEWAY.0, o.gateway_port));
            wanted.push(("the gateway's metrics", o.gateway_metrics_port));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replicas_list_gives_each_further_replica_its_first_ones_port_plus_100() {
        let mut options = Options::local(PathBuf::from("d"), PathBuf::from("b"));
        options.set_replicas_from("order=3, delivery=2").unwrap();
        assert_eq!(options.service_ports[1], [8082, 8182, 8282]);
        assert_eq!(options.service_ports[3], [8084, 8184]);
        assert_eq!(options.service_ports[0], [8081]);
        for bad in ["order", "order=0", "order=x", "orders=2", "order=10"] {
            assert!(options.set_replicas_from(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn three_brokers_listen_on_9092_9192_and_9292_with_their_controllers_one_above() {
        let mut options = Options::local(PathBuf::from("d"), PathBuf::from("b"));
        assert_eq!(options.kafka_ports().len(), 1);
        options.set_brokers(3).unwrap();
        let clients: Vec<u16> = options.kafka_ports().iter().map(|p| p.client).collect();
        let controllers: Vec<u16> = options.kafka_ports().iter().map(|p| p.controller).collect();
        assert_eq!(clients, [9092, 9192, 9292]);
        assert_eq!(controllers, [9093, 9193, 9293]);
        for bad in [0, 2, 4] {
            assert!(options.set_brokers(bad).is_err(), "{bad}");
        }
    }
}
