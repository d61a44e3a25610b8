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
//! A redirect must go back to the host that showed the form (the gateway's own origin), so the
//! form cannot be used to send a code to another site.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{DevIssuer, PersonRole};

/// How long a code may wait for its exchange.
pub const CODE_TTL: Duration = Duration::from_secs(60);
/// Codes waiting at once; more is abuse, refused until some expire.
const MAX_WAITING_CODES: usize = 10_000;

/// The people the sign-in form offers with one click (the README's scenario uses them).
const DEMO_PEOPLE: [(&str, PersonRole, i64); 4] = [
    ("Alice", PersonRole::Customer, 42),
    ("Bob", PersonRole::Customer, 43),
    ("Seoul Kitchen", PersonRole::Seller, 7),
    ("Busan Table", PersonRole::Seller, 8),
];

/// Codes handed out and not yet exchanged.
#[derive(Default)]
pub(super) struct Codes(Mutex<HashMap<String, Grant>>);

struct Grant {
    role: PersonRole,
    id: i64,
    request: AuthorizeRequest,
    expires: Instant,
}

/// What the browser asks for, both on the form's `GET` and (as hidden fields) on its `POST`.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct AuthorizeRequest {
    response_type: String,
    client_id: String,
    redirect_uri: String,
    #[serde(default)]
    state: String,
    code_challenge: String,
    code_challenge_method: String,
}

