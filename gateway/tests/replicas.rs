//! A service's replicas behind one gateway route: a replica that stops is left out, its
//! requests served by the others and its breaker opened so that it is no longer tried.

mod support;

use testkit::{Role, Running, TestEnv};

async fn breaker_of(gateway: &str, replica: &str) -> (Option<f64>, f64) {
    let text = reqwest::get(format!("{gateway}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |metric: &str| {
        let prefix = format!("{metric}{{dependency=\"marketing@{replica}\"}} ");
        text.lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    (
        value("circuit_breaker_state"),
        value("circuit_breaker_rejected_total").unwrap_or(0.0),
    )
}

#[tokio::test]
async fn a_stopped_replica_is_left_out_and_the_others_serve_its_requests() {
    let env = TestEnv::new().await;
    let first = Running::start(marketing::build(env.settings("marketing", "marketing"))).await;
    let second = Running::start(marketing::build(env.settings("marketing", "marketing"))).await;
    let (first_url, second_url) = (first.url.clone(), second.url.clone());
    let mut settings = support::settings(&env, "http://127.0.0.1:9");
    for (prefix, urls) in &mut settings.upstreams {
        if prefix == "notifications" {
            *urls = vec![first_url.clone(), second_url.clone()];
        }
    }
    let gateway = Running::start(gateway::build(settings)).await;
    let customer = env.http_as(Role::Customer, 5);
    let url = format!("{}/notifications", gateway.url);
    for _ in 0..6 {
        let (status, body) = customer.get(&url).await;
        assert_eq!(status, 200, "{body}");
    }

    // The second replica stops: every request is still served, by the first.
    second.shutdown().await;
    for _ in 0..20 {
        let (status, body) = customer.get(&url).await;
        assert_eq!(status, 200, "{body}");
    }
    let (state, rejected) = breaker_of(&gateway.metrics_url, &second_url).await;
    assert_eq!(state, Some(2.0), "the stopped replica's breaker is open");
    assert!(rejected > 0.0, "and it is no longer tried");
    let (state, _) = breaker_of(&gateway.metrics_url, &first_url).await;
    assert_ne!(
        state,
        Some(2.0),
        "the serving replica's breaker stays closed"
    );

    // Both stopped: the gateway says so, in JSON, without hanging.
    first.shutdown().await;
    let (status, body) = customer.get(&url).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "upstream_unavailable", "{body}");
}
