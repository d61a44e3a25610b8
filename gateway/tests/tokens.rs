//! What a refused token learns, at the gateway and at a service's own port: that it was
//! refused, and nothing of why; and `nbf`, with the same clock leeway as `exp`.

mod support;

use platform::auth::{CLOCK_LEEWAY_SECS, REFUSED_TOKEN};
use serde_json::{Value, json};
use testkit::{Http, Running, TestEnv, assert_error};

/// What a 401 body must never say: the algorithm, the library's error, the key and its id.
fn leaks(body: &Value, kid: &str) -> Vec<&'static str> {
    let text = body.to_string().to_ascii_lowercase();
    let mut found: Vec<&'static str> = [
        "eddsa",
        "hs256",
        "none",
        "signature",
        "kid",
        "key",
        "expired",
        "issuer",
        "audience",
        "nbf",
    ]
    .into_iter()
    .filter(|word| text.contains(word))
    .collect();
    if text.contains(&kid.to_ascii_lowercase()) {
        found.push("the key id");
    }
    found
}

/// A token of `env`'s issuer for customer 42, valid from `nbf` seconds from now.
fn valid_from(env: &TestEnv, from_now: i64) -> String {
    let since_1970 = std::time::UNIX_EPOCH.elapsed().unwrap();
    let now = since_1970.as_secs() as i64;
    let auth = env.auth();
    env.issuer.sign(&json!({
        "iss": auth.issuer, "aud": auth.audience, "sub": "customer:42", "role": "customer",
        "id": 42, "iat": now, "nbf": now + from_now, "exp": now + 3600,
    }))
}

/// `GET path` with `token` at both the gateway and the service behind it.
async fn at_both(urls: [&str; 2], path: &str, token: &str) -> [(u16, Value); 2] {
    let http = Http::bearer(token);
    let [gateway, service] = urls.map(|base| format!("{base}{path}"));
    let (through, direct) = tokio::join!(http.get(&gateway), http.get(&service));
    [through, direct]
}

/// Every forged token (a flipped signature, another key, `alg: none`, expired, not yet valid,
/// another issuer or audience) is `401 invalid_token` with one sentence that says none of it,
/// from the gateway and from the service alike.
#[tokio::test]
async fn a_refused_token_learns_nothing_of_why() {
    let env = TestEnv::new().await;
    let marketing = Running::start(marketing::build(env.settings("marketing", "marketing"))).await;
    let gateway = Running::start(gateway::build(support::settings(&env, &marketing.url))).await;
    let kid = env.issuer.jwks().keys[0].common.key_id.clone().unwrap();
    let urls = [gateway.url.as_str(), marketing.url.as_str()];
    for (forgery, token) in testkit::forged_tokens(&env.issuer, &env.auth()) {
        for answer in at_both(urls, "/notifications", &token).await {
            assert_error(&answer, 401, "invalid_token");
            assert_eq!(answer.1["message"], REFUSED_TOKEN, "{forgery}");
            assert_eq!(leaks(&answer.1, &kid), Vec::<&str>::new(), "{forgery}");
        }
    }
}

/// A token whose `nbf` is an hour ahead is refused; one whose `nbf` is ahead by less than the
/// clock leeway (a clock a little behind the issuer's) is taken.
#[tokio::test]
async fn not_before_is_checked_with_the_clock_leeway() {
    let env = TestEnv::new().await;
    let marketing = Running::start(marketing::build(env.settings("marketing", "marketing"))).await;
    let gateway = Running::start(gateway::build(support::settings(&env, &marketing.url))).await;
    let urls = [gateway.url.as_str(), marketing.url.as_str()];
    let later = valid_from(&env, 3600);
    for answer in at_both(urls, "/notifications", &later).await {
        assert_error(&answer, 401, "invalid_token");
    }
    let within_leeway = valid_from(&env, CLOCK_LEEWAY_SECS as i64 / 2);
    for (status, body) in at_both(urls, "/notifications", &within_leeway).await {
        assert_eq!(status, 200, "{body}");
    }
}
