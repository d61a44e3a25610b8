//! What a local Kafka node runs with: its JVM, its `server.properties`, its logging, and the
//! cluster's id.

use std::path::Path;

use base64::Engine;

use crate::{StepError, step_error};

/// A node's two loopback listeners: clients and the other nodes' brokers, and the controllers'
/// quorum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrokerPorts {
    pub client: u16,
    pub controller: u16,
}

/// The broker's JVM.
///
/// - **Heap: 256 MiB at most, 64 MiB to start.** Kafka keeps records in the operating system's
///   page cache, not on the heap; the heap holds requests in flight and every partition's
///   state. The live heap after a full collection measured 40 MiB after 40 s of orders at
///   250/s, and 65 MiB on the tests' shared node holding 150 topics (2026-12-06, `jmap
///   -histo:live`), once the log cleaner's map was cut to 8 MiB ([`server_properties`]; at its
///   default of 128 MiB it was most of the heap). 256 MiB leaves four times the larger of
///   those; Kafka's own script sets 1 GiB, which a laptop running three nodes would feel.
/// - **G1 with short pauses**, as Kafka's start script sets it.
/// - **Exit on running out of memory**, so the launcher reports a dead node instead of one that
///   limps on.
pub const JVM_OPTIONS: &[&str] = &[
    "-Xms64m",
    "-Xmx256m",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
];

/// The cluster's id: made once, when `root` is first used, for `nodes` nodes. A folder made for
/// another number of nodes is refused: its quorum and its topics' replicas would not match.
pub fn cluster_id(root: &Path, nodes: usize) -> Result<String, StepError> {
    let file = root.join("cluster");
    let unreadable =
        |e: std::io::Error| step_error("kafka", format!("reading {}: {e}", file.display()), None);
    match std::fs::read_to_string(&file) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(unreadable(e)),
        Ok(text) => {
            let (id, made_for) = text
                .split_once(' ')
                .and_then(|(id, n)| Some((id.to_owned(), n.trim().parse::<usize>().ok()?)))
                .ok_or_else(|| {
                    step_error(
                        "kafka",
                        format!("{} is not `<id> <nodes>`", file.display()),
                        None,
                    )
                })?;
            if made_for != nodes {
                return Err(step_error(
                    "kafka",
                    format!(
                        "{} holds a cluster of {made_for} broker(s), not {nodes}: start it with \
                         --brokers {made_for}, or start afresh with --wipe",
                        root.display()
                    ),
                    None,
                ));
            }
            Ok(id)
        }
        Err(_not_found) => {
            let id = new_cluster_id();
            std::fs::write(&file, format!("{id} {nodes}\n")).map_err(|e| {
                step_error("kafka", format!("writing {}: {e}", file.display()), None)
            })?;
            Ok(id)
        }
    }
}

/// The administrator's password: made with the cluster, kept in `<root>/admin.secret` (readable
/// by its owner only), never written anywhere else but the nodes' own settings and the tools'
/// `admin.properties` beside it. A cluster formatted before the brokers required signing in
/// has no administrator: it is refused, to be started afresh.
pub fn admin_password(root: &Path) -> Result<String, StepError> {
    let file = root.join("admin.secret");
    match std::fs::read_to_string(&file) {
        Ok(password) => return Ok(password.trim().to_owned()),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(step_error(
                "kafka",
                format!("reading {}: {e}", file.display()),
                None,
            ));
        }
        Err(_not_found) => {}
    }
    if root.join("node-1/data/meta.properties").is_file() {
        return Err(step_error(
            "kafka",
            format!(
                "{} holds a cluster made before the brokers required signing in (no \
                 administrator): start afresh with --wipe",
                root.display()
            ),
            None,
        ));
    }
    let password = platform::auth::dev::random_secret();
    write_private(&file, &password)?;
    Ok(password)
}

/// Writes `text` to `file`, readable and writable by its owner only (made so when it existed
/// before, too).
pub fn write_private(file: &Path, text: &str) -> Result<(), StepError> {
    crate::write_private(file, text)
        .map_err(|e| step_error("kafka", format!("writing {}: {e}", file.display()), None))
}

