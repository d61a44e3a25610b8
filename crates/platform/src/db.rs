//! Database pool bound to the service's own schema, and its migrations.
//!
//! Every connection starts with `search_path` set to the service's schema, so queries name
//! tables without a schema and a service can never read another's tables by accident. The
//! platform's tables (outbox, processed events) are migrated by the platform's migrator into the
//! same schema; the service's migrator follows. Both share one `_sqlx_migrations` table, hence
//! `ignore_missing`: the platform uses versions below 1000, services 1000 and up.

use std::time::{Duration, Instant};

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

static PLATFORM_MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// Is `err` about reaching the database (retry later) rather than about the query?
pub fn is_transient(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => matches!(
            db.code().as_deref(),
            // serialization failure, deadlock, admin shutdown, crash shutdown, cannot connect now,
            // too many connections
            Some("40001" | "40P01" | "57P01" | "57P02" | "57P03" | "53300")
        ),
        _ => false,
    }
}

pub fn connect_options(url: &str, schema: &str) -> Result<PgConnectOptions, sqlx::Error> {
    let options: PgConnectOptions = url.parse()?;
    Ok(options
        .options([("search_path", schema)])
        .log_statements(tracing::log::LevelFilter::Trace)
        .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500)))
}

/// A connection idle longer than this is pinged before it is handed out; one used more recently
/// is handed out as it is (see [`pool`]).
pub const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// A pool whose connections live in `schema`. Lazy: it connects on first use, so a service
/// starts (and reports not-ready) while the database is down.
///
/// A connection is pinged before use only when it sat idle for [`PING_AFTER_IDLE`] (as HikariCP
/// skips its check for connections used in the last half second): sqlx's default pings before
/// every checkout, a round trip and a wakeup of the server's backend per statement under load
/// (issue #27). A connection that broke in use is still closed, not reused: sqlx 0.8 pings
/// every connection when it comes back to the pool (unconditionally; that second round trip
/// per checkout is left, there is no option for it).
pub fn pool(url: &str, schema: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(3))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_AFTER_IDLE {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_lazy_with(connect_options(url, schema)?))
}

/// Creates the schema if needed and runs the platform's and the service's migrations, retrying
/// while the database is unreachable for up to `timeout`.
pub async fn prepare(
    url: &str,
    schema: &str,
    pool: &PgPool,
    migrator: &Migrator,
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut delay = Duration::from_millis(200);
    loop {
        match try_prepare(url, schema, pool, migrator).await {
            Ok(()) => return Ok(()),
            Err(err) if Instant::now() < deadline && is_retryable(&err) => {
                tracing::warn!(error = %err, "database not ready; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(3));
            }
            Err(err) => return Err(anyhow::anyhow!("preparing schema {schema}: {err}")),
        }
    }
}

fn is_retryable(err: &PrepareError) -> bool {
    match err {
        PrepareError::Sql(e) => is_transient(e),
        PrepareError::Migrate(sqlx::migrate::MigrateError::Execute(e)) => is_transient(e),
        PrepareError::Migrate(_) => false,
    }
}

#[derive(Debug, thiserror::Error)]
enum PrepareError {
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

async fn try_prepare(
    url: &str,
    schema: &str,
    pool: &PgPool,
    migrator: &Migrator,
) -> Result<(), PrepareError> {
    // On a plain connection: the pool's connections already point search_path at the schema,
    // which may not exist yet.
    let mut conn = sqlx::PgConnection::connect_with(&url.parse::<PgConnectOptions>()?).await?;
    // A service's own role owns its schema, made for it beforehand, and may create no other:
    // creating is only for a database that leaves it to the service.
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)")
            .bind(schema)
            .fetch_one(&mut conn)
            .await?;
    let created = if exists {
        Ok(Default::default())
    } else {
        sqlx::query(&format!(
            "CREATE SCHEMA IF NOT EXISTS {}",
            quote_ident(schema)
        ))
        .execute(&mut conn)
        .await
    };
    // Two replicas creating the schema at once: one loses with a unique violation; fine.
    if let Err(err) = created {
        let duplicate = matches!(&err, sqlx::Error::Database(db)
            if matches!(db.code().as_deref(), Some("23505" | "42P06")));
        if !duplicate {
            return Err(err.into());
        }
    }
    conn.close().await?;

    let mut platform = Migrator {
        migrations: PLATFORM_MIGRATIONS.migrations.clone(),
        ..Migrator::DEFAULT
    };
    platform.set_ignore_missing(true);
    platform.run(pool).await?;
    let mut service = Migrator {
        migrations: migrator.migrations.clone(),
        ..Migrator::DEFAULT
    };
    service.set_ignore_missing(true);
    service.run(pool).await?;
    Ok(())
}

pub fn quote_ident(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// Round-trips to the database within `timeout`.
pub async fn ping(pool: &PgPool, timeout: Duration) -> bool {
    matches!(
        tokio::time::timeout(timeout, sqlx::query("SELECT 1").execute(pool)).await,
        Ok(Ok(_))
    )
}
