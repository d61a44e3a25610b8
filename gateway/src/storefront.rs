//! The storefront: the shop in a browser, at `/`, for customers and sellers.
//!
//! Static files compiled into the gateway (`gateway/storefront/`): an HTML page and a few
//! JavaScript modules with no build step and no third-party code, so `cargo build` is the
//! whole build and the output is the source. The page calls the same public API as curl, with
//! the signed-in person's bearer token, so everything the API decides (ownership, validation,
//! the breaker's fallback) is what the page shows.
//!
//! Sign-in is the OAuth 2.0 authorization-code grant with PKCE against the issuer that
//! `/storefront.json` names: the dev issuer's form locally, the OIDC issuer's login elsewhere.
//! A strict Content-Security-Policy lets the page load nothing from anywhere but here, and talk
//! to nothing but here and the token endpoint.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use platform::ApiError;
use platform::auth::AuthSettings;
use platform::settings::{self, SettingsError};
use serde_json::json;

/// The page and its assets, by path under `/assets/`.
const PAGE: &str = include_str!("../storefront/index.html");
const ASSETS: [(&str, &str, &str); 9] = [
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../storefront/style.css"),
    ),
    asset("app.js", include_str!("../storefront/js/app.js")),
    asset("api.js", include_str!("../storefront/js/api.js")),
    asset("session.js", include_str!("../storefront/js/session.js")),
    asset("dom.js", include_str!("../storefront/js/dom.js")),
    asset("shop.js", include_str!("../storefront/js/shop.js")),
    asset("orders.js", include_str!("../storefront/js/orders.js")),
    asset("console.js", include_str!("../storefront/js/console.js")),
    asset("words.js", include_str!("../storefront/js/words.js")),
];

const fn asset(
    name: &'static str,
    text: &'static str,
) -> (&'static str, &'static str, &'static str) {
    (name, "text/javascript; charset=utf-8", text)
}

/// Where the storefront signs people in: an OAuth 2.0 authorization server's two endpoints
/// and the storefront's client registration there.
#[derive(Debug, Clone)]
pub struct StorefrontSettings {
    /// `STOREFRONT_AUTHORIZE_URL`: the login page (default: the dev issuer's form).
    pub authorize_url: String,
    /// `STOREFRONT_TOKEN_URL`: where the code is exchanged (default: the dev issuer's).
    pub token_url: String,
    /// `STOREFRONT_CLIENT_ID`: the storefront's public client id at the issuer.
    pub client_id: String,
    /// `STOREFRONT_SCOPE`: what to ask for (Entra ID: `api://<api app id>/<scope>`).
    pub scope: String,
}

impl StorefrontSettings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Ok(Self {
            authorize_url: settings::string("STOREFRONT_AUTHORIZE_URL", "/auth/dev/authorize"),
            token_url: settings::string("STOREFRONT_TOKEN_URL", "/auth/dev/oauth2/token"),
            client_id: settings::string("STOREFRONT_CLIENT_ID", "storefront"),
            scope: settings::string("STOREFRONT_SCOPE", ""),
        })
    }
}

#[derive(Clone)]
struct Storefront {
    config: serde_json::Value,
    policy: HeaderValue,
}

/// `/`, `/assets/{file}` and `/storefront.json`.
pub fn routes(settings: &StorefrontSettings, auth: &AuthSettings) -> anyhow::Result<Router> {
    let storefront = Storefront {
        config: json!({
            "authorizeUrl": settings.authorize_url,
            "tokenUrl": settings.token_url,
            "clientId": settings.client_id,
            "scope": settings.scope,
            "roleClaim": auth.role_claim,
            "idClaim": auth.id_claim,
        }),
        policy: HeaderValue::from_str(&content_security_policy(&settings.token_url))?,
    };
    Ok(Router::new()
        .route("/", get(page))
        .route("/assets/{file}", get(asset_named))
        .route("/storefront.json", get(config))
        .with_state(storefront))
}

