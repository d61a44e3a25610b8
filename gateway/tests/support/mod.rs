//! Shared by the gateway's tests (each test binary uses some of it).
#![allow(dead_code)]

use std::time::{Duration, Instant};

use gateway::limits::{LimitSettings, Rate};
use platform::auth::dev::DevIssuerSettings;
use testkit::TestEnv;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The gateway in front of `upstream`, verifying tokens of `env`'s issuer (its own dev issuer
/// off).
pub fn settings(env: &TestEnv, upstream: &str) -> gateway::Settings {
    gateway::Settings {
        bind_addr: "127.0.0.1".into(),
        port: 0,
        metrics_port: 0,
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

/// `settings` with tight limits: `per_sec` and `burst` for every caller (ten times the burst
/// for an address), and at most `in_flight` requests at once.
pub fn limited(
    settings: gateway::Settings,
    per_sec: u32,
    burst: u32,
    in_flight: usize,
) -> gateway::Settings {
    let rate = Rate {
        per_sec: per_sec.try_into().unwrap(),
        burst: burst.try_into().unwrap(),
    };
    gateway::Settings {
        limits: LimitSettings {
            per_address: Rate {
                burst: (burst * 10).try_into().unwrap(),
                ..rate
            },
            per_caller: rate,
            max_concurrent: in_flight,
            max_open_streams: 2,
        },
        ..settings
    }
}

/// `settings` with the gateway's own dev issuer on (a key of its own in a fresh folder), whose
/// browser sign-in may send codes to `redirect_uris` only.
pub fn with_dev_issuer(settings: gateway::Settings, redirect_uris: &[&str]) -> gateway::Settings {
    let folder = std::env::temp_dir().join(format!(
        "gateway-test-{}",
        platform::auth::dev::random_secret()
    ));
    gateway::Settings {
        dev_issuer: DevIssuerSettings {
            enabled: true,
            key_file: folder.join("dev-issuer.key"),
            redirect_uris: redirect_uris.iter().map(|uri| (*uri).to_owned()).collect(),
            ..settings.dev_issuer.clone()
        },
        ..settings
    }
}

/// Opens a connection and sends `partial` (a request, perhaps cut short; `{host}` is replaced
/// by the server's address), then nothing.
pub async fn stall(base: &str, partial: &str) -> TcpStream {
    let host = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).await.unwrap();
    stream
        .write_all(partial.replace("{host}", host).as_bytes())
        .await
        .unwrap();
    stream
}

/// Reads until the server closes the connection; returns what it sent and when. A connection
/// still open after twice the server's deadlines was never cut off.
pub async fn until_closed(mut stream: TcpStream) -> (String, Duration) {
    let started = Instant::now();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut answer)).await;
    assert!(
        read.is_ok(),
        "the stalled connection was still open after 60 s"
    );
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
    )
}

/// The status of a raw HTTP/1.1 answer.
pub fn status_of(answer: &str) -> u16 {
    answer
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"))
}
