//! Verifying a bearer token against the issuer's published keys.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::{Map, Value};
use tokio::sync::{Mutex, RwLock};

use super::{AuthSettings, Caller, Role};
use crate::ApiError;

/// How long fetched keys are used before they are fetched again (issuers rotate keys slowly and
/// publish the next one ahead of use).
const KEYS_TTL: Duration = Duration::from_secs(15 * 60);
/// A token naming an unknown key refetches the set at most this often, so a flood of forged
/// `kid`s cannot turn into a flood of requests to the issuer.
const REFETCH_AT_MOST_EVERY: Duration = Duration::from_secs(5);
/// How many verified tokens a process remembers (about half a KiB each).
const VERIFIED_CAPACITY: usize = 4_096;
/// How long a verified token is answered from memory at most, however long it has to live: a
/// key the issuer withdraws stops vouching for the tokens it signed within this time.
const VERIFIED_FOR: Duration = Duration::from_secs(60);
/// How far the issuer's clock and ours may disagree, in seconds: a token is still taken this
/// long after its `exp`, and this long before its `nbf`.
pub const CLOCK_LEEWAY_SECS: u64 = 30;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token: sign in and send `Authorization: Bearer <token>`")]
    Missing,
    /// The `Authorization` header is not `Bearer <token>`: said as it is (it is no secret).
    #[error("{0}")]
    Malformed(&'static str),
    /// The token is not valid here; why is logged, never answered ([`REFUSED_TOKEN`]).
    #[error("the token was refused: {0}")]
    Invalid(String),
    #[error("the issuer's keys could not be fetched: {0}")]
    KeysUnavailable(String),
}

/// What a refused token's answer says: nothing about why, which would tell a forger what to
/// change next (the algorithm, the key id, the signature); the reason goes to the log.
pub const REFUSED_TOKEN: &str = "the token was refused; sign in again for a new one";

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Missing => {
                ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", err.to_string())
            }
            AuthError::Malformed(_) => {
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", err.to_string())
            }
            AuthError::Invalid(reason) => {
                tracing::info!(%reason, "bearer token refused");
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", REFUSED_TOKEN)
            }
            AuthError::KeysUnavailable(_) => {
                tracing::warn!(error = %err, "token keys unavailable");
                ApiError::unavailable(
                    "auth_unavailable",
                    "the sign-in keys cannot be checked just now; try again shortly",
                    2,
                )
            }
        }
    }
}

/// Verifies tokens; cheap to clone (one key cache per process).
#[derive(Clone)]
pub struct Verifier(Arc<Inner>);

struct Inner {
    settings: AuthSettings,
    validation: Validation,
    http: reqwest::Client,
    keys: RwLock<Keys>,
    /// Held while fetching, so concurrent misses fetch once.
    fetching: Mutex<()>,
    /// Tokens that passed every check, by their exact text (nothing shorter, so no other
    /// token can be mistaken for one), until they expire or [`VERIFIED_FOR`] passes.
    /// Refusals are not remembered: a forged token costs its check every time.
    verified: quick_cache::sync::Cache<String, Verified>,
}

#[derive(Clone)]
struct Verified {
    caller: Caller,
    until: Instant,
}

#[derive(Default)]
struct Keys {
    /// (kid, key) of every usable key of the set.
    keys: Vec<(Option<String>, DecodingKey)>,
    fetched_at: Option<Instant>,
}

impl Verifier {
    pub fn new(settings: AuthSettings) -> anyhow::Result<Self> {
        let mut validation = Validation::new(settings.algorithm);
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        // `nbf`, when a token has one, with the same leeway as `exp`.
        validation.validate_nbf = true;
        validation.leeway = CLOCK_LEEWAY_SECS;
        let http = crate::client::http_client()
            .timeout(Duration::from_secs(5))
            .build()?;
        Ok(Self(Arc::new(Inner {
            settings,
            validation,
            http,
            keys: RwLock::new(Keys::default()),
            fetching: Mutex::new(()),
            verified: quick_cache::sync::Cache::new(VERIFIED_CAPACITY),
        })))
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.0.settings
    }

    /// The caller a token proves, or why it proves nothing. A token this process verified
    /// before is answered from memory until it expires (at most [`VERIFIED_FOR`]); any other
    /// is checked in full.
    pub async fn verify(&self, token: &str) -> Result<Caller, AuthError> {
        let now = Instant::now();
        if let Some(hit) = self.0.verified.get(token).filter(|hit| hit.until > now) {
            return Ok(hit.caller);
        }
        let (caller, lives_for) = self.verify_anew(token).await?;
        if let Some(lives_for) = lives_for.filter(|d| !d.is_zero()) {
            let until = now + lives_for.min(VERIFIED_FOR);
            let verified = Verified {
                caller: caller.clone(),
                until,
            };
            self.0.verified.insert(token.to_owned(), verified);
        }
        Ok(caller)
    }

