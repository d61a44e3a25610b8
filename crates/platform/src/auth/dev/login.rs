//! The dev issuer's sign-in for browsers: the OAuth 2.0 authorization-code grant with PKCE
//! (RFC 6749 §4.1, RFC 7636 `S256`), the flow the storefront runs against Entra ID or Keycloak
//! too, so the local stack exercises the same code path as production.
//!
//! - `GET /auth/dev/authorize?response_type=code&client_id&redirect_uri&state&code_challenge&code_challenge_method=S256`
//!   shows a form where anyone picks who to be: a role and an id, or one of the demo people.
//!   There is no password, exactly as with every other dev token.
//! - `POST /auth/dev/authorize` answers `303` to `redirect_uri?code=…&state=…`. The code is
//!   good once, for [`CODE_TTL`], and only for that client, redirect and PKCE verifier.
//! - The token endpoint's `grant_type=authorization_code` exchanges it ([`Codes::redeem`]).
//!
//! The issuer serves only its registered client, the storefront ([`super::BROWSER_CLIENT`]),
//! and sends a code back only to one of its registered redirect URIs, compared exactly
//! (`AUTH_DEV_REDIRECT_URIS`), as any OIDC issuer does: not to another path of the same site,
//! nor to whatever host the request's `Host` header names. Anything else is refused on the
//! issuer's own page, never redirected (RFC 6749 §4.1.2.1), so the form cannot send a code
//! anywhere else.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::form_page::{demo_name, page, refused};
use super::{DevIssuer, Person, PersonRole};

/// How long a code may wait for its exchange.
pub const CODE_TTL: Duration = Duration::from_secs(60);
/// Codes waiting at once; more is abuse, refused until some expire.
const MAX_WAITING_CODES: usize = 10_000;

/// Codes handed out and not yet exchanged.
#[derive(Default)]
pub(super) struct Codes(Mutex<HashMap<String, Grant>>);

struct Grant {
    person: Person,
    request: AuthorizeRequest,
    expires: Instant,
}

/// What the browser asks for, both on the form's `GET` and (as hidden fields) on its `POST`.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct AuthorizeRequest {
    pub(super) response_type: String,
    pub(super) client_id: String,
    pub(super) redirect_uri: String,
    #[serde(default)]
    pub(super) state: String,
    pub(super) code_challenge: String,
    pub(super) code_challenge_method: String,
}

/// The form's answer: the request again, and who to be: `as` (`customer:42`, a demo person's
/// button) or `role` and `id` (typed by hand).
#[derive(Deserialize)]
pub(super) struct SignIn {
    #[serde(flatten)]
    request: AuthorizeRequest,
    #[serde(rename = "as")]
    demo: Option<String>,
    role: Option<String>,
    id: Option<String>,
}

/// Why a code cannot be exchanged, as RFC 6749 §5.2 names it.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Refusal {
    /// Unknown, used, expired, or for another client, redirect or verifier.
    InvalidGrant,
}

impl Codes {
    fn issue(&self, person: Person, request: AuthorizeRequest) -> Option<String> {
        let mut codes = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        codes.retain(|_, grant| grant.expires > now);
        if codes.len() >= MAX_WAITING_CODES {
            return None;
        }
        let code = super::random_secret();
        codes.insert(
            code.clone(),
            Grant {
                person,
                request,
                expires: now + CODE_TTL,
            },
        );
        Some(code)
    }

    /// The person a code was issued for, once: the code is gone after this call, whatever it
    /// answers, so a guessed verifier gets one try.
    pub(super) fn redeem(
        &self,
        code: &str,
        client_id: &str,
        redirect_uri: &str,
        verifier: &str,
    ) -> Result<Person, Refusal> {
        let grant = self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(code)
            .ok_or(Refusal::InvalidGrant)?;
        let matches = grant.expires > Instant::now()
            && grant.request.client_id == client_id
            && grant.request.redirect_uri == redirect_uri
            && challenge_of(verifier) == grant.request.code_challenge;
        if matches {
            Ok(grant.person)
        } else {
            Err(Refusal::InvalidGrant)
        }
    }
}

