//! A private Postgres cluster from Debian's binaries: `initdb` once, then `postgres` as a child
//! on 127.0.0.1 only (no Unix socket: checkout paths can exceed the socket path limit).
//!
//! Postgres refuses to run as root. When the launcher is root (CI, containers) the cluster runs
//! as Debian's `postgres` user, which must own the data folder and be able to reach it; when a
//! parent folder is closed to it (a checkout under `/root`), the data lives under `/var/tmp`.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, User, geteuid};
use sqlx::Connection;
use tokio::process::Command;

use crate::process::{Managed, last_line};
use crate::{StepError, step_error};

const STEP: &str = "postgres";
pub const USER: &str = "mealkit";
pub const DATABASE: &str = "mealkit";

pub struct Postgres {
    pub url: String,
    process: Managed,
}

/// The newest Debian server binaries (15 or later), or `PG_BIN`.
pub(crate) fn bin_dir() -> Result<PathBuf, StepError> {
    if let Ok(dir) = std::env::var("PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let newest = std::fs::read_dir("/usr/lib/postgresql")
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            (version >= 15 && bin.join("postgres").is_file()).then_some((version, bin))
        })
        .max();
    newest.map(|(_, bin)| bin).ok_or_else(|| {
        step_error(
            STEP,
            "no PostgreSQL 15+ server under /usr/lib/postgresql: install it with `apt-get install postgresql` (./dev does this)",
            None,
        )
    })
}

fn run_as() -> Result<Option<User>, StepError> {
    if !geteuid().is_root() {
        return Ok(None);
    }
    match User::from_name("postgres") {
        Ok(Some(user)) => Ok(Some(user)),
        _ => Err(step_error(
            STEP,
            "running as root needs the `postgres` system user (Debian's postgresql package creates it)",
            None,
        )),
    }
}

fn as_user(command: &mut Command, user: &Option<User>) {
    if let Some(user) = user {
        command.uid(user.uid.as_raw()).gid(user.gid.as_raw());
    }
}

/// The folder to use: `wanted`, or a stand-in under /var/tmp when `user` cannot reach it.
async fn data_dir(wanted: &Path, user: &Option<User>) -> Result<PathBuf, StepError> {
    std::fs::create_dir_all(wanted)
        .map_err(|e| step_error(STEP, format!("creating {}: {e}", wanted.display()), None))?;
    let Some(user) = user else {
        return Ok(wanted.to_path_buf());
    };
    let own = |dir: &Path| {
        std::os::unix::fs::chown(dir, Some(user.uid.as_raw()), Some(user.gid.as_raw())).map_err(
            |e| {
                step_error(
                    STEP,
                    format!("handing {} to postgres: {e}", dir.display()),
                    None,
                )
            },
        )
    };
    own(wanted)?;
    let mut probe = Command::new("test");
    probe.arg("-w").arg(wanted);
    as_user(&mut probe, &Some(user.clone()));
    if probe.status().await.is_ok_and(|s| s.success()) {
        return Ok(wanted.to_path_buf());
    }
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    wanted.hash(&mut hasher);
    let stand_in = PathBuf::from(format!(
        "/var/tmp/mealkit-postgres/{:016x}",
        hasher.finish()
    ));
    eprintln!(
        "==> note: the postgres user cannot reach {}; keeping the cluster in {}",
        wanted.display(),
        stand_in.display()
    );
    std::fs::create_dir_all(&stand_in).map_err(|e| step_error(STEP, e, None))?;
    own(stand_in.parent().expect("has a parent"))?;
    own(&stand_in)?;
    let _ = std::fs::write(wanted.join("WHERE"), format!("{}\n", stand_in.display()));
    Ok(stand_in)
}

/// A leftover server from a launcher that was killed holds the data folder: stop it.
async fn stop_leftover(data: &Path) {
    let Ok(text) = std::fs::read_to_string(data.join("postmaster.pid")) else {
        return;
    };
    let Some(pid) = text
        .lines()
        .next()
        .and_then(|l| l.trim().parse::<i32>().ok())
    else {
        return;
    };
    let pid = Pid::from_raw(pid);
    if kill(pid, None).is_err() {
        return;
    }
    eprintln!("==> stopping a Postgres left running by an earlier launch (pid {pid})");
    let _ = kill(pid, Signal::SIGINT);
    for _ in 0..200 {
        if kill(pid, None).is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl Postgres {
    pub async fn start(wanted: &Path, port: u16, log: &Path) -> Result<Self, StepError> {
        let bin = bin_dir()?;
        let user = run_as()?;
        let data = data_dir(wanted, &user).await?;
        let log_file = || {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .map_err(|e| step_error(STEP, e, None))
        };
        if !data.join("PG_VERSION").exists() {
            eprintln!("==> initialising a new cluster in {}", data.display());
            let mut initdb = Command::new(bin.join("initdb"));
            initdb
                .arg("-D")
                .arg(&data)
                .args(["-U", USER, "--auth=trust", "--encoding=UTF8", "--locale=C"])
                .stdout(log_file()?)
                .stderr(log_file()?);
            as_user(&mut initdb, &user);
            let status = initdb
                .status()
                .await
                .map_err(|e| step_error(STEP, format!("running initdb: {e}"), Some(log)))?;
            if !status.success() {
                return Err(step_error(
                    STEP,
                    format!("initdb failed: {}", last_line(log)),
                    Some(log),
                ));
            }
        }
        stop_leftover(&data).await;

        let mut server = Command::new(bin.join("postgres"));
        server
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string()])
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "unix_socket_directories=",
            ])
            .args(["-c", "max_connections=300", "-c", "shared_buffers=256MB"])
            // Statement counts per order, read by the benchmark (a few percent of a statement's
            // cost, and only once the extension is created in a database).
            .args(["-c", "shared_preload_libraries=pg_stat_statements"]);
        as_user(&mut server, &user);
        let mut process = Managed::spawn(STEP, server, log, None)?;

        let admin = format!("postgres://{USER}@127.0.0.1:{port}/postgres");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let mut conn = loop {
            if let Some(status) = process.exited() {
                return Err(step_error(
                    STEP,
                    format!("exited during startup ({status}): {}", last_line(log)),
                    Some(log),
                ));
            }
            match sqlx::PgConnection::connect(&admin).await {
                Ok(conn) => break conn,
                Err(_) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => {
                    return Err(step_error(
                        STEP,
                        format!("not accepting connections: {e}"),
                        Some(log),
                    ));
                }
            }
        };
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(DATABASE)
                .fetch_one(&mut conn)
                .await
                .map_err(|e| step_error(STEP, e, Some(log)))?;
        if !exists {
            sqlx::query(&format!("CREATE DATABASE {DATABASE}"))
                .execute(&mut conn)
                .await
                .map_err(|e| step_error(STEP, e, Some(log)))?;
        }
        let _ = conn.close().await;
        Ok(Self {
            url: format!("postgres://{USER}@127.0.0.1:{port}/{DATABASE}"),
            process,
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }

    /// Fast shutdown: disconnects clients, checkpoints, exits.
    pub async fn stop(&mut self) {
        self.process
            .stop_with(Signal::SIGINT, Duration::from_secs(30))
            .await;
    }
}
