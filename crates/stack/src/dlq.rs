//! `mealkit dlq list [WAITING|REDRIVEN] | show ID | redrive ID`: the dead-letter topic from a
//! terminal, through the gateway's admin endpoints (`/dead-letters`, see
//! `platform::dead_letters`), so it works against any deployment a token works for.
//!
//! `MEALKIT_URL` is the gateway (default the local one); `MEALKIT_TOKEN` an admin's token. Without
//! one, the dev issuer of the local stack is asked for an admin's.

use serde_json::{Value, json};

const DEFAULT_URL: &str = "http://127.0.0.1:8080";

pub fn usage() -> &'static str {
    "mealkit dlq list [WAITING|REDRIVEN] | mealkit dlq show ID | mealkit dlq redrive ID"
}

/// Runs one `dlq` command and prints its answer as JSON.
pub async fn run(args: &[String]) -> anyhow::Result<()> {
    let base = std::env::var("MEALKIT_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_URL.to_owned());
    let base = base.trim_end_matches('/');
    let http = platform::client::http_client().build()?;
    let token = match std::env::var("MEALKIT_TOKEN")
        .ok()
        .filter(|v| !v.is_empty())
    {
        Some(token) => token,
        None => dev_admin_token(&http, base).await?,
    };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let request = match args.as_slice() {
        ["list"] => http.get(format!("{base}/dead-letters")),
        ["list", status] => http
            .get(format!("{base}/dead-letters"))
            .query(&[("status", status.to_ascii_uppercase())]),
        ["show", id] => http.get(format!("{base}/dead-letters/{id}")),
        ["redrive", id] => http.post(format!("{base}/dead-letters/{id}/redrive")),
        _ => anyhow::bail!("usage: {}", usage()),
    };
    let response = request.bearer_auth(token).send().await?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    println!("{}", serde_json::to_string_pretty(&body)?);
    if !status.is_success() {
        anyhow::bail!("the gateway answered {status}");
    }
    Ok(())
}

async fn dev_admin_token(http: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let response = http
        .post(format!("{base}/auth/dev/token"))
        .json(&json!({"role": "admin", "id": 1}))
        .send()
        .await?;
    if !response.status().is_success() {
        anyhow::bail!(
            "no MEALKIT_TOKEN, and {base} has no dev issuer to sign in an admin ({})",
            response.status()
        );
    }
    let body: Value = response.json().await?;
    body["accessToken"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("the dev issuer answered no token"))
}
