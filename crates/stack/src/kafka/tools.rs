//! Kafka's own command-line tools, from the same jars as the broker: `./dev kafka <tool> ...`
//! (`mealkit kafka`) runs `kafka-<tool>.sh`'s class against the local cluster.

use std::path::Path;

use tokio::process::Command;

/// A tool's JVM: small, and compiling only with the quick compiler, since a tool runs for
/// seconds (Kafka's scripts give tools 256 MiB too).
pub const JVM_OPTIONS: &[&str] = &[
    "-Xmx256m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
];

/// Where a tool takes `--bootstrap-server`, which the launcher adds when it is not given.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Bootstrap {
    /// The tool talks to no cluster (it reads files).
    None,
    /// Before everything else (`kafka-metadata-quorum --bootstrap-server B describe`).
    First,
    /// After its subcommand (`kafka-cluster cluster-id --bootstrap-server B`).
    AfterSubcommand,
}

/// Each tool by the name of its script without `kafka-` and `.sh`, its class, and where it takes
/// the cluster's address.
pub const TOOLS: &[(&str, &str, Bootstrap)] = &[
    (
        "acls",
        "org.apache.kafka.tools.AclCommand",
        Bootstrap::First,
    ),
    (
        "broker-api-versions",
        "org.apache.kafka.tools.BrokerApiVersionsCommand",
        Bootstrap::First,
    ),
    (
        "cluster",
        "org.apache.kafka.tools.ClusterTool",
        Bootstrap::AfterSubcommand,
    ),
    (
        "configs",
        "org.apache.kafka.tools.ConfigCommand",
        Bootstrap::First,
    ),
    (
        "console-consumer",
        "org.apache.kafka.tools.consumer.ConsoleConsumer",
        Bootstrap::First,
    ),
    (
        "console-producer",
        "org.apache.kafka.tools.ConsoleProducer",
        Bootstrap::First,
    ),
    (
        "consumer-groups",
        "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
        Bootstrap::First,
    ),
    (
        "delete-records",
        "org.apache.kafka.tools.DeleteRecordsCommand",
        Bootstrap::First,
    ),
    (
        "dump-log",
        "org.apache.kafka.tools.DumpLogSegments",
        Bootstrap::None,
    ),
    (
        "features",
        "org.apache.kafka.tools.FeatureCommand",
        Bootstrap::First,
    ),
    (
        "get-offsets",
        "org.apache.kafka.tools.GetOffsetShell",
        Bootstrap::First,
    ),
    (
        "groups",
        "org.apache.kafka.tools.GroupsCommand",
        Bootstrap::First,
    ),
    (
        "leader-election",
        "org.apache.kafka.tools.LeaderElectionCommand",
        Bootstrap::First,
    ),
    (
        "log-dirs",
        "org.apache.kafka.tools.LogDirsCommand",
        Bootstrap::First,
    ),
    (
        "metadata-quorum",
        "org.apache.kafka.tools.MetadataQuorumCommand",
        Bootstrap::First,
    ),
    (
        "reassign-partitions",
        "org.apache.kafka.tools.reassign.ReassignPartitionsCommand",
        Bootstrap::First,
    ),
    ("storage", "kafka.tools.StorageTool", Bootstrap::None),
    (
        "topics",
        "org.apache.kafka.tools.TopicCommand",
        Bootstrap::First,
    ),
    (
        "transactions",
        "org.apache.kafka.tools.TransactionsCommand",
        Bootstrap::First,
    ),
];

