//! The local broker: Apache Kafka, from Maven Central's jars, in KRaft mode (every node is a
//! broker and a controller at once, no ZooKeeper), one node or a cluster of three on loopback.
//!
//! - **Where it comes from.** `crates/stack/kafka/pom.xml` pins the version; `./dev` resolves it
//!   with Maven once into `~/.cache/mealkit/kafka/<version>/libs` (or `MEALKIT_KAFKA_LIBS`) and
//!   installs a Java 17 runtime when there is none. Compose and Kubernetes run the
//!   `apache/kafka` image of the same version (`tests/deploy.rs` checks).
//! - **Its data.** `<data>/kafka/node-<id>/data`, formatted on the first start with one cluster
//!   id for every node (`<data>/kafka/cluster`, which also records how many nodes the cluster
//!   has: a folder formatted for one node is not started as three). Each node's settings are
//!   written anew at every start from the ports it is given ([`config`]).
//! - **Its log.** `<data>/logs/kafka.log` for the first node, `kafka-2.log` and `kafka-3.log`
//!   for the others: warnings and errors, and Kafka's line when a node has started
//!   (`MEALKIT_KAFKA_LOG=info` for everything).
//! - **Starting and stopping.** [`Cluster::start`] starts every node that is not running and
//!   waits until the cluster lists all of them; [`Cluster::stop`] sends every node SIGTERM at
//!   once (a controlled shutdown; one by one, the last nodes would wait for a quorum that has
//!   already gone) and kills what is left after [`STOP_GRACE`].

mod config;
mod tools;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::Signal;
use platform::kafka::Brokers;
use rdkafka::consumer::{BaseConsumer, Consumer};
use tokio::process::Command;

use crate::process::{Managed, last_line};
use crate::{StepError, step_error};

pub use config::{ADMIN, BrokerPorts};
pub use tools::{TOOLS, tool_command};

const STEP: &str = "kafka";

/// How long a node may take to stop after SIGTERM before it is killed. A controlled shutdown
/// takes about a second; a node whose quorum is gone can wait much longer for it.
pub const STOP_GRACE: Duration = Duration::from_secs(20);

/// How long a node may take from spawn to being listed by the cluster: a JVM start, the
/// metadata log's replay, and, for a cluster, the other nodes' votes.
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// The pinned version, from the Maven manifest (the single place it is written).
pub fn version() -> &'static str {
    const POM: &str = include_str!("../kafka/pom.xml");
    POM.split_once("<kafka.version>")
        .and_then(|(_, rest)| rest.split_once("</kafka.version>"))
        .map(|(version, _)| version.trim())
        .expect("crates/stack/kafka/pom.xml names <kafka.version>")
}

/// Where the jars are: `MEALKIT_KAFKA_LIBS`, or where `./dev` puts them.
pub fn libs_dir() -> Result<PathBuf, StepError> {
    let dir = match std::env::var_os("MEALKIT_KAFKA_LIBS") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default()
            .join(".cache/mealkit/kafka")
            .join(version())
            .join("libs"),
    };
    let broker_jar = dir.join(format!("kafka_2.13-{}.jar", version()));
    if broker_jar.is_file() {
        Ok(dir)
    } else {
        Err(step_error(
            STEP,
            format!(
                "Apache Kafka {}'s jars are not in {}: ./dev fetches them with Maven \
                 (mvn -f crates/stack/kafka/pom.xml dependency:copy-dependencies \
                 -DoutputDirectory={1})",
                version(),
                dir.display()
            ),
            None,
        ))
    }
}

/// `java` from `JAVA_HOME`, else from the `PATH`.
fn java() -> PathBuf {
    std::env::var_os("JAVA_HOME")
        .map(|home| PathBuf::from(home).join("bin/java"))
        .filter(|java| java.is_file())
        .unwrap_or_else(|| PathBuf::from("java"))
}

