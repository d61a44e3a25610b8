//! The dev issuer: tokens for anyone who asks, for the local stack, Compose and the tests.
//!
//! - `POST /auth/dev/token {"role": "customer"|"seller"|"courier"|"admin", "id": <positive int>}`
//!   → `200 {"accessToken", "tokenType": "Bearer", "expiresIn"}`;
//! - `POST /auth/dev/oauth2/token`: the client-credentials grant for our services (the service
//!   role is never handed out by the first endpoint; a service proves itself with its secret),
//!   and the authorization-code grant with PKCE for browsers;
//! - `GET|POST /auth/dev/authorize`: the browser's sign-in form ([`login`]);
//! - `GET /.well-known/jwks.json`: the public key, which every verifier fetches.
//!
//! Tokens are Ed25519-signed (`EdDSA`) with a key generated on first use into a file of the
//! stack's data folder (never committed, readable by its owner only) and kept across restarts,
//! so tokens stay valid while the stack is restarted.

mod login;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Form, Router};
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
}

impl DevIssuerSettings {
    pub fn from_env() -> Result<Self, SettingsError> {
        let clients = settings::string("AUTH_DEV_CLIENTS", "");
        Ok(Self {
            enabled: settings::var("AUTH_DEV_ISSUER", false)?,
            key_file: settings::string("AUTH_DEV_KEY_FILE", "dev-issuer.key").into(),
            token_ttl: Duration::from_secs(settings::var("AUTH_DEV_TOKEN_TTL_SECS", 3600)?),
            clients: parse_clients(&clients).map_err(|reason| SettingsError {
                name: "AUTH_DEV_CLIENTS".into(),
                value: "(hidden)".into(),
                reason,
            })?,
        })
    }
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
            codes: login::Codes::default(),
        })))
    }

    /// A token for `role` and `id`, valid for the configured time.
    pub fn token(&self, role: Role, id: i64) -> String {
        self.issue(format!("{role}:{id}"), role, Some(id))
    }

    /// A token of the service role for `client_id` (what the client-credentials grant hands out).
    pub fn service_token(&self, client_id: &str) -> String {
        self.issue(format!("service:{client_id}"), Role::Service, None)
    }

    fn issue(&self, subject: String, role: Role, id: Option<i64>) -> String {
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
            .route("/auth/dev/oauth2/token", post(oauth2_token))
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

/// A token request (RFC 6749 §4.1.3 and §4.4.2); which fields matter depends on the grant.
#[derive(Deserialize)]
struct GrantRequest {
    grant_type: String,
    client_id: String,
    client_secret: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
}

fn oauth2_error(status: StatusCode, code: &'static str, message: &str) -> ApiError {
    ApiError::new(status, code, message.to_owned())
}

async fn oauth2_token(
    State(issuer): State<DevIssuer>,
    form: Result<Form<GrantRequest>, FormRejection>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let Form(request) = form.map_err(|e| {
        oauth2_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("a form with grant_type and client_id is expected: {e}"),
        )
    })?;
    let (subject, role, id) = match request.grant_type.as_str() {
        "client_credentials" => {
            let client = client_of(&issuer, &request)?;
            (format!("service:{client}"), Role::Service, None)
        }
        "authorization_code" => {
            let (role, id) = person_of(&issuer, &request)?;
            let role = Role::from(role);
            (format!("{role}:{id}"), role, Some(id))
        }
        _ => {
            return Err(oauth2_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "the grants are client_credentials (services) and authorization_code (browsers)",
            ));
        }
    };
    Ok(axum::Json(json!({
        "access_token": issuer.issue(subject, role, id),
        "token_type": "Bearer",
        "expires_in": issuer.0.ttl.as_secs(),
    })))
}

/// The service a client-credentials request proves to be.
fn client_of<'r>(issuer: &DevIssuer, request: &'r GrantRequest) -> Result<&'r str, ApiError> {
    let known = issuer
        .0
        .clients
        .get(&request.client_id)
        .zip(request.client_secret.as_ref())
        .is_some_and(|(secret, given)| constant_time_eq(secret.as_bytes(), given.as_bytes()));
    if known {
        Ok(&request.client_id)
    } else {
        tracing::warn!(client = %request.client_id, "service token refused: unknown client or wrong secret");
        Err(oauth2_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client or wrong secret",
        ))
    }
}