    /// Every check of `token`, as for a token never seen (the benchmark measures what that
    /// costs): the caller it proves and how long it has left before it expires, leeway aside.
    pub async fn verify_anew(&self, token: &str) -> Result<(Caller, Option<Duration>), AuthError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| AuthError::Invalid(format!("not a JWT ({e})")))?;
        if header.alg != self.0.settings.algorithm {
            return Err(AuthError::Invalid(format!(
                "signed with {:?}; only {:?} is accepted",
                header.alg, self.0.settings.algorithm
            )));
        }
        let key = self.key(header.kid.as_deref()).await?;
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &self.0.validation)
            .map_err(|e| AuthError::Invalid(e.to_string()))?;
        Ok((self.caller(&data.claims)?, time_left(&data.claims)))
    }

    fn caller(&self, claims: &Map<String, Value>) -> Result<Caller, AuthError> {
        let settings = &self.0.settings;
        let role = match claims.get(&settings.role_claim) {
            Some(Value::String(role)) => Role::parse(role),
            Some(Value::Array(roles)) => {
                roles.iter().filter_map(Value::as_str).find_map(Role::parse)
            }
            _ => None,
        }
        .ok_or_else(|| {
            AuthError::Invalid(format!(
                "the `{}` claim names no role of ours",
                settings.role_claim
            ))
        })?;
        let id = match claims.get(&settings.id_claim) {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        };
        let id = match (id, role) {
            (Some(id), _) if id > 0 => id,
            // A service acts for no one: its id is only a name in the logs.
            (None, Role::Service) => 0,
            _ => {
                return Err(AuthError::Invalid(format!(
                    "the `{}` claim carries no positive id",
                    settings.id_claim
                )));
            }
        };
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        Ok(Caller { role, id, subject })
    }

    async fn key(&self, kid: Option<&str>) -> Result<DecodingKey, AuthError> {
        {
            let keys = self.0.keys.read().await;
            let fresh = keys.fetched_at.is_some_and(|at| at.elapsed() < KEYS_TTL);
            if let (true, Some(key)) = (fresh, keys.find(kid)) {
                return Ok(key);
            }
        }
        let _fetching = self.0.fetching.lock().await;
        {
            // Someone else may have fetched while this one waited; a recent fetch that lacks
            // the key is the answer (an unknown kid is a forged or stale token).
            let keys = self.0.keys.read().await;
            let recent = keys
                .fetched_at
                .is_some_and(|at| at.elapsed() < REFETCH_AT_MOST_EVERY);
            if let Some(key) = keys.find(kid) {
                if keys.fetched_at.is_some_and(|at| at.elapsed() < KEYS_TTL) {
                    return Ok(key);
                }
            } else if recent {
                return Err(unknown_key(kid));
            }
        }
        let fetched = self.fetch().await;
        let mut keys = self.0.keys.write().await;
        match fetched {
            Ok(set) => {
                *keys = Keys::from_set(&set);
                keys.find(kid).ok_or_else(|| unknown_key(kid))
            }
            // Keys that are merely old still verify while the issuer is unreachable.
            Err(err) => keys.find(kid).ok_or(err),
        }
    }

    async fn fetch(&self) -> Result<JwkSet, AuthError> {
        let url = &self.0.settings.jwks_url;
        let unavailable =
            |e: &dyn std::fmt::Display| AuthError::KeysUnavailable(format!("{url}: {e}"));
        let response = self
            .0
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        if !response.status().is_success() {
            return Err(unavailable(&format!("answered {}", response.status())));
        }
        response.json::<JwkSet>().await.map_err(|e| unavailable(&e))
    }
}

/// How long until the `exp` claim (seconds since the epoch), if it is still ahead.
fn time_left(claims: &Map<String, Value>) -> Option<Duration> {
    let exp = claims.get("exp")?.as_u64()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Duration::from_secs(exp).checked_sub(now)
}

fn unknown_key(kid: Option<&str>) -> AuthError {
    AuthError::Invalid(format!(
        "signed with a key the issuer does not publish (kid {})",
        kid.unwrap_or("absent")
    ))
}

impl Keys {
    fn from_set(set: &JwkSet) -> Self {
        let keys = set
            .keys
            .iter()
            .filter_map(|jwk| {
                let key = DecodingKey::from_jwk(jwk).ok()?;
                Some((jwk.common.key_id.clone(), key))
            })
            .collect();
        Self {
            keys,
            fetched_at: Some(Instant::now()),
        }
    }

    /// The key named `kid`; a token without a `kid` may use the set's only key.
    fn find(&self, kid: Option<&str>) -> Option<DecodingKey> {
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|(id, _)| id.as_deref() == Some(kid))
                .map(|(_, key)| key.clone()),
            None if self.keys.len() == 1 => Some(self.keys[0].1.clone()),
            None => None,
        }
    }
}