/// A JVM running `main` with every jar of `libs` on its class path.
fn jvm(libs: &Path, jvm_options: &[&str], main: &str) -> Command {
    let mut command = Command::new(java());
    command
        .args(jvm_options)
        .arg("-cp")
        .arg(libs.join("*"))
        .arg(main);
    command
}

/// One KRaft node of the local cluster.
struct Node {
    id: u32,
    /// `kafka`, `kafka-2`, `kafka-3`: its process and log name.
    name: String,
    ports: BrokerPorts,
    dir: PathBuf,
    process: Option<Managed>,
}

/// The local Kafka cluster: its nodes, running or stopped.
pub struct Cluster {
    libs: PathBuf,
    logs: PathBuf,
    cluster_id: String,
    /// [`ADMIN`]'s password (`<root>/admin.secret`).
    admin_password: String,
    /// The tools' client settings, signed in as [`ADMIN`] (`<root>/admin.properties`).
    admin_properties: PathBuf,
    nodes: Vec<Node>,
}

impl Cluster {
    /// The cluster kept in `root` with a node on each of `ports` (one or three), logging to
    /// `logs`; nothing is started yet.
    pub fn new(root: &Path, logs: &Path, ports: &[BrokerPorts]) -> Result<Self, StepError> {
        let libs = libs_dir()?;
        std::fs::create_dir_all(root)
            .map_err(|e| step_error(STEP, format!("creating {}: {e}", root.display()), None))?;
        let cluster_id = config::cluster_id(root, ports.len())?;
        let admin_password = config::admin_password(root)?;
        let nodes = (1..)
            .zip(ports)
            .map(|(id, ports)| Node {
                id,
                name: node_name(id),
                ports: *ports,
                dir: root.join(format!("node-{id}")),
                process: None,
            })
            .collect();
        let mut cluster = Self {
            libs,
            logs: logs.to_path_buf(),
            cluster_id,
            admin_password,
            admin_properties: root.join("admin.properties"),
            nodes,
        };
        cluster.write_admin_properties()?;
        Ok(cluster)
    }

    /// The brokers, signed in to as [`ADMIN`].
    pub fn admin(&self) -> Brokers {
        Brokers::scram(&self.bootstrap(), ADMIN, &self.admin_password)
    }

    /// The client settings file Kafka's tools sign in with (`--command-config`), as [`ADMIN`].
    pub fn admin_properties(&self) -> &Path {
        &self.admin_properties
    }

    /// Writes the administrator's client settings twice, readable by their owner only: for
    /// Kafka's tools (Java's names, `admin.properties`) and for kcat (librdkafka's,
    /// `kcat.properties`: `kcat -F .data/kafka/kcat.properties -L`).
    fn write_admin_properties(&mut self) -> Result<(), StepError> {
        let admin = self.admin();
        config::write_private(&self.admin_properties, &admin.client_properties())?;
        let kcat: String = admin
            .librdkafka_settings()
            .into_iter()
            .map(|(key, value)| format!("{key}={value}\n"))
            .collect();
        config::write_private(
            &self.admin_properties.with_file_name("kcat.properties"),
            &kcat,
        )
    }

