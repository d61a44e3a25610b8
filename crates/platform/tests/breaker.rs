//! The breaker-wrapped client against a real HTTP server that can be made slow or failing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use platform::auth::AuthSettings;
use platform::auth::credential::{CredentialSettings, ServiceCredential};
use platform::auth::dev::{DevIssuer, DevIssuerSettings};
use platform::client::{CallError, ServiceClient};
use platform::settings::ClientSettings;

const SECRET: &str = "breaker-test-secret";
const FAST: u8 = 0;
const SLOW: u8 = 1;
const FAILING: u8 = 2;
const REFUSING: u8 = 3;

struct Dependency {
    url: String,
    mode: Arc<AtomicU8>,
    hits: Arc<AtomicU32>,
}

async fn dependency() -> Dependency {
    let mode = Arc::new(AtomicU8::new(FAST));
    let hits = Arc::new(AtomicU32::new(0));
    let (m, h) = (mode.clone(), hits.clone());
    let app = Router::new().route(
        "/work",
        post(move || {
            let (m, h) = (m.clone(), h.clone());
            async move {
                h.fetch_add(1, Ordering::SeqCst);
                match m.load(Ordering::SeqCst) {
                    SLOW => {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        StatusCode::OK
                    }
                    FAILING => StatusCode::INTERNAL_SERVER_ERROR,
                    REFUSING => StatusCode::UNPROCESSABLE_ENTITY,
                    _ => StatusCode::OK,
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    // The token the client presents comes from a real issuer beside the dependency.
    let issuer = DevIssuer::ephemeral(
        &DevIssuerSettings {
            enabled: true,
            redirect_uris: Vec::new(),
            key_file: Default::default(),
            token_ttl: Duration::from_secs(600),
            clients: [("breaker-test".to_owned(), SECRET.to_owned())].into(),
        },
        &AuthSettings::for_dev_issuer(&url),
    )
    .unwrap();
    let app = app.merge(issuer.routes());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Dependency { url, mode, hits }
}

fn client(url: &str) -> ServiceClient {
    client_of(&[url], url)
}

/// A client of the replicas at `bases`, with tokens from the issuer at `issuer`.
fn client_of(bases: &[&str], issuer: &str) -> ServiceClient {
    let url = issuer;
    let settings = ClientSettings {
        base_urls: bases.iter().map(|b| (*b).to_owned()).collect(),
        timeout: Duration::from_millis(200),
        failure_threshold: 3,
        cooldown: Duration::from_millis(600),
    };
    let credential = ServiceCredential::new(CredentialSettings {
        token_url: format!("{url}/auth/dev/oauth2/token"),
        client_id: "breaker-test".into(),
        client_secret: SECRET.into(),
        scope: String::new(),
    })
    .unwrap();
    ServiceClient::new("breaker-test", &settings, credential).unwrap()
}

async fn call(client: &ServiceClient) -> Result<StatusCode, CallError> {
    client
        .post_json("/work", &serde_json::json!({}))
        .await
        .map(|r| r.status)
}

#[tokio::test]
async fn timeouts_open_the_breaker_which_fails_fast_then_closes_after_the_cooldown() {
    let dep = dependency().await;
    let client = client(&dep.url);
    assert_eq!(call(&client).await.unwrap(), StatusCode::OK);

    dep.mode.store(SLOW, Ordering::SeqCst);
    for _ in 0..3 {
        assert!(matches!(call(&client).await, Err(CallError::Timeout(..))));
    }
    let hits_when_opened = dep.hits.load(Ordering::SeqCst);
    let started = Instant::now();
    for _ in 0..5 {
        assert!(matches!(call(&client).await, Err(CallError::Open(_))));
    }
    println!("5 rejected calls took {:?}", started.elapsed());
    assert_eq!(
        dep.hits.load(Ordering::SeqCst),
        hits_when_opened,
        "an open breaker must not call"
    );
    assert!(
        platform::metrics::render()
            .contains(r#"circuit_breaker_state{dependency="breaker-test"} 2"#)
    );

    dep.mode.store(FAST, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        call(&client).await.unwrap(),
        StatusCode::OK,
        "half-open lets a trial call through"
    );
    assert_eq!(call(&client).await.unwrap(), StatusCode::OK);
    assert_eq!(dep.hits.load(Ordering::SeqCst), hits_when_opened + 2);
    assert!(
        platform::metrics::render()
            .contains(r#"circuit_breaker_state{dependency="breaker-test"} 0"#)
    );
}

#[tokio::test]
async fn server_errors_count_as_failures_and_client_errors_do_not() {
    let dep = dependency().await;
    let client = client(&dep.url);
    dep.mode.store(REFUSING, Ordering::SeqCst);
    for _ in 0..5 {
        assert_eq!(
            call(&client).await.unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
    dep.mode.store(FAILING, Ordering::SeqCst);
    for _ in 0..3 {
        assert!(matches!(call(&client).await, Err(CallError::Failed(..))));
    }
    assert!(matches!(call(&client).await, Err(CallError::Open(_))));
    // Still open while failing after the cool-down: the trial call fails and it opens again.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(matches!(call(&client).await, Err(CallError::Failed(..))));
    assert!(matches!(call(&client).await, Err(CallError::Open(_))));
}

#[tokio::test]
async fn an_unreachable_dependency_is_reported_as_such() {
    let client = client("http://127.0.0.1:9");
    assert!(matches!(
        call(&client).await,
        Err(CallError::Unreachable(..))
    ));
}

/// A port nothing listens on: connections to it are refused.
fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

#[tokio::test]
async fn calls_go_round_the_replicas_past_one_that_is_down_until_every_breaker_is_open() {
    let (a, b) = (dependency().await, dependency().await);
    let down = closed_port();
    let client = client_of(&[&down, &a.url, &b.url], &a.url);
    for _ in 0..9 {
        assert_eq!(call(&client).await.unwrap(), StatusCode::OK);
    }
    let (hits_a, hits_b) = (a.hits.load(Ordering::SeqCst), b.hits.load(Ordering::SeqCst));
    assert_eq!(
        hits_a + hits_b,
        9,
        "each call reached one live replica once"
    );
    assert!(
        hits_a >= 3 && hits_b >= 3,
        "both served: {hits_a} and {hits_b}"
    );
    let labels = platform::metrics::render();
    assert!(
        labels.contains(&format!(
            r#"circuit_breaker_state{{dependency="breaker-test@{down}"}} 2"#
        )),
        "the refusing replica's breaker opened: {labels}"
    );

    // Every replica down: refused until each breaker is open, then the breaker's fast failure.
    let client = client_of(&[&closed_port(), &closed_port()], &a.url);
    for _ in 0..3 {
        assert!(matches!(
            call(&client).await,
            Err(CallError::Unreachable(..))
        ));
    }
    assert!(matches!(call(&client).await, Err(CallError::Open(_))));
}
