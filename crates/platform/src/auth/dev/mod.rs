//! The dev issuer: tokens for anyone who asks, for the local stack, Compose and the tests.
//!
//! - `POST /auth/dev/token {"role": "customer"|"seller"|"courier"|"admin", "id": <positive int>}`
//!   → `200 {"accessToken", "tokenType": "Bearer", "expiresIn"}`;
//! - `POST /auth/dev/oauth2/token`: the client-credentials grant for our services (the service
//!   role is never handed out by the first endpoint; a service proves itself with its secret),
//!   and the authorization-code grant with PKCE for browsers ([`token`]);
//! - `GET|POST /auth/dev/authorize`: the browser's sign-in form ([`login`]);
//! - `GET /.well-known/jwks.json`: the public key, which every verifier fetches.
//!
//! A token says who it is for in the `role` and `id` claims. The demo people the sign-in form
//! offers (Alice, customer 42, ...) also get OIDC's `name` claim when they are picked there; a
//! role and id typed by hand, or asked of `/auth/dev/token`, get none, even an id a demo person
//! has: the name belongs to the person picked, not to the number.
//!
//! Tokens are Ed25519-signed (`EdDSA`) with a key generated on first use into a file of the
//! stack's data folder (never committed, readable by its owner only) and kept across restarts,
//! so tokens stay valid while the stack is restarted.

mod form_page;
mod login;
mod token;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{AuthSettings, Role};
use crate::settings::{self, SettingsError};
use crate::{ApiError, Json};

#[derive(Debug, Clone)]
pub struct DevIssuerSettings {
    /// `AUTH_DEV_ISSUER`: serve the dev issuer (`false` by default; never set on AKS).
    pub enabled: bool,
    /// `AUTH_DEV_KEY_FILE`: the signing key (PKCS#8 DER), created if missing.
    pub key_file: PathBuf,
    /// `AUTH_DEV_TOKEN_TTL_SECS`: how long a token is valid.
    pub token_ttl: Duration,
    /// `AUTH_DEV_CLIENTS`: `id:secret,...`, the services that may have the service role.
    pub clients: HashMap<String, String>,
    /// `AUTH_DEV_REDIRECT_URIS`: the exact addresses the browser sign-in may send a code back
    /// to, those of the storefront ([`BROWSER_CLIENT`]): its page, `<origin>/`.
    pub redirect_uris: Vec<String>,
}

/// The one client the browser sign-in serves: the storefront (`STOREFRONT_CLIENT_ID`'s
/// default). Swagger UI at `/docs` signs in with a pasted token ("Authorize"), not through the
/// issuer, and the services use client credentials ([`DevIssuerSettings::clients`]).
pub const BROWSER_CLIENT: &str = "storefront";
/// `AUTH_DEV_REDIRECT_URIS`' default: the local stack's storefront, by either loopback name.
pub const DEFAULT_REDIRECT_URIS: &str = "http://127.0.0.1:8080/,http://localhost:8080/";

impl DevIssuerSettings {
    pub fn from_env() -> Result<Self, SettingsError> {
        let clients = settings::string("AUTH_DEV_CLIENTS", "");
        let redirect_uris = settings::string("AUTH_DEV_REDIRECT_URIS", DEFAULT_REDIRECT_URIS);
        Ok(Self {
            enabled: settings::var("AUTH_DEV_ISSUER", false)?,
            key_file: settings::string("AUTH_DEV_KEY_FILE", "dev-issuer.key").into(),
            token_ttl: Duration::from_secs(settings::var("AUTH_DEV_TOKEN_TTL_SECS", 3600)?),
            clients: parse_clients(&clients).map_err(|reason| SettingsError {
                name: "AUTH_DEV_CLIENTS".into(),
                value: "(hidden)".into(),
                reason,
            })?,
            redirect_uris: parse_redirect_uris(&redirect_uris).map_err(|reason| SettingsError {
                name: "AUTH_DEV_REDIRECT_URIS".into(),
                value: redirect_uris.clone(),
                reason,
            })?,
        })
    }
}

