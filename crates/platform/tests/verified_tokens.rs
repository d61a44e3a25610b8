//! A verifier remembers the tokens that passed, by their exact text: a forged token built from
//! a remembered one (its claims kept, its signature changed or dropped) is still refused, as
//! often as it is tried, and the remembered one still proves its caller.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use platform::Role;
use platform::auth::dev::{DevIssuer, DevIssuerSettings};
use platform::auth::{AuthSettings, Verifier};

#[tokio::test]
async fn a_remembered_token_vouches_for_no_forgery_of_it() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let auth = AuthSettings::for_dev_issuer(&url);
    let settings = DevIssuerSettings {
        enabled: true,
        redirect_uris: Vec::new(),
        key_file: Default::default(),
        token_ttl: Duration::from_secs(600),
        clients: Default::default(),
    };
    let issuer = DevIssuer::ephemeral(&settings, &auth).unwrap();
    let routes = issuer.routes();
    tokio::spawn(async move { axum::serve(listener, routes).await });
    let verifier = Verifier::new(auth).unwrap();

    let genuine = issuer.token(Role::Customer, 42);
    let (header_and_claims, signature) = genuine.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let bad_signature = format!("{header_and_claims}.{flipped}{}", &signature[1..]);
    let (_, claims) = header_and_claims.split_once('.').unwrap();
    let unsigned = format!(
        "{}.{claims}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#)
    );

    for round in 0..3 {
        let caller = verifier.verify(&genuine).await.unwrap();
        assert_eq!(
            (caller.role, caller.id),
            (Role::Customer, 42),
            "round {round}"
        );
        for forged in [&bad_signature, &unsigned, &format!("{genuine} ")] {
            assert!(
                verifier.verify(forged).await.is_err(),
                "round {round}: {forged} was taken"
            );
        }
    }
}