/// RFC 7636 `S256`: base64url(SHA-256(verifier)), unpadded.
fn challenge_of(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

impl AuthorizeRequest {
    /// Whether this is a request the issuer serves: its registered client, one of that client's
    /// `redirect_uris` exactly, a PKCE `S256` challenge.
    fn check(&self, redirect_uris: &[String]) -> Result<(), String> {
        if self.response_type != "code" {
            return Err("only response_type=code is supported".into());
        }
        if self.client_id != super::BROWSER_CLIENT {
            return Err("client_id names no client registered with this issuer".into());
        }
        if !redirect_uris.contains(&self.redirect_uri) {
            return Err("redirect_uri is not one registered for this client".into());
        }
        if self.code_challenge_method != "S256" {
            return Err("PKCE with code_challenge_method=S256 is required".into());
        }
        let challenge_ok = (43..=128).contains(&self.code_challenge.len())
            && self
                .code_challenge
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
        if !challenge_ok {
            return Err("code_challenge is not an RFC 7636 challenge".into());
        }
        Ok(())
    }

    fn redirect_with(&self, code: &str) -> String {
        let separator = if self.redirect_uri.contains('?') {
            '&'
        } else {
            '?'
        };
        format!(
            "{}{separator}code={code}&state={}",
            self.redirect_uri,
            percent_encode(&self.state)
        )
    }
}

pub(super) async fn form(
    State(issuer): State<DevIssuer>,
    query: Result<Query<AuthorizeRequest>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let request = match query {
        Ok(Query(request)) => request,
        Err(err) => return refused(&format!("the sign-in link is incomplete: {err}")),
    };
    if let Err(reason) = request.check(&issuer.0.redirect_uris) {
        return refused(&reason);
    }
    page(StatusCode::OK, &request, None)
}

pub(super) async fn sign_in(
    State(issuer): State<DevIssuer>,
    form: Result<Form<SignIn>, FormRejection>,
) -> Response {
    let Ok(Form(sign_in)) = form else {
        return refused("the sign-in form was incomplete; start again from the shop");
    };
    let person = person_of(&sign_in);
    let request = sign_in.request;
    if let Err(reason) = request.check(&issuer.0.redirect_uris) {
        return refused(&reason);
    }
    let Some(person) = person else {
        let message = "Choose a role and type a positive whole number as your id.";
        return page(StatusCode::UNPROCESSABLE_ENTITY, &request, Some(message));
    };
    match issuer.0.codes.issue(person, request.clone()) {
        Some(code) => {
            let (role, id) = (person.role, person.id);
            tracing::info!(%role, id, client = %request.client_id, "dev sign-in: code issued");
            Redirect::to(&request.redirect_with(&code)).into_response()
        }
        None => page(
            StatusCode::TOO_MANY_REQUESTS,
            &request,
            Some("Too many sign-ins are waiting; try again in a minute."),
        ),
    }
}

/// Who the form signs in: the demo person whose button was pressed, with their name, or the
/// role and id typed by hand, without one (even when a demo person has that id); `None` for
/// anything else. An `as` that names nobody in the demo list signs in with no name too.
fn person_of(sign_in: &SignIn) -> Option<Person> {
    let parse = |role: &str, id: &str| {
        let role = PersonRole::parse(role)?;
        let id = id.trim().parse::<i64>().ok().filter(|id| *id >= 1)?;
        Some((role, id))
    };
    match &sign_in.demo {
        Some(demo) => {
            let (role, id) = demo
                .split_once(':')
                .and_then(|(role, id)| parse(role, id))?;
            let name = demo_name(role, id);
            Some(Person { role, id, name })
        }
        None => {
            let (role, id) = parse(sign_in.role.as_deref()?, sign_in.id.as_deref()?)?;
            Some(Person {
                role,
                id,
                name: None,
            })
        }
    }
}

/// Percent-encodes all but RFC 3986's unreserved characters (the `state` echoed back).
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(challenge: &str) -> AuthorizeRequest {
        AuthorizeRequest {
            response_type: "code".into(),
            client_id: "storefront".into(),
            redirect_uri: "http://127.0.0.1:8080/".into(),
            state: "s t&ate".into(),
            code_challenge: challenge.into(),
            code_challenge_method: "S256".into(),
        }
    }

    #[test]
    fn the_rfc_7636_example_verifier_matches_its_challenge() {
        assert_eq!(
            challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[tokio::test]
    async fn a_demo_person_picked_has_a_name_and_one_typed_by_hand_has_none() {
        let alice = Person {
            role: PersonRole::Customer,
            id: 42,
            name: Some("Alice"),
        };
        let courier = Person {
            role: PersonRole::Courier,
            id: 5,
            name: None,
        };
        for (fields, person) in [
            ("as=customer%3A42", Some(alice)),
            (
                "role=customer&id=42",
                Some(Person {
                    name: None,
                    ..alice
                }),
            ),
            ("as=courier%3A5", Some(courier)),
            ("role=customer&id=0", None),
            ("as=service%3A1", None),
        ] {
            let body = format!(
                "response_type=code&client_id=storefront&redirect_uri=x&code_challenge=c\
                 &code_challenge_method=S256&{fields}"
            );
            assert_eq!(person_of(&form_of(&body).await), person, "{fields}");
        }
    }

    /// A form body as the sign-in handler reads it.
    async fn form_of(body: &str) -> SignIn {
        use axum::extract::FromRequest;
        let request = axum::http::Request::post("/")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(axum::body::Body::from(body.to_owned()))
            .unwrap();
        let Form(sign_in) = Form::<SignIn>::from_request(request, &()).await.unwrap();
        sign_in
    }

    #[test]
    fn a_code_is_good_once_and_only_with_its_verifier_client_and_redirect() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let codes = Codes::default();
        let req = request(&challenge_of(verifier));
        let redeem = |code: &str, client: &str, uri: &str, verifier: &str| {
            codes.redeem(code, client, uri, verifier)
        };
        let seller = Person {
            role: PersonRole::Seller,
            id: 7,
            name: Some("Seoul Kitchen"),
        };
        let code = codes.issue(seller, req.clone()).unwrap();
        assert_eq!(
            redeem(&code, "storefront", "http://127.0.0.1:8080/", verifier),
            Ok(seller)
        );
        assert_eq!(
            redeem(&code, "storefront", "http://127.0.0.1:8080/", verifier),
            Err(Refusal::InvalidGrant),
            "used once"
        );
        for (client, uri, verifier) in [
            ("storefront", "http://127.0.0.1:8080/", "another-verifier"),
            ("other", "http://127.0.0.1:8080/", verifier),
            ("storefront", "http://evil.example/", verifier),
        ] {
            let code = codes.issue(seller, req.clone()).unwrap();
            assert_eq!(
                redeem(&code, client, uri, verifier),
                Err(Refusal::InvalidGrant)
            );
            assert_eq!(
                redeem(
                    &code,
                    "storefront",
                    "http://127.0.0.1:8080/",
                    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
                ),
                Err(Refusal::InvalidGrant),
                "a failed exchange spends the code"
            );
        }
    }

    #[test]
    fn only_the_registered_client_and_its_exact_redirects_are_served() {
        let registered = ["http://127.0.0.1:8080/".to_owned()];
        let good = request(&challenge_of("v"));
        assert_eq!(good.check(&registered), Ok(()));
        let with = |change: fn(&mut AuthorizeRequest)| {
            let mut request = good.clone();
            change(&mut request);
            request.check(&registered)
        };
        assert!(with(|r| r.client_id = "other".into()).is_err());
        assert!(with(|r| r.redirect_uri = "http://127.0.0.1:8080/x".into()).is_err());
        assert!(with(|r| r.redirect_uri = "http://evil.example/".into()).is_err());
        assert!(with(|r| r.redirect_uri = "javascript:alert(1)".into()).is_err());
        assert!(with(|r| r.code_challenge_method = "plain".into()).is_err());
        assert!(with(|r| r.code_challenge = "abc".into()).is_err());
        assert_eq!(
            good.redirect_with("c0de"),
            "http://127.0.0.1:8080/?code=c0de&state=s%20t%26ate"
        );
    }
}
