//! The gateway in front of a real service (marketing, in-process) and in front of nothing.

use std::time::{Duration, Instant};

mod support;

use serde_json::json;
use support::{settings, stall, until_closed};
use testkit::{Http, Role, Running, TestEnv, assert_error};

/// `settings` in front of `upstream` with tight limits ([`support::limited`]).
fn limited(
    env: &TestEnv,
    upstream: &str,
    per_sec: u32,
    burst: u32,
    in_flight: usize,
) -> gateway::Settings {
    support::limited(settings(env, upstream), per_sec, burst, in_flight)
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
    let (status, metrics) = http.get(&format!("{}/metrics", gateway.metrics_url)).await;
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
        .get(&format!("{}/metrics", gateway.metrics_url))
        .await
        .1;
    let metrics = metrics.as_str().unwrap();
    assert!(!metrics.contains("MADEUP"), "{metrics}");
    assert!(metrics.contains("method=\"OTHER\""), "{metrics}");
}

/// A caller over its rate gets `429` with `Retry-After` (and the service never sees the
/// request); another caller is not affected; after the wait the caller is served again. An
/// address over its rate is refused the same way, signed in or not.
#[tokio::test]
async fn a_burst_over_the_rate_limit_is_refused_then_served_again() {
    let env = TestEnv::new().await;
    let common = env.settings("marketing", "marketing");
    let marketing = Running::start(marketing::build(common)).await;
    let gateway = Running::start(gateway::build(limited(&env, &marketing.url, 1, 5, 100))).await;
    let url = format!("{}/notifications", gateway.url);
    let alice = env.http_as(Role::Customer, 1);
    for _ in 0..5 {
        assert_eq!(alice.get(&url).await.0, 200);
    }
    let served = requests_served(&marketing.url).await;
    let response = reqwest::Client::new()
        .get(&url)
        .bearer_auth(env.token(Role::Customer, 1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "Retry-After: {retry_after}");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited", "{body}");
    assert_eq!(
        requests_served(&marketing.url).await,
        served,
        "marketing saw nothing"
    );
    assert_eq!(env.http_as(Role::Customer, 2).get(&url).await.0, 200);
    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    assert_eq!(
        alice.get(&url).await.0,
        200,
        "served again after Retry-After"
    );

    // The address: 50 requests at once, whoever signs them; the catalog needs no token.
    let anonymous = Http::default();
    let mut refused = 0;
    for _ in 0..60 {
        let answer = anonymous.get(&format!("{}/products", gateway.url)).await;
        if answer.0 == 429 {
            assert_error(&answer, 429, "rate_limited");
            refused += 1;
        }
    }
    assert!(refused > 0, "the address limit never applied");
    let metrics = Http::default()
        .get(&format!("{}/metrics", gateway.metrics_url))
        .await
        .1;
    let metrics = metrics.as_str().unwrap();
    assert!(
        metrics.contains("gateway_rate_limited_total{limit=\"caller\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("gateway_rate_limited_total{limit=\"address\"}"),
        "{metrics}"
    );
}

/// Requests to `/notifications` answered `200` (by the gateway, which relays marketing's
/// answers, and by marketing: they share this process's metrics recorder).
async fn requests_served(marketing: &str) -> f64 {
    let metrics = Http::default().get(&format!("{marketing}/metrics")).await.1;
    metrics
        .as_str()
        .unwrap()
        .lines()
        .filter(|line| {
            line.starts_with("http_requests_total{")
                && line.contains("route=\"/notifications\"")
                && line.contains("status=\"200\"")
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A request whose headers never end is dropped, and one whose body never arrives is answered
/// `408` JSON, each within 30 s; while they hang, they hold places of the in-flight limit,
/// and a request beyond it is `503 overloaded` at once, on their route and on any other: the
/// bound is the whole gateway's.
#[tokio::test]
async fn stalled_requests_are_cut_off_and_in_flight_requests_are_bounded() {
    let env = TestEnv::new().await;
    let common = env.settings("marketing", "marketing");
    let marketing = Running::start(marketing::build(common)).await;
    let gateway = Running::start(gateway::build(limited(&env, &marketing.url, 100, 100, 2))).await;
    let token = env.token(Role::Customer, 1);
    let headers = stall(
        &gateway.url,
        "GET /notifications HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bear",
    )
    .await;
    let body_request = format!(
        "POST /notifications HTTP/1.1\r\nHost: {{host}}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"orderId\""
    );
    let bodies = [
        stall(&gateway.url, &body_request).await,
        stall(&gateway.url, &body_request).await,
    ];
    tokio::time::sleep(Duration::from_millis(500)).await;
    let http = env.http_as(Role::Customer, 1);
    let url = format!("{}/notifications", gateway.url);
    assert_error(&http.get(&url).await, 503, "overloaded");
    let elsewhere = format!("{}/products/1", gateway.url);
    assert_error(&http.get(&elsewhere).await, 503, "overloaded");

    let [first, second] = bodies;
    let (headers_cut, bodies_cut) = tokio::join!(
        until_closed(headers),
        futures::future::join(until_closed(first), until_closed(second))
    );
    println!(
        "headers cut off after {:?}, bodies after {:?}",
        headers_cut.1, bodies_cut.0.1
    );
    for (answer, _) in [bodies_cut.0, bodies_cut.1] {
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("\"error\":\"request_timeout\""), "{answer}");
        // The deadline is the server's constant; how long it took is printed, not asserted
        // (the machines are noisy). A connection never cut off fails `until_closed`.
        let deadline = platform::service::REQUEST_TIMEOUT.as_secs();
        assert!(answer.contains(&format!("within {deadline} s")), "{answer}");
    }
    assert_eq!(http.get(&url).await.0, 200, "places free again");
}