/// The command that runs `tool` with `args` against the cluster at `bootstrap`, signed in with
/// the client properties in `sign_in` (`--command-config`, which every tool of Kafka 4 takes
/// beside `--bootstrap-server`; see [`crate::kafka::Cluster::admin_properties`]). Both are left
/// out when `args` names a cluster of its own. With no logging settings given, log4j2 prints
/// errors only; the tools print their results on stdout.
pub fn tool_command(
    libs: &Path,
    tool: &str,
    args: &[String],
    bootstrap: &str,
    sign_in: Option<&Path>,
) -> Result<Command, String> {
    let tool = tool.strip_prefix("kafka-").unwrap_or(tool);
    let tool = tool.strip_suffix(".sh").unwrap_or(tool);
    let (_, class, position) =
        TOOLS
            .iter()
            .find(|(name, _, _)| *name == tool)
            .ok_or_else(|| {
                let names: Vec<&str> = TOOLS.iter().map(|(name, _, _)| *name).collect();
                format!(
                    "no Kafka tool named {tool:?}; there are: {}",
                    names.join(", ")
                )
            })?;
    let given = args
        .iter()
        .any(|a| a.starts_with("--bootstrap-server") || a.starts_with("--bootstrap-controller"));
    let mut address = vec!["--bootstrap-server".to_owned(), bootstrap.to_owned()];
    if let Some(file) = sign_in.filter(|_| !args.iter().any(|a| a.starts_with("--command-config")))
    {
        address.extend(["--command-config".to_owned(), file.display().to_string()]);
    }
    let at = match position {
        _ if given => None,
        Bootstrap::None => None,
        Bootstrap::First => Some(0),
        Bootstrap::AfterSubcommand => Some(args.len().min(1)),
    };
    let mut argv = args.to_vec();
    if let Some(at) = at {
        argv.splice(at..at, address);
    }
    let mut command = super::jvm(libs, JVM_OPTIONS, class);
    command.args(argv);
    Ok(command)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(command: &Command) -> Vec<String> {
        command
            .as_std()
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn a_tool_is_named_as_its_script_and_pointed_at_the_local_cluster() {
        let args = vec!["--describe".to_owned(), "--all-groups".to_owned()];
        for name in [
            "consumer-groups",
            "kafka-consumer-groups",
            "kafka-consumer-groups.sh",
        ] {
            let command =
                tool_command(Path::new("/libs"), name, &args, "127.0.0.1:9092", None).unwrap();
            let argv = argv(&command);
            assert!(argv.contains(
                &"org.apache.kafka.tools.consumer.group.ConsumerGroupCommand".to_owned()
            ));
            assert_eq!(
                argv[argv.len() - 4..],
                [
                    "--bootstrap-server",
                    "127.0.0.1:9092",
                    "--describe",
                    "--all-groups"
                ]
            );
        }
        let status = vec!["describe".to_owned(), "--status".to_owned()];
        let argv_of = |tool: &str| {
            argv(&tool_command(Path::new("/libs"), tool, &status, "b:1", None).unwrap())
        };
        assert_eq!(
            argv_of("metadata-quorum")[argv_of("metadata-quorum").len() - 4..],
            ["--bootstrap-server", "b:1", "describe", "--status"]
        );
        assert_eq!(
            argv_of("cluster")[argv_of("cluster").len() - 4..],
            ["describe", "--bootstrap-server", "b:1", "--status"]
        );
        assert!(!argv_of("dump-log").contains(&"--bootstrap-server".to_owned()));
        let signed_in = tool_command(
            Path::new("/libs"),
            "topics",
            &["--list".to_owned()],
            "b:1",
            Some(Path::new("/data/admin.properties")),
        )
        .unwrap();
        assert_eq!(
            argv(&signed_in)[argv(&signed_in).len() - 5..],
            [
                "--bootstrap-server",
                "b:1",
                "--command-config",
                "/data/admin.properties",
                "--list"
            ]
        );
        let own = vec![
            "--bootstrap-server".to_owned(),
            "elsewhere:9092".to_owned(),
            "--list".to_owned(),
        ];
        let argv = argv(
            &tool_command(Path::new("/libs"), "topics", &own, "127.0.0.1:9092", None).unwrap(),
        );
        assert_eq!(
            argv.iter().filter(|a| *a == "--bootstrap-server").count(),
            1
        );
        assert!(
            tool_command(Path::new("/libs"), "nope", &[], "x", None)
                .unwrap_err()
                .contains("consumer-groups")
        );
    }
}
