//! The local broker, nisshi (Kafka API; tansu until it was renamed), with durable SQLite storage,
//! and topic creation. Why nisshi 0.7.0-pre.2: `bench/results/2026-12-01-broker-choice.md`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use contracts::TopicNames;
use tokio::process::Command;

use crate::Signal;
use crate::process::{Managed, last_line};
use crate::{StepError, step_error};

const STEP: &str = "broker";
const NAME: &str = "nisshi";
pub const VERSION: &str = "0.7.0-pre.2";
/// Later versions need a newer rustc than Debian's machines here have (rama 0.4 needs 1.96).
const INSTALL: &str = "cargo install nisshi --version 0.7.0-pre.2 --locked --no-default-features \
                       --features libsql,postgres";

fn binary() -> Result<PathBuf, StepError> {
    // Another broker binary with the same flags and sqlite schema (tansu 0.6, for comparing
    // brokers: bench/results/2026-12-01-broker-choice.md); not version-checked.
    if let Some(bin) = std::env::var_os("MEALKIT_BROKER_BIN") {
        return Ok(PathBuf::from(bin));
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(NAME));
    let in_cargo =
        std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo/bin").join(NAME));
    on_path
        .chain(in_cargo)
        .find(|p| p.is_file())
        .ok_or_else(|| {
            step_error(
                STEP,
                format!("{NAME} is not installed: {INSTALL} (./dev does this)"),
                None,
            )
        })
}

/// Which broker the launcher runs, for reports.
pub fn describe() -> String {
    match std::env::var_os("MEALKIT_BROKER_BIN") {
        Some(bin) => format!("{} (MEALKIT_BROKER_BIN)", bin.to_string_lossy()),
        None => format!("{NAME} {VERSION}"),
    }
}

pub async fn start(dir: &Path, port: u16, log: &Path) -> Result<Managed, StepError> {
    let broker_bin = binary()?;
    let version = Command::new(&broker_bin)
        .arg("--version")
        .output()
        .await
        .map_err(|e| step_error(STEP, format!("running {}: {e}", broker_bin.display()), None))?;
    let version = String::from_utf8_lossy(&version.stdout).trim().to_owned();
    if !version.ends_with(VERSION) && std::env::var_os("MEALKIT_BROKER_BIN").is_none() {
        return Err(step_error(
            STEP,
            format!("found {version}, need {VERSION}: {INSTALL}"),
            None,
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| step_error(STEP, e, None))?;
    let listener = format!("tcp://127.0.0.1:{port}");
    let mut command = Command::new(&broker_bin);
    // The broker resolves the sqlite path against its working directory.
    command
        .current_dir(dir)
        .args([
            "broker",
            "--cluster-id",
            "mealkit",
            "--storage-engine",
            "sqlite://broker.db",
        ])
        .args([
            "--listener-url",
            &listener,
            "--advertised-listener-url",
            &listener,
        ]);
    // The broker logs errors only unless asked: MEALKIT_BROKER_LOG takes a RUST_LOG filter for it
    // alone.
    match std::env::var("MEALKIT_BROKER_LOG") {
        Ok(filter) => command.env("RUST_LOG", filter),
        Err(_) => command.env_remove("RUST_LOG"),
    };
    let mut broker = Managed::spawn(STEP, command, log, None)?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = broker.exited() {
            return Err(step_error(
                STEP,
                format!("exited during startup ({status}): {}", last_line(log)),
                Some(log),
            ));
        }
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            // The broker creates its tables before it listens.
            index_headers(&dir.join("broker.db")).await?;
            broker.mark_ready();
            return Ok(broker);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(step_error(
                STEP,
                format!("not listening on {listener} after 30s"),
                Some(log),
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Adds the index the broker's sqlite schema lacks (tansu 0.6's and nisshi 0.7.0-pre.2's alike):
/// its `header` table has none, and a fetch looks up the headers of every record it returns, so
/// each record read scanned every header ever written. Consumers slowed down as the log grew until the broker spent whole seconds per
/// fetch (a 100% busy broker, metadata requests timing out, consumer groups falling apart); with
/// the index a backlog of 4,500 events that had stood still drained in about ten seconds.
async fn index_headers(db: &Path) -> Result<(), StepError> {
    const SQL: &str = "CREATE INDEX IF NOT EXISTS header_record ON header (topition, offset_id)";
    let output = Command::new("sqlite3")
        .arg(db)
        .args([".timeout 10000", SQL])
        .output()
        .await
        .map_err(|e| {
            step_error(
                STEP,
                format!("running sqlite3 ({e}): apt install sqlite3 (./dev does this)"),
                None,
            )
        })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(step_error(
            STEP,
            format!(
                "indexing {}: {}",
                db.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            ),
            None,
        ))
    }
}

/// Stops the broker with SIGINT, which it takes as "exit now" (about 1.5 s), rather than SIGTERM,
/// on which it keeps serving open connections for five more seconds (6.7 to 6.9 s under load).
///
/// SIGINT was first chosen for tansu 0.6's sake: during those five seconds tansu answered every
/// Produce with an unknown broker error, librdkafka's idempotent producer bumped its epoch, and
/// the next tansu on the same data panicked on an epoch it never stored. nisshi 0.7.0-pre.2 does
/// not: after three SIGTERMs under 350 orders/s, each followed by a fresh broker on the same data,
/// no outbox relay had logged a failed publish and all 20,994 sagas completed (2026-12-01). SIGINT
/// stays because it is quicker, and because Ctrl-C sends it anyway: the broker stops the same way
/// whether a person or a test stops the stack.
pub async fn stop(broker: &mut Managed) {
    broker
        .stop_with(Signal::SIGINT, Duration::from_secs(10))
        .await;
}

/// Creates the topics of the README's Contracts section (the broker does not auto-create), retrying while
/// the broker settles.
pub async fn create_topics(brokers: &str, topics: &TopicNames) -> Result<(), StepError> {
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