/// A comma-separated list of absolute `http(s)` URLs, compared exactly when used.
fn parse_redirect_uris(text: &str) -> Result<Vec<String>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|uri| !uri.is_empty())
        .map(|uri| {
            let parsed: axum::http::Uri = uri.parse().map_err(|_| format!("{uri:?} is no URL"))?;
            match (parsed.scheme_str(), parsed.authority()) {
                (Some("http" | "https"), Some(_)) => Ok(uri.to_owned()),
                _ => Err(format!("{uri:?} is not an absolute http(s) URL")),
            }
        })
        .collect()
}

fn parse_clients(text: &str) -> Result<HashMap<String, String>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once(':') {
            Some((id, secret)) if !id.is_empty() && secret.len() >= 16 => {
                Ok((id.to_owned(), secret.to_owned()))
            }
            _ => Err("each client is `id:secret`, the secret at least 16 characters".into()),
        })
        .collect()
}

/// A random secret of 32 hex digits (128 bits), for a dev client.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS has randomness");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Signs tokens for the dev issuer's endpoints and for tests.
#[derive(Clone)]
pub struct DevIssuer(Arc<Inner>);

struct Inner {
    key: EncodingKey,
    kid: String,
    jwks: JwkSet,
    issuer: String,
    audience: String,
    ttl: Duration,
    clients: HashMap<String, String>,
    redirect_uris: Vec<String>,
    codes: login::Codes,
}

impl DevIssuer {
    /// The issuer whose key is in `settings.key_file` (created if missing), issuing tokens
    /// `auth` accepts.
    pub fn load_or_create(
        settings: &DevIssuerSettings,
        auth: &AuthSettings,
    ) -> anyhow::Result<Self> {
        let signing = load_or_create_key(&settings.key_file)?;
        Self::new(signing, settings, auth)
    }

    /// An issuer with a fresh key held in memory only (tests).
    pub fn ephemeral(settings: &DevIssuerSettings, auth: &AuthSettings) -> anyhow::Result<Self> {
        Self::new(generate_key(), settings, auth)
    }

    fn new(
        signing: SigningKey,
        settings: &DevIssuerSettings,
        auth: &AuthSettings,
    ) -> anyhow::Result<Self> {
        let der = signing.to_pkcs8_der()?;
        let key = EncodingKey::from_ed_der(der.as_bytes());
        let public = DecodingKey::from_ed_der(signing.verifying_key().as_bytes());
        let mut jwk = Jwk::from_decoding_key(&public, Some(Algorithm::EdDSA))?;
        // The key's id: its RFC 7638 thumbprint, so a new key is a new id.
        let kid = jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk.common.key_algorithm = Some(KeyAlgorithm::EdDSA);
        Ok(Self(Arc::new(Inner {
            key,
            kid,
            jwks: JwkSet { keys: vec![jwk] },
            issuer: auth.issuer.clone(),
            audience: auth.audience.clone(),
            ttl: settings.token_ttl,
            clients: settings.clients.clone(),
            redirect_uris: settings.redirect_uris.clone(),
            codes: login::Codes::default(),
        })))
    }

    /// A token for `role` and `id`, valid for the configured time.
    pub fn token(&self, role: Role, id: i64) -> String {
        self.issue(format!("{role}:{id}"), role, Some(id), None)
    }

    /// A token for someone signed in through the browser form, with their name if they have one.
    fn person_token(&self, person: &Person) -> String {
        let role = Role::from(person.role);
        let subject = format!("{role}:{}", person.id);
        self.issue(subject, role, Some(person.id), person.name)
    }

    /// A token of the service role for `client_id` (what the client-credentials grant hands out).
    pub fn service_token(&self, client_id: &str) -> String {
        self.issue(format!("service:{client_id}"), Role::Service, None, None)
    }

