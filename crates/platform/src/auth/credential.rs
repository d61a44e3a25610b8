//! The token a service presents when it calls another: the OAuth 2.0 client-credentials grant
//! (RFC 6749 §4.4), the same request to Entra ID, Keycloak or the dev issuer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::Mutex;

use crate::settings::{self, SettingsError};

/// Where and as whom a service asks for its token.
#[derive(Debug, Clone)]
pub struct CredentialSettings {
    /// `SERVICE_TOKEN_URL`: the issuer's token endpoint.
    pub token_url: String,
    /// `SERVICE_CLIENT_ID` (default: the service's name).
    pub client_id: String,
    /// `SERVICE_CLIENT_SECRET`: from a Kubernetes Secret in a cluster, from the launcher locally.
    pub client_secret: String,
    /// `SERVICE_TOKEN_SCOPE`: what to ask for, if the issuer wants it (Entra ID:
    /// `api://<app id>/.default`).
    pub scope: String,
}

impl CredentialSettings {
    pub fn from_env(service: &str) -> Result<Self, SettingsError> {
        Ok(Self {
            token_url: settings::string(
                "SERVICE_TOKEN_URL",
                "http://127.0.0.1:8080/auth/dev/oauth2/token",
            ),
            client_id: settings::string("SERVICE_CLIENT_ID", service),
            client_secret: settings::string("SERVICE_CLIENT_SECRET", ""),
            scope: settings::string("SERVICE_TOKEN_SCOPE", ""),
        })
    }
}

/// A service's own token, fetched when first needed and again shortly before it expires.
#[derive(Clone)]
pub struct ServiceCredential(Arc<Inner>);

struct Inner {
    settings: CredentialSettings,
    http: reqwest::Client,
    cached: Mutex<Option<(String, Instant)>>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: Option<u64>,
}

/// A token is renewed this long before it expires.
const RENEW_BEFORE: Duration = Duration::from_secs(60);

impl ServiceCredential {
    pub fn new(settings: CredentialSettings) -> anyhow::Result<Self> {
        let http = crate::client::http_client()
            .timeout(Duration::from_secs(5))
            .build()?;
        Ok(Self(Arc::new(Inner {
            settings,
            http,
            cached: Mutex::new(None),
        })))
    }

    /// A valid token, from the cache or freshly granted.
    pub async fn token(&self) -> Result<String, String> {
        let mut cached = self.0.cached.lock().await;
        if let Some((token, renew_at)) = cached.as_ref()
            && Instant::now() < *renew_at
        {
            return Ok(token.clone());
        }
        let (token, lifetime) = self.grant().await?;
        let renew_at = Instant::now() + lifetime.saturating_sub(RENEW_BEFORE).max(lifetime / 2);
        *cached = Some((token.clone(), renew_at));
        Ok(token)
    }

    async fn grant(&self) -> Result<(String, Duration), String> {
        let s = &self.0.settings;
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", s.client_id.as_str()),
            ("client_secret", s.client_secret.as_str()),
        ];
        if !s.scope.is_empty() {
            form.push(("scope", s.scope.as_str()));
        }
        let response = self
            .0
            .http
            .post(&s.token_url)
            .form(&form)
            .send()
            .await
            .map_err(|e| format!("asking {} for a service token: {e}", s.token_url))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(format!(
                "{} refused a service token to `{}` ({status}): {body}",
                s.token_url, s.client_id
            ));
        }
        let answer: TokenAnswer = response
            .json()
            .await
            .map_err(|e| format!("{} gave no token: {e}", s.token_url))?;
        Ok((
            answer.access_token,
            Duration::from_secs(answer.expires_in.unwrap_or(300)),
        ))
    }
}
