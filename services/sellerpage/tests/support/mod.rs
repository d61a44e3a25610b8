//! Shared by sellerpage's test files: one instance against real Postgres and the broker.

use std::time::Duration;

use testkit::{Running, TestEnv};

/// A sellerpage of its own test environment, its stuck-saga deadline far off.
pub async fn spawn() -> (TestEnv, Running) {
    let env = TestEnv::new().await;
    let settings = sellerpage::Settings {
        common: env.settings("sellerpage", "sellerpage"),
        saga_step_deadline: Duration::from_secs(30),
        saga_check_interval: Duration::from_secs(1),
    };
    let app = Running::start(sellerpage::build(settings)).await;
    (env, app)
}
