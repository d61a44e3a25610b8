//! The load tools: siege (the seed's own command) and oha (percentiles at a fixed concurrency or
//! a fixed arrival rate). Both are external, maintained programs; we only read their reports.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::process::Command;

#[derive(Debug, Default, Serialize)]
pub struct Siege {
    pub figures: BTreeMap<String, String>,
}

/// How long after its time a siege run may take to exit. Debian's siege 4.0.7 can deadlock at
/// the end of a timed run: seen once here, its threads asleep on a lock, the gateway's answers
/// unread in their sockets, and it never exited (nor on SIGTERM), which held CI until its limit.
const SIEGE_GRACE: Duration = Duration::from_secs(30);

/// `siege -c{users} -t{secs}S --content-type application/json -H 'Authorization: Bearer T'
/// 'URL POST BODY'`, the seed's command signed in as the README shows.
/// A run that hangs past its time is killed and run once more; if that one hangs too, the report
/// says so instead of a figure.
pub async fn siege(
    url: &str,
    body: &str,
    token: &str,
    users: u32,
    duration: Duration,
) -> anyhow::Result<Siege> {
    for attempt in 1..=2 {
        match siege_once(url, body, token, users, duration).await? {
            Some(siege) => return Ok(siege),
            None => eprintln!(
                "==> siege did not exit {}s after its time (siege 4.0's deadlock); killed it{}",
                SIEGE_GRACE.as_secs(),
                if attempt == 1 {
                    ", running it again"
                } else {
                    ""
                }
            ),
        }
    }
    let hung = format!(
        "siege hung twice, each time killed {}s after its time: no figures",
        SIEGE_GRACE.as_secs()
    );
    Ok(Siege {
        figures: BTreeMap::from([("hung".to_owned(), hung)]),
    })
}

/// One siege run; `None` when it did not exit within [`SIEGE_GRACE`] after its time (it is
/// killed then).
async fn siege_once(
    url: &str,
    body: &str,
    token: &str,
    users: u32,
    duration: Duration,
) -> anyhow::Result<Option<Siege>> {
    let child = Command::new("siege")
        .arg(format!("-c{users}"))
        .arg(format!("-t{}S", duration.as_secs()))
        .args(["--content-type", "application/json", "--no-parser", "-q"])
        .arg("-H")
        .arg(format!("Authorization: Bearer {token}"))
        .arg(format!("{url} POST {body}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let Ok(out) = tokio::time::timeout(duration + SIEGE_GRACE, child.wait_with_output()).await
    else {
        return Ok(None);
    };
    let out = out?;
    // siege writes its summary to stderr as "Name:<spaces>value unit" lines.
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    let figures: BTreeMap<String, String> = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| {
            (
                k.trim().trim_matches('"').to_owned(),
                v.trim().trim_matches(',').trim_matches('"').to_owned(),
            )
        })
        .filter(|(k, _)| {
            [
                "Transactions",
                "transactions",
                "Availability",
                "availability",
                "Transaction rate",
                "transaction_rate",
                "Response time",
                "response_time",
                "Longest transaction",
                "longest_transaction",
                "Failed transactions",
                "failed_transactions",
                "Successful transactions",
                "successful_transactions",
                "Elapsed time",
                "elapsed_time",
                "Concurrency",
                "concurrency",
            ]
            .contains(&k.as_str())
        })
        .collect();
    anyhow::ensure!(!figures.is_empty(), "siege printed no summary: {text}");
    Ok(Some(Siege { figures }))
}

#[derive(Debug, Default, Serialize)]
pub struct Percentiles {
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub success_rate: f64,
    pub status_codes: BTreeMap<String, u64>,
}

pub enum Shape {
    Concurrency(u32),
    Rate(u32),
}

/// oha against `url` for `duration`, POSTing `body` (or GET without one).
pub async fn oha(
    url: &str,
    body: Option<&str>,
    token: &str,
    shape: Shape,
    duration: Duration,
) -> anyhow::Result<Percentiles> {
    let mut command = Command::new("oha");
    // `-w`: requests in flight at the deadline finish; aborting them would leave orders whose
    // client vanished mid-payment, settled only by the recovery loop, counted as stuck sagas.
    command
        .args(["--no-tui", "-w", "--output-format", "json", "-z"])
        .arg(format!("{}s", duration.as_secs()));
    match shape {
        Shape::Concurrency(c) => command.arg("-c").arg(c.to_string()),
        Shape::Rate(q) => command.args(["-c", "100", "-q"]).arg(q.to_string()),
    };
    command
        .arg("-H")
        .arg(format!("Authorization: Bearer {token}"));
    if let Some(body) = body {
        command.args([
            "-m",
            "POST",
            "-H",
            "content-type: application/json",
            "-d",
            body,
        ]);
    }
    let out = command.arg(url).stdin(Stdio::null()).output().await?;
    anyhow::ensure!(
        out.status.success(),
        "oha failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout)?;
    let ms = |v: &Value| v.as_f64().unwrap_or(f64::NAN) * 1000.0;
    let percentiles = &report["latencyPercentiles"];
    Ok(Percentiles {
        requests_per_second: report["summary"]["requestsPerSec"].as_f64().unwrap_or(0.0),
        p50_ms: ms(&percentiles["p50"]),
        p90_ms: ms(&percentiles["p90"]),
        p99_ms: ms(&percentiles["p99"]),
        max_ms: ms(&report["summary"]["slowest"]),
        success_rate: report["summary"]["successRate"].as_f64().unwrap_or(0.0),
        status_codes: report["statusCodeDistribution"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default(),
    })
}