    /// The clients' bootstrap list: every node's client listener.
    pub fn bootstrap(&self) -> String {
        let addresses: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.ports.client))
            .collect();
        addresses.join(",")
    }

    /// The nodes' ids (1, 2, 3).
    pub fn node_ids(&self) -> Vec<u32> {
        self.nodes.iter().map(|n| n.id).collect()
    }

    /// Starts every node that is not running (formatting the storage of those that have
    /// none), then waits until each is ready.
    pub async fn start(&mut self) -> Result<(), StepError> {
        let stopped: Vec<u32> = self
            .nodes
            .iter()
            .filter(|n| n.process.is_none())
            .map(|n| n.id)
            .collect();
        for id in &stopped {
            self.write_settings(self.node(*id)?)?;
        }
        self.format(&stopped).await?;
        for id in &stopped {
            self.spawn(*id)?;
        }
        self.wait_ready(&stopped).await
    }

    /// Starts node `id` again on its data (after [`Cluster::kill`]) and waits until it is
    /// ready.
    pub async fn start_node(&mut self, id: u32) -> Result<(), StepError> {
        if self.node(id)?.process.is_none() {
            self.write_settings(self.node(id)?)?;
            self.spawn(id)?;
        }
        self.wait_ready(&[id]).await
    }

    /// Stops every running node: SIGTERM to all at once, SIGKILL after [`STOP_GRACE`].
    pub async fn stop(&mut self) {
        let stopping = self
            .nodes
            .iter_mut()
            .filter_map(|n| n.process.take())
            .map(|mut process| async move { process.stop(STOP_GRACE).await });
        futures::future::join_all(stopping).await;
    }

    /// `kill -9` node `id`, as a crash would.
    pub async fn kill(&mut self, id: u32) {
        let process = self.nodes.iter_mut().find(|n| n.id == id);
        if let Some(mut process) = process.and_then(|n| n.process.take()) {
            process.stop_with(Signal::SIGKILL, STOP_GRACE).await;
        }
    }

    /// The running nodes' processes, by name (`kafka`, `kafka-2`, ...).
    pub fn pids(&self) -> Vec<(String, u32)> {
        self.nodes
            .iter()
            .filter_map(|n| Some((n.name.clone(), n.process.as_ref()?.pid()?)))
            .collect()
    }

    /// How long each running node took from spawn to being listed by the cluster.
    pub fn startup_times(&self) -> Vec<(String, Duration)> {
        self.nodes
            .iter()
            .filter_map(|n| Some((n.name.clone(), n.process.as_ref()?.ready_after?)))
            .collect()
    }

    /// Kafka's tool `tool` (`topics`, `consumer-groups`, `metadata-quorum`, ...; see [`TOOLS`])
    /// run against this cluster; what it printed on stdout.
    pub async fn tool(&self, tool: &str, args: &[&str]) -> Result<String, StepError> {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let mut command = tool_command(
            &self.libs,
            tool,
            &args,
            &self.bootstrap(),
            Some(&self.admin_properties),
        )
        .map_err(|e| step_error(STEP, e, None))?;
        let output = command
            .output()
            .await
            .map_err(|e| step_error(STEP, format!("running kafka-{tool}: {e}"), None))?;
        if !output.status.success() {
            return Err(step_error(
                STEP,
                format!(
                    "kafka-{tool} {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&output.stderr).trim()
                ),
                None,
            ));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// The node that leads the metadata quorum now: the active controller.
    pub async fn active_controller(&self) -> Result<u32, StepError> {
        let status = self
            .tool("metadata-quorum", &["describe", "--status"])
            .await?;
        status
            .lines()
            .find_map(|line| line.trim().strip_prefix("LeaderId:"))
            .and_then(|id| id.trim().parse().ok())
            .ok_or_else(|| step_error(STEP, format!("no LeaderId in: {status}"), None))
    }

    /// How many records the partitions each node leads hold, among the topics whose names
    /// start with `prefix`: which node the traffic goes through.
    pub async fn records_led(&self, prefix: &str) -> Result<BTreeMap<u32, i64>, StepError> {
        let metadata = self.metadata().await?;
        let mut led = BTreeMap::new();
        for (topic, partitions) in metadata.topics {
            if topic.starts_with(prefix) {
                for partition in partitions.into_iter().filter(|p| p.leader >= 0) {
                    *led.entry(partition.leader as u32).or_default() += partition.records;
                }
            }
        }
        Ok(led)
    }

    /// Partitions whose in-sync replicas are fewer than their replicas: a node that has not
    /// caught up yet.
    pub async fn under_replicated(&self) -> Result<Vec<String>, StepError> {
        let metadata = self.metadata().await?;
        Ok(metadata
            .topics
            .into_iter()
            .flat_map(|(topic, partitions)| {
                partitions
                    .into_iter()
                    .filter(|p| p.in_sync < p.replicas)
                    .map(move |p| format!("{topic}/{}", p.id))
            })
            .collect())
    }

    fn node(&self, id: u32) -> Result<&Node, StepError> {
        self.nodes
            .iter()
            .find(|n| n.id == id)
            .ok_or_else(|| step_error(STEP, format!("no node {id}"), None))
    }

    /// Formats the storage of the nodes `ids` that have none yet (their first start), with
    /// the settings [`Cluster::write_settings`] wrote.
    async fn format(&self, ids: &[u32]) -> Result<(), StepError> {
        let mut formats = Vec::new();
        for id in ids {
            let node = self.node(*id)?;
            if node.dir.join("data/meta.properties").is_file() {
                continue;
            }
            let properties = node.dir.join("server.properties");
            let mut command = jvm(&self.libs, tools::JVM_OPTIONS, "kafka.tools.StorageTool");
            // `=` keeps an id a folder already holds from being read as an option.
            command
                .arg("format")
                .arg(format!("--cluster-id={}", self.cluster_id))
                .arg("--add-scram")
                .arg(config::admin_scram(&self.admin_password))
                .arg("--config")
                .arg(&properties)
                .kill_on_drop(true);
            formats.push(async move { (node.name.clone(), command.output().await) });
        }
        for (name, output) in futures::future::join_all(formats).await {
            match output {
                Ok(out) if out.status.success() => {}
                Ok(out) => {
                    return Err(step_error(
                        STEP,
                        format!(
                            "formatting {name}'s storage: {}",
                            String::from_utf8_lossy(&out.stderr).trim()
                        ),
                        None,
                    ));
                }
                Err(e) => {
                    return Err(step_error(
                        STEP,
                        format!(
                            "running {} (a Java 17 runtime; ./dev installs it): {e}",
                            java().display()
                        ),
                        None,
                    ));
                }
            }
        }
        Ok(())
    }

    /// Writes node's `server.properties` and `log4j2.properties`; the first one's path.
    fn write_settings(&self, node: &Node) -> Result<PathBuf, StepError> {
        let ports: Vec<BrokerPorts> = self.nodes.iter().map(|n| n.ports).collect();
        // Readable by their owner only: the settings hold the administrator's password.
        let write = |name: &str, text: String| {
            let path = node.dir.join(name);
            std::fs::create_dir_all(&node.dir).map_err(|e| {
                step_error(STEP, format!("creating {}: {e}", node.dir.display()), None)
            })?;
            config::write_private(&path, &text).map(|()| path)
        };
        let properties = write(
            "server.properties",
            config::server_properties(
                node.id,
                &ports,
                &node.dir.join("data"),
                &self.admin_password,
            ),
        )?;
        write("log4j2.properties", config::log4j2_properties())?;
        Ok(properties)
    }

    /// Starts node `id`'s JVM on the settings [`Cluster::write_settings`] wrote.
    fn spawn(&mut self, id: u32) -> Result<(), StepError> {
        let node = self.node(id)?;
        let properties = node.dir.join("server.properties");
        let log_config = node.dir.join("log4j2.properties");
        let mut options: Vec<String> = config::JVM_OPTIONS
            .iter()
            .map(|o| (*o).to_owned())
            .collect();
        options.push(format!(
            "-Dlog4j2.configurationFile={}",
            log_config.display()
        ));
        let options: Vec<&str> = options.iter().map(String::as_str).collect();
        let mut command = jvm(&self.libs, &options, "kafka.Kafka");
        command.arg(&properties);
        let log = self.logs.join(format!("{}.log", node.name));
        let process = Managed::spawn(&node.name, command, &log, None)?;
        let slot = self
            .nodes
            .iter_mut()
            .find(|n| n.id == id)
            .expect("known node");
        slot.process = Some(process);
        Ok(())
    }

    /// Waits until each node of `ids` answers a metadata request on its own port and lists
    /// itself there (registered and unfenced: ready for clients), failing early when one exits.
    /// Asked of the node itself: for a while after a `kill -9`, the others still list it.
    async fn wait_ready(&mut self, ids: &[u32]) -> Result<(), StepError> {
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        let mut waiting: Vec<u32> = ids.to_vec();
        loop {
            self.none_exited(&waiting)?;
            for id in waiting.clone() {
                let address = format!("127.0.0.1:{}", self.node(id)?.ports.client);
                let node = Brokers::scram(&address, ADMIN, &self.admin_password);
                let lists_itself = Metadata::ask(&node)
                    .await
                    .is_ok_and(|m| m.brokers.contains(&id));
                if lists_itself {
                    let node = self.nodes.iter_mut().find(|n| n.id == id);
                    if let Some(process) = node.and_then(|n| n.process.as_mut()) {
                        process.mark_ready();
                    }
                    waiting.retain(|w| *w != id);
                }
            }
            if waiting.is_empty() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                let names: Vec<String> = waiting.iter().map(|id| node_name(*id)).collect();
                let log = self.logs.join(format!("{}.log", node_name(waiting[0])));
                let why = format!(
                    "{} not ready after {}s",
                    names.join(", "),
                    START_TIMEOUT.as_secs()
                );
                return Err(step_error(STEP, why, Some(&log)));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// An error naming the first node of `ids` whose process has exited, with its last words.
    fn none_exited(&mut self, ids: &[u32]) -> Result<(), StepError> {
        for node in self.nodes.iter_mut().filter(|n| ids.contains(&n.id)) {
            let Some(process) = node.process.as_mut() else {
                continue;
            };
            if let Some(status) = process.exited() {
                let why = format!(
                    "{} exited during startup ({status}): {}",
                    node.name,
                    last_line(&process.log)
                );
                return Err(step_error(STEP, why, Some(&process.log)));
            }
        }
        Ok(())
    }

    /// The cluster as its metadata describes it now, asked of any running node.
    async fn metadata(&self) -> Result<Metadata, StepError> {
        Metadata::ask(&self.admin()).await
    }
}

/// `kafka` for the first node, `kafka-2` and `kafka-3` for the others (as replicas are named).
fn node_name(id: u32) -> String {
    if id == 1 {
        "kafka".to_owned()
    } else {
        format!("kafka-{id}")
    }
}

struct PartitionState {
    id: i32,
    /// -1 while it has none.
    leader: i32,
    replicas: usize,
    in_sync: usize,
    /// Its high watermark: how many records it has held.
    records: i64,
}

/// What a metadata request says: the live brokers, and each topic's partitions.
struct Metadata {
    brokers: Vec<u32>,
    topics: Vec<(String, Vec<PartitionState>)>,
}

impl Metadata {
    /// What the brokers at `bootstrap` say, off the async threads (librdkafka blocks).
    async fn ask(brokers: &Brokers) -> Result<Self, StepError> {
        let brokers = brokers.clone();
        tokio::task::spawn_blocking(move || Self::fetch(&brokers))
            .await
            .map_err(|e| step_error(STEP, e, None))?
    }

    fn fetch(brokers: &Brokers) -> Result<Self, StepError> {
        let client: BaseConsumer = platform::kafka::client(brokers)
            .set("log_level", "0")
            .create()
            .map_err(|e| step_error(STEP, e, None))?;
        let metadata = client
            .fetch_metadata(None, Duration::from_secs(2))
            .map_err(|e| step_error(STEP, e, None))?;
        Ok(Self {
            brokers: metadata.brokers().iter().map(|b| b.id() as u32).collect(),
            topics: metadata
                .topics()
                .iter()
                .map(|t| {
                    let partitions = t
                        .partitions()
                        .iter()
                        .map(|p| PartitionState {
                            id: p.id(),
                            leader: p.leader(),
                            replicas: p.replicas().len(),
                            in_sync: p.isr().len(),
                            records: client
                                .fetch_watermarks(t.name(), p.id(), Duration::from_secs(2))
                                .map_or(0, |(_, high)| high),
                        })
                        .collect();
                    (t.name().to_owned(), partitions)
                })
                .collect(),
        })
    }
}
