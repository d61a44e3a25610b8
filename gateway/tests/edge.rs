//! The edge's own defences, on a real gateway over real sockets: bodies where none belongs,
//! stalled uploads without a token, framing, the metrics port, and the dev issuer's clients.

use std::time::Duration;

mod support;

use support::{limited, settings, stall, status_of, until_closed, with_dev_issuer};
use testkit::{Http, Role, Running, TestEnv, assert_error};

/// Nothing listens there: the tests here never need a service's answer.
const NOWHERE: &str = "http://127.0.0.1:9";
/// The only address this file's dev issuers may send a sign-in code to.
const SHOP: &str = "http://shop.example/";

/// The headers of `method path` announcing a body (`announce`: a `Content-Length` or a
/// `Transfer-Encoding`) that never comes.
fn announced(method: &str, path: &str, announce: &str, token: &str) -> String {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: {{host}}\r\nAuthorization: Bearer {token}\r\n\
         {announce}\r\n\r\n"
    )
}

/// A `GET`, `HEAD`, `DELETE` or `OPTIONS` announcing a body that never comes is answered
/// without anyone waiting for it (waiting would end in `408`), and the connection is closed:
/// `400 unexpected_body` where the route has the method (a service's, marketing's
/// `/notifications`, and the gateway's own `/docs/`), `405` where it has not. At a service's own
/// port a body where none belongs is refused too.
#[tokio::test]
async fn a_body_on_a_method_that_takes_none_is_refused_at_once() {
    let env = TestEnv::new().await;
    let marketing = Running::start(marketing::build(env.settings("marketing", "marketing"))).await;
    let gateway = Running::start(gateway::build(settings(&env, &marketing.url))).await;
    let token = env.token(Role::Customer, 1);
    for announce in ["Content-Length: 100", "Transfer-Encoding: chunked"] {
        for (method, path, status) in [
            ("GET", "/notifications", 400),
            ("HEAD", "/notifications", 400),
            ("GET", "/docs/", 400),
            ("DELETE", "/notifications", 405),
            ("OPTIONS", "/notifications", 405),
            ("DELETE", "/docs/", 405),
        ] {
            let request = announced(method, path, announce, &token);
            let (answer, took) = until_closed(stall(&gateway.url, &request).await).await;
            assert_eq!(
                status_of(&answer),
                status,
                "{method} {path} {announce}: {answer}"
            );
            // Closed at once: waiting for the body would have taken the 30 s deadline.
            assert!(took < Duration::from_secs(10), "{method} {path}: {took:?}");
            if status == 400 && method != "HEAD" {
                assert!(answer.contains("\"error\":\"unexpected_body\""), "{answer}");
            }
        }
    }
    // An empty body is no body: the request goes on.
    let empty = announced(
        "GET",
        "/notifications",
        "Content-Length: 0\r\nConnection: close",
        &token,
    );
    let (answer, _) = until_closed(stall(&gateway.url, &empty).await).await;
    assert_eq!(status_of(&answer), 200, "{answer}");
    // At the service's own port, a body sent with a GET is refused before its handler.
    let direct = reqwest::Client::new()
        .get(format!("{}/notifications", marketing.url))
        .bearer_auth(&token)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status().as_u16(), 400);
}

/// A sign-in token asked for with a body that stops after its first bytes.
fn stalled_token_request() -> &'static str {
    "POST /auth/dev/token HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
     Content-Length: 100\r\n\r\n{\"role\""
}

