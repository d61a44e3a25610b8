//! Least privilege on the local stack: each service connects as its own Postgres role, which
//! owns the service's schema and can use nothing else (README, Least privilege). The roles are
//! made by the same SQL as Compose's and Kubernetes' Postgres (`k8s/base/postgres-roles.sql`),
//! run with `psql` as the administrator, at every start (a new password each time).

use std::collections::BTreeMap;
use std::process::Stdio;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::{StepError, step_error};

const STEP: &str = "postgres roles";
const ROLES_SQL: &str = include_str!("../../../k8s/base/postgres-roles.sql");

/// Each service and the schema it owns (the same pairs as `k8s/base/postgres-roles.sh`).
pub const SCHEMAS: [(&str, &str); 6] = [
    ("product", "product"),
    ("order", "ordering"),
    ("payment", "payment"),
    ("delivery", "delivery"),
    ("marketing", "marketing"),
    ("sellerpage", "sellerpage"),
];

/// The role a service connects as.
pub fn role_of(service: &str) -> String {
    format!("mealkit_{service}")
}

/// Creates or updates every service's role through `admin_url` (which must be allowed to create
/// roles); returns each service's own `DATABASE_URL`.
pub(crate) async fn provision(admin_url: &str) -> Result<BTreeMap<String, String>, StepError> {
    let psql = crate::postgres::bin_dir()?.join("psql");
    let mut urls = BTreeMap::new();
    for (service, schema) in SCHEMAS {
        let role = role_of(service);
        let password = platform::auth::dev::random_secret();
        let mut child = Command::new(&psql)
            .arg(admin_url)
            .args(["--quiet", "--no-psqlrc", "-v", "ON_ERROR_STOP=1"])
            .arg("-v")
            .arg(format!("role={role}"))
            .arg("-v")
            .arg(format!("schema={schema}"))
            .arg("-v")
            .arg(format!("password={password}"))
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| step_error(STEP, format!("running {}: {e}", psql.display()), None))?;
        let mut stdin = child.stdin.take().expect("a piped stdin");
        stdin
            .write_all(ROLES_SQL.as_bytes())
            .await
            .map_err(|e| step_error(STEP, e, None))?;
        drop(stdin);
        let out = child
            .wait_with_output()
            .await
            .map_err(|e| step_error(STEP, e, None))?;
        if !out.status.success() {
            return Err(step_error(
                STEP,
                format!(
                    "creating {role} (DATABASE_URL's user must be allowed to create roles): {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
                None,
            ));
        }
        let mut url = reqwest::Url::parse(admin_url).map_err(|e| step_error(STEP, e, None))?;
        let credentials = url
            .set_username(&role)
            .and_then(|()| url.set_password(Some(&password)));
        if credentials.is_err() {
            return Err(step_error(STEP, "DATABASE_URL has no host", None));
        }
        urls.insert(service.to_owned(), url.to_string());
    }
    Ok(urls)
}
