//! Child processes: spawned in their own process group (so a Ctrl-C reaches only the launcher,
//! which then stops them in order), logging to a file, stopped with SIGTERM, killed on drop.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

use crate::{StepError, step_error};

pub struct Managed {
    pub name: String,
    pub log: PathBuf,
    started: tokio::time::Instant,
    /// How long it took from spawn to its first ready answer.
    pub ready_after: Option<Duration>,
    ready_url: Option<String>,
    child: Option<Child>,
}

impl Managed {
    pub fn spawn(
        name: &str,
        mut command: Command,
        log: &Path,
        ready_url: Option<String>,
    ) -> Result<Self, StepError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| step_error(name, format!("opening {}: {e}", log.display()), None))?;
        let err_file = file
            .try_clone()
            .map_err(|e| step_error(name, e, Some(log)))?;
        command
            .stdin(Stdio::null())
            .stdout(Stdio::from(file))
            .stderr(Stdio::from(err_file))
            .process_group(0)
            .kill_on_drop(true);
        let child = command
            .spawn()
            .map_err(|e| step_error(name, format!("could not start: {e}"), Some(log)))?;
        Ok(Self {
            name: name.to_owned(),
            log: log.to_path_buf(),
            started: tokio::time::Instant::now(),
            ready_after: None,
            ready_url,
            child: Some(child),
        })
    }

    /// Records that the process is ready now (for one whose readiness is not an HTTP probe).
    pub fn mark_ready(&mut self) {
        self.ready_after = Some(self.started.elapsed());
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    pub fn signal(&self, signal: Signal) {
        if let Some(pid) = self.pid() {
            let _ = kill(Pid::from_raw(pid as i32), signal);
        }
    }

    /// Whether the process has exited; with its status text.
    pub fn exited(&mut self) -> Option<String> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(e.to_string()),
        }
    }

    /// Polls the readiness URL until it answers 200 with the broker reachable (readiness itself
    /// does not wait for the broker, but a stack that has just started should be whole),
    /// failing early if the process exits.
    pub async fn wait_ready(&mut self, within: Duration) -> Result<(), StepError> {
        let Some(url) = self.ready_url.clone() else {
            return Ok(());
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| step_error(&self.name, e, None))?;
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(status) = self.exited() {
                return Err(step_error(
                    &self.name,
                    format!("exited during startup ({status}): {}", last_line(&self.log)),
                    Some(&self.log),
                ));
            }
            if let Ok(response) = client.get(&url).send().await
                && response.status().is_success()
                && connected(response).await
            {
                self.ready_after = Some(self.started.elapsed());
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(step_error(
                    &self.name,
                    format!("not ready after {}s ({url})", within.as_secs()),
                    Some(&self.log),
                ));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// SIGTERM (after SIGCONT, in case it was frozen), then SIGKILL if it outlives `grace`.
    pub async fn stop(&mut self, grace: Duration) {
        self.stop_with(Signal::SIGTERM, grace).await;
    }

    pub async fn stop_with(&mut self, signal: Signal, grace: Duration) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Some(pid) = child.id() {
            let pid = Pid::from_raw(pid as i32);
            let _ = kill(pid, Signal::SIGCONT);
            let _ = kill(pid, signal);
        }
        if tokio::time::timeout(grace, child.wait()).await.is_err() {
            let _ = child.kill().await;
        }
    }
}

/// The line of a log that best says why a process failed, for one-line error reports: the last
/// error it printed (a backtrace may follow it), else its last line. A Java error (Kafka's
/// `] ERROR ...`) is followed by the exception that caused it, which is kept with it.
pub fn last_line(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let is_error = |l: &str| {
        l.starts_with("Error:")
            || l.contains("\"level\":\"ERROR\"")
            || l.contains("FATAL")
            || l.contains("] ERROR ")
    };
    let Some(at) = lines.iter().rposition(|l| is_error(l)) else {
        return lines.last().map(|l| shortened(l)).unwrap_or_default();
    };
    let cause = lines
        .get(at + 1)
        .filter(|l| l.contains("Exception") && !l.trim_start().starts_with("at "));
    match cause {
        Some(cause) => shortened(&format!("{}: {}", lines[at], cause.trim())),
        None => shortened(lines[at]),
    }
}

fn shortened(line: &str) -> String {
    line.chars().take(400).collect()
}

/// Starts `service`'s binary as the process `name` (a replica's name: `order`, `order-2`),
/// listening on `port`, logging to `<name>.log`.
pub fn spawn_service(
    bin_dir: &Path,
    service: &str,
    name: &str,
    port: u16,
    env: Vec<(String, String)>,
    logs: &Path,
) -> Result<Managed, StepError> {
    let binary = bin_dir.join(service);
    if !binary.is_file() {
        return Err(step_error(
            name,
            format!(
                "binary {} not found; build it with `cargo build --bins`",
                binary.display()
            ),
            None,
        ));
    }
    let mut command = Command::new(&binary);
    command.envs(env);
    if std::env::var_os("RUST_LOG").is_none() {
        command.env("RUST_LOG", "info,sqlx=warn,rdkafka=warn");
    }
    Managed::spawn(
        name,
        command,
        &logs.join(format!("{name}.log")),
        Some(format!("http://127.0.0.1:{port}/health/ready")),
    )
}

/// Whether a readiness answer says the broker is reachable (or does not list it: the gateway).
async fn connected(response: reqwest::Response) -> bool {
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    body["checks"]["broker"]
        .as_str()
        .is_none_or(|broker| broker == "up")
}

#[cfg(test)]
mod tests {
    use super::last_line;

    #[test]
    fn the_error_line_is_reported_rather_than_a_backtrace_frame() {
        let log =
            std::env::temp_dir().join(format!("mealkit-last-line-{}.log", std::process::id()));
        std::fs::write(
            &log,
            "{\"level\":\"INFO\",\"message\":\"listening\"}\nError: binding 127.0.0.1:8084: Address in use\n\nStack backtrace:\n   0: main\n  38: _start\n",
        )
        .unwrap();
        assert_eq!(
            last_line(&log),
            "Error: binding 127.0.0.1:8084: Address in use"
        );
        std::fs::write(&log, "first\nlast words\n").unwrap();
        assert_eq!(last_line(&log), "last words");
        std::fs::write(
            &log,
            "[2026-12-06 23:24:01,001] INFO started (kafka.server.KafkaRaftServer)\n\
             [2026-12-06 23:24:02,002] ERROR [KafkaRaftServer nodeId=1] Fatal error during broker startup. (kafka.server.KafkaRaftServer)\n\
             org.apache.kafka.common.KafkaException: Socket server failed to bind to 127.0.0.1:9092: Address already in use.\n\
             \tat kafka.network.Acceptor.openServerSocket(SocketServer.scala:700)\n",
        )
        .unwrap();
        let said = last_line(&log);
        assert!(said.contains("Fatal error during broker startup"), "{said}");
        assert!(said.ends_with("Address already in use."), "{said}");
        let _ = std::fs::remove_file(&log);
    }
}