    fn issue(&self, subject: String, role: Role, id: Option<i64>, name: Option<&str>) -> String {
        let now = jsonwebtoken::get_current_timestamp();
        let mut claims = json!({
            "iss": self.0.issuer,
            "aud": self.0.audience,
            "sub": subject,
            "role": role,
            "iat": now,
            "exp": now + self.0.ttl.as_secs(),
        });
        if let Some(id) = id {
            claims["id"] = json!(id);
        }
        if let Some(name) = name {
            claims["name"] = json!(name);
        }
        self.sign(&claims)
    }

    /// Signs arbitrary claims with the issuer's own key (tests of expired tokens, other
    /// issuers and audiences).
    pub fn sign(&self, claims: &serde_json::Value) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.0.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.0.key).expect("Ed25519 signing cannot fail")
    }

    pub fn jwks(&self) -> &JwkSet {
        &self.0.jwks
    }

    /// The issuer's endpoints.
    pub fn routes(&self) -> Router {
        Router::new()
            .route("/auth/dev/token", post(person_token))
            .route("/auth/dev/oauth2/token", post(token::grant))
            .route("/auth/dev/authorize", get(login::form).post(login::sign_in))
            .route("/.well-known/jwks.json", get(jwks))
            .with_state(self.clone())
    }
}

fn generate_key() -> SigningKey {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).expect("the OS has randomness");
    SigningKey::from_bytes(&seed)
}

fn load_or_create_key(path: &Path) -> anyhow::Result<SigningKey> {
    match std::fs::read(path) {
        Ok(der) => SigningKey::from_pkcs8_der(&der)
            .map_err(|e| anyhow::anyhow!("{} is not an Ed25519 PKCS#8 key: {e}", path.display())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let key = generate_key();
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            write_private(path, key.to_pkcs8_der()?.as_bytes())?;
            tracing::info!(file = %path.display(), "generated the dev issuer's signing key");
            Ok(key)
        }
        Err(err) => Err(anyhow::anyhow!("reading {}: {err}", path.display())),
    }
}

/// Writes a new file only its owner can read; an existing one (another process won the race)
/// is kept and read back by the caller's next start.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

contracts::labels! {
    /// The roles the dev issuer hands to anyone (never the service role).
    pub enum PersonRole {
        Customer = "customer",
        Seller = "seller",
        Courier = "courier",
        Admin = "admin",
    }
}

/// Someone the browser sign-in vouches for: `name` only for a demo person picked on the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Person {
    role: PersonRole,
    id: i64,
    name: Option<&'static str>,
}

impl From<PersonRole> for Role {
    fn from(role: PersonRole) -> Self {
        match role {
            PersonRole::Customer => Role::Customer,
            PersonRole::Seller => Role::Seller,
            PersonRole::Courier => Role::Courier,
            PersonRole::Admin => Role::Admin,
        }
    }
}

#[derive(Deserialize)]
struct TokenRequest {
    role: PersonRole,
    id: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TokenAnswer {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
}

async fn person_token(
    State(issuer): State<DevIssuer>,
    Json(request): Json<TokenRequest>,
) -> Result<axum::Json<TokenAnswer>, ApiError> {
    if request.id < 1 {
        return Err(ApiError::invalid("`id` must be a positive integer"));
    }
    tracing::info!(role = %request.role, id = request.id, "dev token issued");
    Ok(axum::Json(TokenAnswer {
        access_token: issuer.token(request.role.into(), request.id),
        token_type: "Bearer",
        expires_in: issuer.0.ttl.as_secs(),
    }))
}

async fn jwks(State(issuer): State<DevIssuer>) -> axum::Json<JwkSet> {
    axum::Json(issuer.0.jwks.clone())
}

#[cfg(test)]
mod tests {
    use super::super::DEV_AUDIENCE;
    use super::*;

    #[test]
    fn clients_parse_and_refuse_short_secrets() {
        let clients = parse_clients("order:0123456789abcdef, x:fedcba9876543210").unwrap();
        assert_eq!(clients["order"], "0123456789abcdef");
        assert!(parse_clients("order:short").is_err());
        assert!(parse_clients("").unwrap().is_empty());
    }