/// The form's answer: the request again, and who to be: `as` (`customer:42`, a demo person's
/// button) or `role` and `id`.
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
    fn issue(&self, role: PersonRole, id: i64, request: AuthorizeRequest) -> Option<String> {
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
                role,
                id,
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
    ) -> Result<(PersonRole, i64), Refusal> {
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
            Ok((grant.role, grant.id))
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
    /// Whether this is a request the issuer serves, for a page shown on `host`.
    fn check(&self, host: Option<&str>) -> Result<(), String> {
        if self.response_type != "code" {
            return Err("only response_type=code is supported".into());
        }
        if self.client_id.trim().is_empty() {
            return Err("client_id is missing".into());
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
        let uri: Uri = self
            .redirect_uri
            .parse()
            .map_err(|_| "redirect_uri is not a URL".to_owned())?;
        let same_host = matches!(uri.scheme_str(), Some("http" | "https"))
            && uri.authority().map(|a| a.as_str()) == host;
        if !same_host {
            return Err("redirect_uri must lead back to this site".into());
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

fn host_of(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::HOST).and_then(|h| h.to_str().ok())
}

pub(super) async fn form(
    headers: HeaderMap,
    query: Result<Query<AuthorizeRequest>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let request = match query {
        Ok(Query(request)) => request,
        Err(err) => return refused(&format!("the sign-in link is incomplete: {err}")),
    };
    if let Err(reason) = request.check(host_of(&headers)) {
        return refused(&reason);
    }
    page(StatusCode::OK, &request, None)
}

pub(super) async fn sign_in(
    State(issuer): State<DevIssuer>,
    headers: HeaderMap,
    form: Result<Form<SignIn>, FormRejection>,
) -> Response {
    let Ok(Form(sign_in)) = form else {
        return refused("the sign-in form was incomplete; start again from the shop");
    };
    let request = sign_in.request;
    if let Err(reason) = request.check(host_of(&headers)) {
        return refused(&reason);
    }
    let chosen = match sign_in.demo {
        Some(demo) => demo
            .split_once(':')
            .map(|(role, id)| (role.to_owned(), id.to_owned())),
        None => sign_in.role.zip(sign_in.id),
    };
    let person = chosen.and_then(|(role, id)| {
        let role = PersonRole::parse(&role)?;
        let id = id.trim().parse::<i64>().ok().filter(|id| *id >= 1)?;
        Some((role, id))
    });
    let Some((role, id)) = person else {
        let message = "Choose a role and type a positive whole number as your id.";
        return page(StatusCode::UNPROCESSABLE_ENTITY, &request, Some(message));
    };
    match issuer.0.codes.issue(role, id, request.clone()) {
        Some(code) => {
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

fn refused(reason: &str) -> Response {
    let body = format!(
        "<h1>This sign-in link cannot be used</h1><p>{}.</p><p><a href=\"/\">Back to the shop</a></p>",
        escape(reason)
    );
    (StatusCode::BAD_REQUEST, Html(document(&body))).into_response()
}

fn page(status: StatusCode, request: &AuthorizeRequest, error: Option<&str>) -> Response {
    let hidden: String = [
        ("response_type", &request.response_type),
        ("client_id", &request.client_id),
        ("redirect_uri", &request.redirect_uri),
        ("state", &request.state),
        ("code_challenge", &request.code_challenge),
        ("code_challenge_method", &request.code_challenge_method),
    ]
    .iter()
    .map(|(name, value)| {
        format!(
            "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
            escape(value)
        )
    })
    .collect();
    let demos: String = DEMO_PEOPLE
        .iter()
        .map(|(name, role, id)| {
            format!("<button type=\"submit\" name=\"as\" value=\"{role}:{id}\">{name} ({role} {id})</button>")
        })
        .collect();
    let roles: String = [
        PersonRole::Customer,
        PersonRole::Seller,
        PersonRole::Courier,
        PersonRole::Admin,
    ]
    .iter()
    .map(|role| {
        let checked = if *role == PersonRole::Customer {
            " checked"
        } else {
            ""
        };
        format!(
            "<label><input type=\"radio\" name=\"role\" value=\"{role}\"{checked}> {role}</label>"
        )
    })
    .collect();
    let error = error
        .map(|message| format!("<p role=\"alert\" class=\"error\">{}</p>", escape(message)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Sign in to the meal-kit shop</h1>\
         <p>This is the local dev issuer: anyone may be anyone, no password. A real deployment \
         signs in with its OIDC issuer instead.</p>{error}\
         <form method=\"post\" action=\"/auth/dev/authorize\">{hidden}\
         <h2>Demo people</h2><div class=\"demos\">{demos}</div></form>\
         <form method=\"post\" action=\"/auth/dev/authorize\">{hidden}\
         <h2>Or anyone</h2><fieldset><legend>Role</legend>{roles}</fieldset>\
         <label for=\"id\">Id (a positive whole number)</label>\
         <input id=\"id\" name=\"id\" type=\"number\" min=\"1\" step=\"1\" value=\"1\" required>\
         <button type=\"submit\">Sign in</button></form>"
    );
    (status, Html(document(&body))).into_response()
}

fn document(body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Sign in · Meal-kit shop</title><style>{STYLE}</style></head>\
         <body><main>{body}</main></body></html>"
    )
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;background:#f6f4ef;color:#1d1d1b}\
main{max-width:32rem;margin:2rem auto;padding:1rem 1.25rem;background:#fff;border-radius:8px}\
button{font:inherit;padding:.6rem 1rem;margin:.25rem .25rem .25rem 0;border:0;border-radius:6px;background:#2f6b3a;color:#fff;cursor:pointer}\
button:focus-visible,input:focus-visible{outline:3px solid #e0a100;outline-offset:2px}\
fieldset{border:1px solid #ccc;border-radius:6px;margin:0 0 1rem}\
fieldset label{display:inline-block;margin-right:1rem}\
label[for]{display:block;margin:.5rem 0 .25rem}input[type=number]{font:inherit;padding:.5rem;width:10rem}\
.error{background:#fde8e8;color:#8a1c1c;padding:.5rem .75rem;border-radius:6px}";

/// Escapes text for HTML content and double-quoted attributes.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
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

    #[test]
    fn a_code_is_good_once_and_only_with_its_verifier_client_and_redirect() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let codes = Codes::default();
        let req = request(&challenge_of(verifier));
        let redeem = |code: &str, client: &str, uri: &str, verifier: &str| {
            codes.redeem(code, client, uri, verifier)
        };
        let code = codes.issue(PersonRole::Seller, 7, req.clone()).unwrap();
        assert_eq!(
            redeem(&code, "storefront", "http://127.0.0.1:8080/", verifier),
            Ok((PersonRole::Seller, 7))
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
            let code = codes.issue(PersonRole::Seller, 7, req.clone()).unwrap();
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
    fn requests_are_checked_and_redirects_stay_on_this_site() {
        let challenge = challenge_of("v");
        let good = request(&challenge);
        assert_eq!(good.check(Some("127.0.0.1:8080")), Ok(()));
        assert!(good.check(Some("shop.example")).is_err());
        let mut plain = good.clone();
        plain.code_challenge_method = "plain".into();
        assert!(plain.check(Some("127.0.0.1:8080")).is_err());
        let mut short = good.clone();
        short.code_challenge = "abc".into();
        assert!(short.check(Some("127.0.0.1:8080")).is_err());
        let mut script = good.clone();
        script.redirect_uri = "javascript:alert(1)".into();
        assert!(script.check(Some("127.0.0.1:8080")).is_err());
        assert_eq!(
            good.redirect_with("c0de"),
            "http://127.0.0.1:8080/?code=c0de&state=s%20t%26ate"
        );
        assert_eq!(
            escape("\"><script>"),
            "&quot;&gt;&lt;script&gt;",
            "echoed values cannot leave their attribute"
        );
    }
}
