//! The gateway in front of a real service (marketing, in-process) and in front of nothing.

use std::time::{Duration, Instant};

use platform::auth::dev::DevIssuerSettings;
use serde_json::json;
use testkit::{Http, Role, Running, TestEnv, assert_error};

/// The gateway in front of `upstream`, verifying tokens of `env`'s issuer (its own dev issuer
/// off).
fn settings(env: &TestEnv, upstream: &str) -> gateway::Settings {
    gateway::Settings {
        bind_addr: "127.0.0.1".into(),
        port: 0,
        upstreams: gateway::ROUTES
            .iter()
            .map(|(prefix, ..)| ((*prefix).to_owned(), upstream.to_owned()))
            .collect(),
        timeout: Duration::from_secs(3),
        auth: env.auth(),
        dev_issuer: DevIssuerSettings {
            enabled: false,
            key_file: Default::default(),
            token_ttl: Duration::from_secs(60),
            clients: Default::default(),
        },
    }
}

#[tokio::test]
async fn requests_reach_their_service_with_a_request_id() {
    let env = TestEnv::new().await;
    let common = env.settings("marketing", "marketing");
    let marketing = Running::start(marketing::build(common)).await;
    let gateway = Running::start(gateway::build(settings(&env, &marketing.url))).await;
    let http = env.http_as(Role::Seller, 6);
    // The alert is a call between services: never routed, whoever asks.
    let alert = json!({"orderId": 5, "sellerId": 6});
    for path in [
        "/notifications/seller-alerts",
        "/notifications/seller-alerts/",
    ] {
        let through = format!("{}{path}", gateway.url);
        assert_error(
            &env.http_as_service().post(&through, alert.clone()).await,
            404,
            "not_found",
        );
        assert_error(&http.post(&through, alert.clone()).await, 404, "not_found");
    }
    let alerts = format!("{}/notifications/seller-alerts", marketing.url);
    let (status, body) = env.http_as_service().post(&alerts, alert).await;
    assert_eq!(status, 201, "{body}");
    let (status, list) = http
        .get(&format!("{}/notifications?orderId=5", gateway.url))
        .await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    // Upstream errors pass through unchanged.
    let refused = http
        .get(&format!("{}/notifications?recipient=robot", gateway.url))
        .await;
    assert_error(&refused, 400, "bad_request");
    // No token, or a forged one, stops at the gateway.
    let url = format!("{}/notifications", gateway.url);
    assert_error(&Http::default().get(&url).await, 401, "unauthenticated");
    assert_error(
        &Http::bearer("e30.e30.e30").get(&url).await,
        401,
        "invalid_token",
    );
    // This gateway's dev issuer is off: its endpoints do not exist.
    let token_request = json!({"role": "admin", "id": 1});
    assert_error(
        &Http::default()
            .post(&format!("{}/auth/dev/token", gateway.url), token_request)
            .await,
        404,
        "not_found",
    );
    assert_error(
        &Http::default()
            .get(&format!("{}/.well-known/jwks.json", gateway.url))
            .await,
        404,
        "not_found",
    );

    let client = reqwest::Client::new();
    let token = env.token(Role::Seller, 6);
    let response = client.get(&url).bearer_auth(&token).send().await.unwrap();
    assert!(response.headers().contains_key("x-request-id"));
    let response = client
        .get(&url)
        .bearer_auth(&token)
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-me-42");
}

#[tokio::test]
async fn an_unreachable_upstream_is_a_fast_json_503_and_limits_hold() {
    let env = TestEnv::new().await;
    let gateway = Running::start(gateway::build(settings(&env, "http://127.0.0.1:9"))).await;
    let http = env.http_as(Role::Customer, 1);
    let started = Instant::now();
    let answer = http.get(&format!("{}/orders/1", gateway.url)).await;
    assert_error(&answer, 503, "upstream_unavailable");
    println!("503 in {:?}", started.elapsed());
    let big = "x".repeat(100_000);
    let too_large = http
        .post_raw(&format!("{}/orders", gateway.url), "application/json", big)
        .await;
    assert_error(&too_large, 413, "payload_too_large");
    assert_error(
        &http.get(&format!("{}/nowhere", gateway.url)).await,
        404,
        "not_found",
    );
    assert_eq!(
        http.get(&format!("{}/health/ready", gateway.url)).await.0,
        200
    );
    assert_eq!(
        http.get(&format!("{}/health/live", gateway.url)).await.0,
        200
    );
    let (status, metrics) = http.get(&format!("{}/metrics", gateway.url)).await;
    assert_eq!(status, 200);
    assert!(
        metrics.as_str().unwrap().contains("http_requests_total"),
        "{metrics}"
    );
}

/// Sends `GET path` exactly as written: an HTTP client would resolve its dot-segments first.
async fn get_as_written(base: &str, path: &str, token: &str) -> (u16, serde_json::Value) {
    send_as_written(base, "GET", path, token).await
}

async fn send_as_written(
    base: &str,
    method: &str,
    path: &str,
    token: &str,
) -> (u16, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
         Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let status = answer[9..12].parse().unwrap();
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    let json = serde_json::from_str(body).unwrap_or_else(|_| json!(body));
    (status, json)
}

/// `/notifications/%2e%2e/metrics` would be marketing's own `/metrics` once the upstream URL
/// resolves it: no path may leave the prefix it was routed by.
#[tokio::test]
async fn no_path_leaves_the_prefix_it_was_routed_by() {
    let env = TestEnv::new().await;
    let common = env.settings("marketing", "marketing");
    let marketing = Running::start(marketing::build(common)).await;
    let gateway = Running::start(gateway::build(settings(&env, &marketing.url))).await;
    let token = env.token(Role::Customer, 1);
    for path in [
        "/notifications/%2e%2e/metrics",
        "/notifications/%2E%2E/health/ready",
        "/notifications/../metrics",
        "/notifications/.%2e/openapi.json",
        "/notifications/%2e./metrics",
        "/notifications/./",
        "/notifications/%2e%2e%2fmetrics",
        "/notifications/x%5c..%5cmetrics",
    ] {
        let answer = get_as_written(&gateway.url, path, &token).await;
        assert_error(&answer, 400, "invalid_path");
    }
    let (status, list) = get_as_written(&gateway.url, "/notifications?orderId=1", &token).await;
    assert_eq!(status, 200, "{list}");
}

/// Made-up methods are answered (405 from the service, through the gateway) and counted under
/// one label: they cannot grow the metrics page of the gateway or of the service.
#[tokio::test]
async fn made_up_methods_do_not_grow_the_metrics() {
    let env = TestEnv::new().await;
    let common = env.settings("marketing", "marketing");
    let marketing = Running::start(marketing::build(common)).await;
    let gateway = Running::start(gateway::build(settings(&env, &marketing.url))).await;
    let token = env.token(Role::Customer, 1);
    for i in 0..20 {
        let method = format!("MADEUP{i}");
        let answer = send_as_written(&gateway.url, &method, "/notifications", &token).await;
        assert_error(&answer, 405, "method_not_allowed");
    }
    // Gateway and marketing run in this process and share its metrics recorder.
    let metrics = Http::default()
        .get(&format!("{}/metrics", gateway.url))
        .await
        .1;
    let metrics = metrics.as_str().unwrap();
    assert!(!metrics.contains("MADEUP"), "{metrics}");
    assert!(metrics.contains("method=\"OTHER\""), "{metrics}");
}