    #[test]
    fn redirect_uris_are_absolute_http_urls() {
        let uris = parse_redirect_uris(DEFAULT_REDIRECT_URIS).unwrap();
        assert_eq!(uris, ["http://127.0.0.1:8080/", "http://localhost:8080/"]);
        for bad in ["/", "javascript:alert(1)", "ftp://host/", "http://a b/"] {
            assert!(parse_redirect_uris(bad).is_err(), "{bad}");
        }
    }

    /// An issuer with a key of its own, for a gateway at `127.0.0.1:9`.
    pub(super) fn issuer_at_port_9() -> DevIssuer {
        let settings = DevIssuerSettings {
            enabled: true,
            key_file: Default::default(),
            token_ttl: Duration::from_secs(60),
            clients: HashMap::new(),
            redirect_uris: vec!["http://127.0.0.1:9/".into()],
        };
        DevIssuer::ephemeral(
            &settings,
            &AuthSettings::for_dev_issuer("http://127.0.0.1:9"),
        )
        .unwrap()
    }

    /// The claims of `token`, verified against `issuer`'s published key.
    fn claims_of(
        issuer: &DevIssuer,
        token: &str,
    ) -> Result<serde_json::Value, jsonwebtoken::errors::Error> {
        let key = DecodingKey::from_jwk(&issuer.jwks().keys[0])?;
        let mut validation = jsonwebtoken::Validation::new(Algorithm::EdDSA);
        validation.set_audience(&[DEV_AUDIENCE]);
        Ok(jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)?.claims)
    }

    /// The role and id of `token`, verified against `issuer`'s published key.
    pub(super) fn role_and_id(
        issuer: &DevIssuer,
        token: &str,
    ) -> Result<(Option<String>, Option<i64>), jsonwebtoken::errors::Error> {
        let claims = claims_of(issuer, token)?;
        Ok((
            claims["role"].as_str().map(str::to_owned),
            claims["id"].as_i64(),
        ))
    }

    /// The `name` claim of `token`, verified against `issuer`'s published key.
    pub(super) fn name_of(issuer: &DevIssuer, token: &str) -> Option<String> {
        claims_of(issuer, token).unwrap()["name"]
            .as_str()
            .map(str::to_owned)
    }

    #[test]
    fn a_demo_persons_token_carries_their_name_and_a_typed_ids_does_not() {
        let issuer = issuer_at_port_9();
        let alice = Person {
            role: PersonRole::Customer,
            id: 42,
            name: Some("Alice"),
        };
        let token = issuer.person_token(&alice);
        assert_eq!(
            role_and_id(&issuer, &token),
            Ok((Some("customer".into()), Some(42)))
        );
        assert_eq!(name_of(&issuer, &token).as_deref(), Some("Alice"));
        let typed = issuer.person_token(&Person {
            name: None,
            ..alice
        });
        assert_eq!(name_of(&issuer, &typed), None);
        assert_eq!(name_of(&issuer, &issuer.token(Role::Customer, 42)), None);
    }

    #[tokio::test]
    async fn its_tokens_verify_against_its_published_key_and_others_do_not() {
        let issuer = issuer_at_port_9();
        let token = issuer.token(Role::Seller, 7);
        assert_eq!(
            role_and_id(&issuer, &token),
            Ok((Some("seller".into()), Some(7)))
        );
        let other = issuer_at_port_9();
        let forged = other.token(Role::Seller, 7);
        assert!(role_and_id(&issuer, &forged).is_err());
        assert_ne!(
            other.jwks().keys[0].common.key_id,
            issuer.jwks().keys[0].common.key_id
        );
    }

    #[test]
    fn the_key_survives_a_restart() {
        let dir = std::env::temp_dir().join(format!("dev-issuer-{}", random_secret()));
        let file = dir.join("key");
        let first = load_or_create_key(&file).unwrap();
        let second = load_or_create_key(&file).unwrap();
        assert_eq!(first.to_bytes(), second.to_bytes());
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&file).unwrap().permissions(),
        );
        assert_eq!(mode & 0o077, 0, "the key is readable by its owner only");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
