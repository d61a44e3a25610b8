//! Shared by the gateway's tests.

use std::time::Duration;

use gateway::limits::LimitSettings;
use platform::auth::dev::DevIssuerSettings;
use testkit::TestEnv;

/// The gateway in front of `upstream`, verifying tokens of `env`'s issuer (its own dev issuer
/// off).
pub fn settings(env: &TestEnv, upstream: &str) -> gateway::Settings {
    gateway::Settings {
        bind_addr: "127.0.0.1".into(),
        port: 0,
        upstreams: gateway::ROUTES
            .iter()
            .map(|(prefix, ..)| ((*prefix).to_owned(), vec![upstream.to_owned()]))
            .collect(),
        breaker: gateway::upstreams::BreakerSettings::from_env().unwrap(),
        timeout: Duration::from_secs(3),
        auth: env.auth(),
        dev_issuer: DevIssuerSettings {
            enabled: false,
            redirect_uris: Vec::new(),
            key_file: Default::default(),
            token_ttl: Duration::from_secs(60),
            clients: Default::default(),
        },
        limits: LimitSettings::from_env().unwrap(),
        storefront: gateway::storefront::StorefrontSettings::from_env().unwrap(),
    }
}
