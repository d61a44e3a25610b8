//! CPU time and resident memory of processes, from /proc (Linux).

use std::collections::BTreeMap;

/// Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux).
const TICKS: f64 = 100.0;

fn stat(pid: u32) -> Option<(u32, f64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command may contain spaces: fields start after the closing parenthesis.
    let rest = text.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ppid = fields.get(1)?.parse().ok()?;
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((ppid, (utime + stime) / TICKS))
}

/// Proportional set size: resident memory with shared pages split among their sharers, so that
/// Postgres' backends, which all map the shared buffers, add up to what they really use.
fn pss_kib(pid: u32) -> u64 {
    let field = |file: &str, name: &str| -> Option<u64> {
        std::fs::read_to_string(format!("/proc/{pid}/{file}"))
            .ok()?
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    field("smaps_rollup", "Pss:")
        .or_else(|| field("status", "VmRSS:"))
        .unwrap_or(0)
}

/// `root` and its children (Postgres serves each connection from a child process).
fn tree(root: u32) -> Vec<u32> {
    let mut pids = vec![root];
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            if let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
                && stat(pid).is_some_and(|(ppid, _)| ppid == root)
            {
                pids.push(pid);
            }
        }
    }
    pids
}

#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Usage {
    pub cpu_seconds: f64,
    /// Proportional set size (see [`pss_kib`]).
    pub rss_mib: f64,
}

/// CPU seconds so far and current RSS of each named process tree.
pub fn sample(pids: &[(String, u32)]) -> BTreeMap<String, Usage> {
    pids.iter()
        .map(|(name, root)| {
            let members = tree(*root);
            let cpu_seconds = members
                .iter()
                .filter_map(|p| stat(*p))
                .map(|(_, cpu)| cpu)
                .sum();
            let rss_mib = members.iter().map(|p| pss_kib(*p)).sum::<u64>() as f64 / 1024.0;
            (
                name.clone(),
                Usage {
                    cpu_seconds,
                    rss_mib,
                },
            )
        })
        .collect()
}

/// What each process uses while the stack is idle: its memory, and its CPU over `window` as a
/// share of one core (a broker that keeps polling its storage while idle shows here).
#[derive(Debug, Default)]
pub struct Idle {
    pub rss_mib: BTreeMap<String, f64>,
    pub cpu_percent: BTreeMap<String, f64>,
}

pub async fn idle(pids: &[(String, u32)], window: std::time::Duration) -> Idle {
    let before = sample(pids);
    tokio::time::sleep(window).await;
    let after = sample(pids);
    let cpu_percent = after
        .iter()
        .map(|(name, usage)| {
            let used = usage.cpu_seconds - before.get(name).map_or(0.0, |b| b.cpu_seconds);
            (name.clone(), 100.0 * used / window.as_secs_f64())
        })
        .collect();
    Idle {
        rss_mib: after.into_iter().map(|(n, u)| (n, u.rss_mib)).collect(),
        cpu_percent,
    }
}