/// A new cluster id as Kafka makes them (`Uuid.randomUuid`): 16 random bytes in URL-safe
/// base64 without padding, never starting with `-`, which command lines would take for an
/// option (`kafka-storage format --cluster-id -x…` fails; one id in 64 would).
fn new_cluster_id() -> String {
    loop {
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(uuid::Uuid::new_v4().as_bytes());
        if !id.starts_with('-') {
            return id;
        }
    }
}

/// The broker's administrator: its super user, the brokers' own identity to each other, and the
/// launcher's and the tools' identity. Each service signs in as itself ([`crate::bus`]).
pub const ADMIN: &str = "admin";

/// Node `id`'s settings in a cluster whose nodes listen on `ports` (node 1 on the first), its
/// log segments in `data`, its administrator's password `admin_password`.
///
/// Replication follows the cluster's size: with three nodes every topic, the consumer offsets
/// and the producers' transaction state have three replicas and need two of them in sync to
/// take a write (`acks=all`), so one node can be lost without losing an acknowledged event or
/// refusing one; alone, one replica.
pub fn server_properties(
    id: u32,
    ports: &[BrokerPorts],
    data: &Path,
    admin_password: &str,
) -> String {
    let own = ports[id as usize - 1];
    let replicas = ports.len().min(3);
    let min_in_sync = if replicas >= 3 { 2 } else { 1 };
    let voters: Vec<String> = (1..)
        .zip(ports)
        .map(|(n, p)| format!("{n}@127.0.0.1:{}", p.controller))
        .collect();
    let mut lines = vec![
        "# Written by the launcher at every start (crates/stack/src/kafka/config.rs).".to_owned(),
        "process.roles=broker,controller".to_owned(),
        format!("node.id={id}"),
        format!("controller.quorum.voters={}", voters.join(",")),
        format!(
            "listeners=CLIENT://127.0.0.1:{},CONTROLLER://127.0.0.1:{}",
            own.client, own.controller
        ),
        format!("advertised.listeners=CLIENT://127.0.0.1:{}", own.client),
        "controller.listener.names=CONTROLLER".to_owned(),
        "inter.broker.listener.name=CLIENT".to_owned(),
        format!("log.dirs={}", data.display()),
        // Topics are made by the launcher and the tests, with their partitions and replicas;
        // a typo in a consumer's topic must not make one.
        "auto.create.topics.enable=false".to_owned(),
        "num.partitions=3".to_owned(),
        format!("default.replication.factor={replicas}"),
        format!("min.insync.replicas={min_in_sync}"),
        format!("offsets.topic.replication.factor={replicas}"),
        format!("transaction.state.log.replication.factor={replicas}"),
        format!("transaction.state.log.min.isr={min_in_sync}"),
        format!("share.coordinator.state.topic.replication.factor={replicas}"),
        format!("share.coordinator.state.topic.min.isr={min_in_sync}"),
        // A new group's first member gets its partitions at once instead of after 3 s spent
        // waiting for others: the stack starts all of a group's replicas together anyway.
        "group.initial.rebalance.delay.ms=0".to_owned(),
        // A replica that is out of sync never becomes leader: no acknowledged event is dropped.
        "unclean.leader.election.enable=false".to_owned(),
        // The log cleaner's key map, on the heap: Kafka's 128 MiB default is sized for large
        // compacted topics, and was three quarters of a local node's live heap. Here the one
        // compacted topic is the consumer offsets (a few thousand keys); 8 MiB holds about
        // 350,000 keys per cleaning pass.
        "log.cleaner.dedupe.buffer.size=8388608".to_owned(),
        // Threads sized for a laptop: one network thread per listener and two request
        // handlers, against Kafka's 3 and 8 (sized for a server's cores). The stack's few dozen
        // connections and about a thousand requests a second keep one network thread far from
        // busy, and more threads than cores only add wakeups and context switches (issue #27).
        "num.network.threads=1".to_owned(),
        "num.io.threads=2".to_owned(),
    ];
    lines.extend(sign_in(admin_password));
    lines.join("\n") + "\n"
}

