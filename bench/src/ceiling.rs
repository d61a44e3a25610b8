//! The machine's ceiling for the database: what the stack's own Postgres commits on its own, so
//! that every other figure of a run can be read against it.

use sqlx::PgPool;
use stack::Stack;

/// Single-row insert commits per second on the stack's own Postgres (pgbench, 8 clients).
pub async fn pgbench(stack: &Stack, seconds: u32) -> anyhow::Result<f64> {
    let admin = PgPool::connect(&stack.database_url).await?;
    let _ = sqlx::query("CREATE DATABASE ceiling").execute(&admin).await;
    let url = stack
        .database_url
        .rsplit_once('/')
        .map(|(b, _)| format!("{b}/ceiling"))
        .unwrap_or_default();
    let db = PgPool::connect(&url).await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS t (id BIGSERIAL PRIMARY KEY, v INT)")
        .execute(&db)
        .await?;
    let script = std::env::temp_dir().join(format!("mealkit-insert-{}.sql", std::process::id()));
    std::fs::write(&script, "INSERT INTO t (v) VALUES (1);\n")?;
    let pgbench = stack::postgres_bin_dir()
        .map(|d| d.join("pgbench"))
        .unwrap_or_else(|| "pgbench".into());
    let out = tokio::process::Command::new(pgbench)
        .args(["-n", "-c", "8", "-j", "2", "-T", &seconds.to_string(), "-f"])
        .arg(&script)
        .arg(&url)
        .output()
        .await?;
    let _ = std::fs::remove_file(&script);
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.split_whitespace().nth(2)?.parse().ok())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "pgbench printed no tps: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}