/// Opens a stalled public upload every 250 ms for `seconds`, checking between two that the same
/// route and another one are still served; returns the stalled connections.
async fn flood(gateway: &str, seconds: u64) -> Vec<tokio::net::TcpStream> {
    let anyone = Http::default();
    let token = serde_json::json!({"role": "customer", "id": 1});
    let (same_route, other_route) = (format!("{gateway}/auth/dev/token"), format!("{gateway}/"));
    let mut stalled = Vec::new();
    for _ in 0..seconds * 4 {
        stalled.push(stall(gateway, stalled_token_request()).await);
        let same = anyone.post(&same_route, token.clone());
        let (same, other) = tokio::join!(same, anyone.get(&other_route));
        assert_eq!(same.0, 200, "the same route is served: {}", same.1);
        assert_eq!(other.0, 200, "another route is served: {}", other.1);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    stalled
}

/// One address stalls an upload on a public route four times a second for eight seconds, twice
/// the in-flight bound in all: each is cut off with `408` in 2 s, so the gateway always has room
/// and the same route and another one are served throughout (with the old 30 s, the bound was
/// full after four seconds).
#[tokio::test]
async fn stalled_public_uploads_cannot_fill_the_gateway() {
    let env = TestEnv::new().await;
    let settings = with_dev_issuer(limited(settings(&env, NOWHERE), 100, 100, 16), &[SHOP]);
    let gateway = Running::start(gateway::build(settings)).await;
    for stream in flood(&gateway.url, 8).await {
        let (answer, _) = until_closed(stream).await;
        assert_eq!(status_of(&answer), 408, "{answer}");
        assert!(answer.contains("\"error\":\"request_timeout\""), "{answer}");
        let deadline = gateway::bodies::PUBLIC_BODY_TIMEOUT.as_secs();
        assert!(answer.contains(&format!("within {deadline} s")), "{answer}");
    }
}

/// The framing headers of `url`'s answer (after redirects): its CSP and `X-Frame-Options`.
async fn framing_of(url: &str) -> (u16, String, String) {
    let response = reqwest::get(url).await.unwrap();
    let header = |name: &str| {
        let value = response.headers().get(name);
        value.map_or("", |v| v.to_str().unwrap()).to_owned()
    };
    let policy = header("content-security-policy");
    let frame_options = header("x-frame-options");
    (response.status().as_u16(), policy, frame_options)
}

/// The dev issuer's sign-in link for `client_id` sending its code to `redirect_uri`.
fn authorize_link(gateway: &str, client_id: &str, redirect_uri: &str) -> String {
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let redirect_uri: String = url_encode(redirect_uri);
    format!(
        "{gateway}/auth/dev/authorize?response_type=code&client_id={client_id}\
         &redirect_uri={redirect_uri}&state=s&code_challenge={challenge}&code_challenge_method=S256"
    )
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every kind of page the gateway serves, and a refusal page, may be framed by no one.
#[tokio::test]
async fn no_page_can_be_framed() {
    let env = TestEnv::new().await;
    let settings = with_dev_issuer(settings(&env, NOWHERE), &[SHOP]);
    let gateway = Running::start(gateway::build(settings)).await;
    let g = &gateway.url;
    for (page, status) in [
        (format!("{g}/"), 200),
        (format!("{g}/docs/"), 200),
        (format!("{g}/docs/swagger-ui.css"), 200),
        (authorize_link(g, "storefront", SHOP), 200),
        (authorize_link(g, "intruder", SHOP), 400),
    ] {
        let (answered, policy, frame_options) = framing_of(&page).await;
        assert_eq!(answered, status, "{page}");
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{page}: {policy}"
        );
        assert_eq!(frame_options, "DENY", "{page}");
    }
}

/// The gateway's `/metrics` is on its own port (which only Prometheus reaches in a cluster):
/// the public port answers `404` there, and the metrics port serves nothing else.
#[tokio::test]
async fn metrics_are_served_on_their_own_port_only() {
    let env = TestEnv::new().await;
    let gateway = Running::start(gateway::build(settings(&env, NOWHERE))).await;
    assert_ne!(gateway.metrics_url, gateway.url);
    let anyone = Http::default();
    let public = anyone.get(&format!("{}/metrics", gateway.url)).await;
    assert_error(&public, 404, "not_found");
    let (status, metrics) = anyone
        .get(&format!("{}/metrics", gateway.metrics_url))
        .await;
    assert_eq!(status, 200);
    assert!(metrics.as_str().unwrap().contains("http_requests_total"));
    let elsewhere = anyone
        .get(&format!("{}/products", gateway.metrics_url))
        .await;
    assert_error(&elsewhere, 404, "not_found");
    let health = anyone.get(&format!("{}/health/ready", gateway.url)).await;
    assert_eq!(health.0, 200, "the probes stay on the public port");
}

/// The sign-in form's answer to `fields` posted as the browser would (`as=customer:42`): the
/// status and where it redirects to.
async fn sign_in(gateway: &str, client_id: &str, redirect_uri: &str) -> (u16, Option<String>) {
    let link = authorize_link(gateway, client_id, redirect_uri);
    let (_, query) = link.split_once('?').unwrap();
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = no_redirects
        .post(format!("{gateway}/auth/dev/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("{query}&as=customer%3A42"))
        .send()
        .await
        .unwrap();
    let location = response.headers().get("location");
    let location = location.map(|l| l.to_str().unwrap().to_owned());
    (response.status().as_u16(), location)
}

/// The dev issuer serves its registered client only, and sends a code back only to one of its
/// registered redirect URIs, exactly: not to another path of that site, nor to the site the
/// request's `Host` names (the gateway itself). A refusal is never a redirect.
#[tokio::test]
async fn the_dev_issuer_serves_only_its_registered_client_and_redirects() {
    let env = TestEnv::new().await;
    let settings = with_dev_issuer(settings(&env, NOWHERE), &[SHOP]);
    let gateway = Running::start(gateway::build(settings)).await;
    let g = &gateway.url;
    let (status, location) = sign_in(g, "storefront", SHOP).await;
    assert_eq!(status, 303);
    assert!(location.unwrap().starts_with("http://shop.example/?code="));
    let own_site = format!("{g}/");
    for (client, redirect) in [
        ("intruder", SHOP),
        ("storefront", "http://shop.example/elsewhere"),
        ("storefront", "http://shop.example"),
        ("storefront", own_site.as_str()),
        ("storefront", "http://evil.example/"),
    ] {
        let (status, location) = sign_in(g, client, redirect).await;
        assert_eq!((status, location), (400, None), "{client} {redirect}");
        let (status, ..) = framing_of(&authorize_link(g, client, redirect)).await;
        assert_eq!(status, 400, "the form itself: {client} {redirect}");
    }
}