/// The person an authorization code was issued for.
fn person_of(issuer: &DevIssuer, request: &GrantRequest) -> Result<(PersonRole, i64), ApiError> {
    let (Some(code), Some(redirect_uri), Some(verifier)) = (
        request.code.as_deref(),
        request.redirect_uri.as_deref(),
        request.code_verifier.as_deref(),
    ) else {
        return Err(oauth2_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "code, redirect_uri and code_verifier are required",
        ));
    };
    issuer
        .0
        .codes
        .redeem(code, &request.client_id, redirect_uri, verifier)
        .map_err(|login::Refusal::InvalidGrant| {
            oauth2_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "the code is unknown, used, expired, or for another client, redirect or verifier",
            )
        })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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

    /// An issuer with a key of its own, for a gateway at `127.0.0.1:9`.
    fn issuer_at_port_9() -> DevIssuer {
        let settings = DevIssuerSettings {
            enabled: true,
            key_file: Default::default(),
            token_ttl: Duration::from_secs(60),
            clients: HashMap::new(),
        };
        DevIssuer::ephemeral(
            &settings,
            &AuthSettings::for_dev_issuer("http://127.0.0.1:9"),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn its_tokens_verify_against_its_published_key_and_others_do_not() {
        let issuer = issuer_at_port_9();
        let jwk = &issuer.jwks().keys[0];
        let key = DecodingKey::from_jwk(jwk).unwrap();
        let mut validation = jsonwebtoken::Validation::new(Algorithm::EdDSA);
        validation.set_audience(&[DEV_AUDIENCE]);
        let token = issuer.token(Role::Seller, 7);
        let claims = jsonwebtoken::decode::<serde_json::Value>(&token, &key, &validation)
            .unwrap()
            .claims;
        assert_eq!(
            (claims["role"].as_str(), claims["id"].as_i64()),
            (Some("seller"), Some(7))
        );
        let other = issuer_at_port_9();
        let forged = other.token(Role::Seller, 7);
        assert!(jsonwebtoken::decode::<serde_json::Value>(&forged, &key, &validation).is_err());
        assert_ne!(other.jwks().keys[0].common.key_id, jwk.common.key_id);
    }

    /// The browser's sign-in, through the issuer's routes: the form, the redirect with a code,
    /// the exchange with the PKCE verifier, and the code refused a second time.
    #[tokio::test]
    async fn a_browser_signs_in_with_a_code_and_its_verifier() {
        use axum::body::Body;
        use axum::http::Request;
        use tower::ServiceExt;

        let issuer = issuer_at_port_9();
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let fields = "response_type=code&client_id=storefront&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2F\
                      &state=xyz&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM\
                      &code_challenge_method=S256";
        let call = |request: Request<Body>| async {
            let answer = issuer.routes().oneshot(request).await.unwrap();
            let status = answer.status();
            let location = answer
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_owned());
            let body = axum::body::to_bytes(answer.into_body(), 1 << 20)
                .await
                .unwrap();
            (status, location, String::from_utf8(body.to_vec()).unwrap())
        };
        let form = |method: &str, uri: &str, body: String| {
            Request::builder()
                .method(method)
                .uri(uri)
                .header("host", "127.0.0.1:9")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap()
        };

        let (status, _, page) = call(form(
            "GET",
            &format!("/auth/dev/authorize?{fields}"),
            String::new(),
        ))
        .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(page.contains("Alice (customer 42)") && page.contains("value=\"xyz\""));
        let (status, _, page) = call(form(
            "GET",
            &format!(
                "/auth/dev/authorize?{}",
                fields.replace("127.0.0.1%3A9", "evil.example")
            ),
            String::new(),
        ))
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");

        let (status, _, page) = call(form(
            "POST",
            "/auth/dev/authorize",
            format!("{fields}&role=seller&id=0"),
        ))
        .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "an id must be positive: {page}"
        );
        let (status, location, _) = call(form(
            "POST",
            "/auth/dev/authorize",
            format!("{fields}&as=seller%3A7"),
        ))
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let location = location.unwrap();
        let code = location
            .strip_prefix("http://127.0.0.1:9/?code=")
            .and_then(|rest| rest.strip_suffix("&state=xyz"))
            .unwrap_or_else(|| panic!("{location}"));

        let exchange = |verifier: &str| {
            form(
                "POST",
                "/auth/dev/oauth2/token",
                format!(
                    "grant_type=authorization_code&client_id=storefront&code={code}\
                     &redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2F&code_verifier={verifier}"
                ),
            )
        };
        let (status, _, body) = call(exchange(verifier)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let token = serde_json::from_str::<serde_json::Value>(&body).unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let key = DecodingKey::from_jwk(&issuer.jwks().keys[0]).unwrap();
        let mut validation = jsonwebtoken::Validation::new(Algorithm::EdDSA);
        validation.set_audience(&[DEV_AUDIENCE]);
        let claims = jsonwebtoken::decode::<serde_json::Value>(&token, &key, &validation)
            .unwrap()
            .claims;
        assert_eq!(
            (claims["role"].as_str(), claims["id"].as_i64()),
            (Some("seller"), Some(7))
        );
        let (status, _, body) = call(exchange(verifier)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "a code is good once");
        assert!(body.contains("invalid_grant"), "{body}");
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
