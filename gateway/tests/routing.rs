//! The gateway in front of a real service (marketing, in-process) and in front of nothing.

use std::time::{Duration, Instant};

use serde_json::json;
use testkit::{Http, Running, TestEnv, assert_error};

fn settings(upstream: &str) -> gateway::Settings {
    gateway::Settings {
        bind_addr: "127.0.0.1".into(),
        port: 0,
        upstreams: gateway::ROUTES
            .iter()
            .map(|(prefix, ..)| ((*prefix).to_owned(), upstream.to_owned()))
            .collect(),
        timeout: Duration::from_secs(3),
    }
}

#[tokio::test]
async fn requests_reach_their_service_with_a_request_id() {
    let env = TestEnv::new().await;
    let common = env.settings("marketing", "marketing");
    let marketing = Running::start(marketing::build(common)).await;
    let gateway = Running::start(gateway::build(settings(&marketing.url))).await;
    let http = Http::default();
    let alerts = format!("{}/notifications/seller-alerts", gateway.url);
    let (status, body) = http
        .post(&alerts, json!({"orderId": 5, "sellerId": 6}))
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, list) = http
        .get(&format!("{}/notifications?orderId=5", gateway.url))
        .await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    // Upstream errors pass through unchanged.
    let refused = http
        .post(&alerts, json!({"orderId": 0, "sellerId": 6}))
        .await;
    assert_error(&refused, 422, "invalid_value");

    let client = reqwest::Client::new();
    let url = format!("{}/notifications", gateway.url);
    let response = client.get(&url).send().await.unwrap();
    assert!(response.headers().contains_key("x-request-id"));
    let response = client
        .get(&url)
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-me-42");
}

#[tokio::test]
async fn an_unreachable_upstream_is_a_fast_json_503_and_limits_hold() {
    let gateway = Running::start(gateway::build(settings("http://127.0.0.1:9"))).await;
    let http = Http::default();
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