/// Only our own files; scripts only from files (no inline code, no `eval`); requests only to
/// us and the token endpoint's origin; never framed.
fn content_security_policy(token_url: &str) -> String {
    let connect = match origin_of(token_url) {
        Some(token_origin) => format!("'self' {token_origin}"),
        None => "'self'".to_owned(),
    };
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src {connect}; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// `scheme://host[:port]` of an absolute URL; `None` for a path on this site.
fn origin_of(url: &str) -> Option<String> {
    let uri: axum::http::Uri = url.parse().ok()?;
    Some(format!("{}://{}", uri.scheme_str()?, uri.authority()?))
}

fn served(storefront: &Storefront, content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            (header::CONTENT_SECURITY_POLICY, storefront.policy.clone()),
        ],
        body,
    )
        .into_response()
}

async fn page(State(storefront): State<Storefront>) -> Response {
    served(&storefront, "text/html; charset=utf-8", PAGE)
}

async fn asset_named(State(storefront): State<Storefront>, Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, ..)| *name == file) {
        Some((_, content_type, body)) => served(&storefront, content_type, body),
        None => ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such file").into_response(),
    }
}

async fn config(State(storefront): State<Storefront>) -> Response {
    (
        [(header::CACHE_CONTROL, "no-cache")],
        axum::Json(storefront.config),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_admits_only_this_site_and_the_token_endpoint() {
        assert_eq!(
            content_security_policy("/auth/dev/oauth2/token"),
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        );
        assert!(
            content_security_policy("https://login.example.com/tenant/oauth2/v2.0/token")
                .contains("connect-src 'self' https://login.example.com;")
        );
    }

    async fn get(path: &str) -> (StatusCode, axum::http::HeaderMap, String) {
        use tower::ServiceExt;
        let settings = StorefrontSettings::from_env().unwrap();
        let auth = AuthSettings::for_dev_issuer("http://127.0.0.1:8080");
        let request = axum::http::Request::get(path)
            .body(axum::body::Body::empty())
            .unwrap();
        let answer = routes(&settings, &auth)
            .unwrap()
            .oneshot(request)
            .await
            .unwrap();
        let (parts, body) = answer.into_parts();
        let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
        (
            parts.status,
            parts.headers,
            String::from_utf8(body.to_vec()).unwrap(),
        )
    }

    #[tokio::test]
    async fn the_page_its_files_and_its_settings_are_served_to_anyone() {
        let (status, headers, page) = get("/").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert!(
            headers[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .starts_with("default-src 'none'; script-src 'self'")
        );
        assert!(page.contains("/assets/app.js"));
        let (status, headers, _) = get("/assets/app.js").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            headers[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let (status, _, body) = get("/assets/missing.js").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body.contains("\"error\":\"not_found\""), "{body}");
        let (status, _, config) = get("/storefront.json").await;
        assert_eq!(status, StatusCode::OK);
        let config: serde_json::Value = serde_json::from_str(&config).unwrap();
        assert_eq!(config["authorizeUrl"], "/auth/dev/authorize");
        assert_eq!(config["clientId"], "storefront");
        assert_eq!(
            (config["roleClaim"].as_str(), config["idClaim"].as_str()),
            (Some("role"), Some("id"))
        );
    }

    #[test]
    fn every_module_the_page_imports_is_served() {
        let sources = std::iter::once(PAGE).chain(ASSETS.iter().map(|(_, _, body)| *body));
        for source in sources {
            for imported in source
                .split(['"', '\''])
                .filter_map(|s| s.strip_prefix("./").or(s.strip_prefix("/assets/")))
                .filter(|s| s.ends_with(".js") || s.ends_with(".css"))
            {
                assert!(
                    ASSETS.iter().any(|(name, ..)| *name == imported),
                    "{imported} is imported but not served"
                );
            }
        }
    }
}