/// Who may connect, and what each may do (README, What the bus trusts):
/// - **Clients sign in with SCRAM-SHA-512** on the client listener, the brokers to each other
///   too (as [`ADMIN`], whose credential the storage is formatted with: [`admin_scram`]). A
///   client that does not sign in is refused.
/// - **The controllers' quorum signs in with PLAIN** on its own listener (SCRAM credentials live
///   in the metadata the quorum itself serves, so they cannot authenticate it), with the
///   administrator's password in this file only. Nothing but loopback reaches either listener.
/// - **Kafka's `StandardAuthorizer` enforces the ACLs** the launcher makes from
///   `contracts::access` ([`crate::bus`]); [`ADMIN`] alone is a super user, and what no ACL
///   allows is refused.
fn sign_in(admin_password: &str) -> Vec<String> {
    let scram = format!(
        "org.apache.kafka.common.security.scram.ScramLoginModule required \
         username=\"{ADMIN}\" password=\"{admin_password}\";"
    );
    let plain = format!(
        "org.apache.kafka.common.security.plain.PlainLoginModule required \
         username=\"{ADMIN}\" password=\"{admin_password}\" user_{ADMIN}=\"{admin_password}\";"
    );
    vec![
        "listener.security.protocol.map=CLIENT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT".to_owned(),
        "sasl.enabled.mechanisms=SCRAM-SHA-512".to_owned(),
        "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512".to_owned(),
        format!("listener.name.client.scram-sha-512.sasl.jaas.config={scram}"),
        "listener.name.controller.sasl.enabled.mechanisms=PLAIN".to_owned(),
        "sasl.mechanism.controller.protocol=PLAIN".to_owned(),
        format!("listener.name.controller.plain.sasl.jaas.config={plain}"),
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer".to_owned(),
        format!("super.users=User:{ADMIN}"),
        "allow.everyone.if.no.acl.found=false".to_owned(),
    ]
}

/// The administrator's SCRAM credential, for `kafka-storage format --add-scram`: written into
/// the metadata log before the first start, since the brokers need it to reach each other.
pub fn admin_scram(admin_password: &str) -> String {
    format!("SCRAM-SHA-512=[name={ADMIN},password={admin_password}]")
}

/// Log4j2's settings for a node: warnings and errors, and Kafka's own line when a node has
/// started; `MEALKIT_KAFKA_LOG` (`info`, `debug`) sets the level of everything.
pub fn log4j2_properties() -> String {
    let level = std::env::var("MEALKIT_KAFKA_LOG").unwrap_or_else(|_| "warn".to_owned());
    format!(
        "status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = {level}
rootLogger.appenderRef.out.ref = OUT
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = info
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_three_node_cluster_replicates_thrice_and_needs_two_in_sync() {
        let ports = [
            BrokerPorts {
                client: 9092,
                controller: 9093,
            },
            BrokerPorts {
                client: 9192,
                controller: 9193,
            },
            BrokerPorts {
                client: 9292,
                controller: 9293,
            },
        ];
        let text = server_properties(2, &ports, Path::new("/d"), "pw");
        for line in [
            "node.id=2",
            "controller.quorum.voters=1@127.0.0.1:9093,2@127.0.0.1:9193,3@127.0.0.1:9293",
            "listeners=CLIENT://127.0.0.1:9192,CONTROLLER://127.0.0.1:9193",
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users=User:admin",
            "allow.everyone.if.no.acl.found=false",
            "default.replication.factor=3",
            "min.insync.replicas=2",
            "offsets.topic.replication.factor=3",
            "log.dirs=/d",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        let alone = server_properties(1, &ports[..1], Path::new("/d"), "pw");
        assert!(alone.contains("\nmin.insync.replicas=1\n"));
        assert!(alone.contains("\ndefault.replication.factor=1\n"));
    }

    #[test]
    fn a_folder_made_for_one_node_is_not_started_as_three() {
        let root =
            std::env::temp_dir().join(format!("mealkit-cluster-id-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&root).unwrap();
        let id = cluster_id(&root, 1).unwrap();
        assert_eq!(id.len(), 22);
        assert_eq!(cluster_id(&root, 1).unwrap(), id);
        let refused = cluster_id(&root, 3).unwrap_err().to_string();
        assert!(refused.contains("--wipe"), "{refused}");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn cluster_ids_never_look_like_an_option() {
        // One in 64 random ids would start with `-`; 2,000 tries miss that with odds 1e-14.
        for _ in 0..2_000 {
            let id = new_cluster_id();
            assert!(!id.starts_with('-') && id.len() == 22, "{id}");
        }
    }
}
