//! The tokens of a test: a real dev issuer served on a free port, and tokens that must be refused.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use platform::Role;
use platform::auth::AuthSettings;
use platform::auth::dev::{self, DevIssuer, DevIssuerSettings};
use serde_json::{Value, json};

/// The names services of a test (and of the launcher's stacks) present as dev clients.
const CLIENTS: [&str; 7] = [
    "product",
    "order",
    "payment",
    "delivery",
    "marketing",
    "sellerpage",
    "test",
];

/// Serves a fresh dev issuer on a free port for as long as the test's runtime lives.
pub(crate) async fn serve_issuer() -> (DevIssuer, String, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port for the issuer");
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let secret = dev::random_secret();
    let settings = DevIssuerSettings {
        enabled: true,
        redirect_uris: Vec::new(),
        key_file: Default::default(),
        token_ttl: Duration::from_secs(3600),
        clients: CLIENTS
            .iter()
            .map(|client| ((*client).to_owned(), secret.clone()))
            .collect(),
    };
    let issuer =
        DevIssuer::ephemeral(&settings, &AuthSettings::for_dev_issuer(&url)).expect("a dev issuer");
    let routes = issuer.routes();
    tokio::spawn(async move { axum::serve(listener, routes).await });
    (issuer, url, secret)
}

/// Tokens that must prove nothing to a verifier of `auth`, each named by what is wrong with it:
/// a flipped signature, another key, `alg: none`, expired, not valid for another hour (`nbf`),
/// another issuer, another audience. `issuer` is the genuine one (its key signs the last four,
/// so only the claim is wrong).
pub fn forged_tokens(issuer: &DevIssuer, auth: &AuthSettings) -> Vec<(&'static str, String)> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let claims = |iss: &str, aud: &str, exp: u64| {
        json!({"iss": iss, "aud": aud, "sub": "customer:42", "role": "customer", "id": 42,
               "iat": now, "exp": exp})
    };
    let good = issuer.token(Role::Customer, 42);
    let (signed, signature) = good.rsplit_once('.').expect("a JWT has three parts");
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let bad_signature = format!("{signed}.{flipped}{}", &signature[1..]);
    let settings = DevIssuerSettings {
        enabled: true,
        redirect_uris: Vec::new(),
        key_file: Default::default(),
        token_ttl: Duration::from_secs(600),
        clients: Default::default(),
    };
    let impostor = DevIssuer::ephemeral(&settings, auth).expect("a dev issuer");
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).expect("JSON"));
    let unsigned = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims(&auth.issuer, &auth.audience, now + 600))
    );
    vec![
        ("bad signature", bad_signature),
        ("another key", impostor.token(Role::Customer, 42)),
        ("alg none", unsigned),
        (
            "expired",
            issuer.sign(&claims(&auth.issuer, &auth.audience, now - 3600)),
        ),
        (
            "not yet valid",
            issuer.sign(&not_before(
                claims(&auth.issuer, &auth.audience, now + 7200),
                now + 3600,
            )),
        ),
        (
            "wrong issuer",
            issuer.sign(&claims(
                "https://elsewhere.example",
                &auth.audience,
                now + 600,
            )),
        ),
        (
            "wrong audience",
            issuer.sign(&claims(&auth.issuer, "someone-else", now + 600)),
        ),
    ]
}

/// `claims` with `nbf` (seconds since the epoch): not valid before then.
fn not_before(mut claims: Value, nbf: u64) -> Value {
    claims["nbf"] = json!(nbf);
    claims
}
