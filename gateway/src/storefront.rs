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
//!
//! Every file carries a strong `ETag` (a SHA-256 of the bytes sent) and `Cache-Control:
//! no-cache`, so a browser asks again each time and gets `304 Not Modified` until the gateway
//! serves other bytes. A browser that accepts gzip gets the file gzipped, compressed once per
//! process rather than per request.

use std::io::Write;
use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use platform::ApiError;
use platform::auth::AuthSettings;
use platform::settings::{self, SettingsError};
use serde_json::json;
use sha2::{Digest, Sha256};

/// The page and its assets, by path under `/assets/`.
const PAGE: &str = include_str!("../storefront/index.html");
const ASSETS: [(&str, &str, &str); 11] = [
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
    asset("live.js", include_str!("../storefront/js/live.js")),
    (
        ICON,
        "image/svg+xml",
        include_str!("../storefront/icon.svg"),
    ),
];
/// The shop's icon, also at `/favicon.ico` for browsers that ask there without reading the
/// page's `<link rel="icon">`.
const ICON: &str = "icon.svg";

/// The page and the assets in [`ASSETS`]' order, each hashed and compressed on first use.
static PAGE_FILE: LazyLock<File> = LazyLock::new(|| {
    File::new(
        "text/html; charset=utf-8",
        Bytes::from_static(PAGE.as_bytes()),
    )
});
static ASSET_FILES: LazyLock<Vec<File>> = LazyLock::new(|| {
    let prepare = |(_, content_type, body): &(&str, &'static str, &'static str)| {
        File::new(content_type, Bytes::from_static(body.as_bytes()))
    };
    ASSETS.iter().map(prepare).collect()
});

/// The asset called `name`, prepared.
fn asset_file(name: &str) -> Option<&'static File> {
    let index = ASSETS.iter().position(|(asset, ..)| *asset == name)?;
    Some(&ASSET_FILES[index])
}

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
    config: Arc<File>,
    policy: HeaderValue,
}

/// A file as served: its bytes, and the same gzipped when that is smaller.
struct File {
    content_type: &'static str,
    plain: Encoded,
    gzipped: Option<Encoded>,
}

/// One encoding of a file and its strong validator.
struct Encoded {
    bytes: Bytes,
    etag: HeaderValue,
}

impl File {
    fn new(content_type: &'static str, bytes: Bytes) -> Self {
        let gzipped = gzip(&bytes);
        let gzipped = (gzipped.len() < bytes.len()).then(|| Encoded::new(gzipped.into()));
        Self {
            content_type,
            plain: Encoded::new(bytes),
            gzipped,
        }
    }
}

impl Encoded {
    /// `"` + the first 128 bits of the bytes' SHA-256, in hex, + `"`: the plain and the
    /// gzipped bytes are different representations, so each has its own strong tag.
    fn new(bytes: Bytes) -> Self {
        let digest = Sha256::digest(&bytes);
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        let etag = HeaderValue::from_str(&format!("\"{hex}\"")).expect("hex is a valid header");
        Self { bytes, etag }
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .expect("compressing into memory cannot fail")
}

/// `/`, `/assets/{file}`, `/favicon.ico` and `/storefront.json`.
pub fn routes(settings: &StorefrontSettings, auth: &AuthSettings) -> anyhow::Result<Router> {
    let config = json!({
        "authorizeUrl": settings.authorize_url,
        "tokenUrl": settings.token_url,
        "clientId": settings.client_id,
        "scope": settings.scope,
        "roleClaim": auth.role_claim,
        "idClaim": auth.id_claim,
        "nameClaim": auth.name_claim,
    });
    let storefront = Storefront {
        config: Arc::new(File::new(
            "application/json",
            serde_json::to_vec(&config)?.into(),
        )),
        policy: HeaderValue::from_str(&content_security_policy(&settings.token_url))?,
    };
    Ok(Router::new()
        .route("/", get(page))
        .route("/assets/{file}", get(asset_named))
        .route("/favicon.ico", get(favicon))
        .route("/storefront.json", get(config_file))
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

/// `file` with the security headers, gzipped if the request admits it, or `304` with no body
/// if the request names the representation's tag in `If-None-Match`.
fn served(storefront: &Storefront, request: &HeaderMap, file: &File) -> Response {
    let gzipped = file.gzipped.as_ref().filter(|_| admits_gzip(request));
    let encoded = gzipped.unwrap_or(&file.plain);
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, encoded.etag.clone());
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if file.gzipped.is_some() {
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CONTENT_SECURITY_POLICY, storefront.policy.clone());
    if names_tag(request, &encoded.etag) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.content_type),
    );
    if gzipped.is_some() {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    (headers, encoded.bytes.clone()).into_response()
}

/// Whether `Accept-Encoding` admits gzip (RFC 9110 §12.5.3): `gzip`, `x-gzip` or `*`, with a
/// quality above zero, unless gzip itself is refused with `q=0`.
fn admits_gzip(request: &HeaderMap) -> bool {
    let mut admitted = false;
    for value in request.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for coding in value.split(',') {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default().to_ascii_lowercase();
            let quality = parts
                .find_map(|p| p.strip_prefix("q=").or(p.strip_prefix("Q=")))
                .map_or(1.0, |q| q.parse::<f32>().unwrap_or(0.0));
            match name.as_str() {
                "gzip" | "x-gzip" => return quality > 0.0,
                "*" => admitted = quality > 0.0,
                _ => {}
            }
        }
    }
    admitted
}

/// Whether `If-None-Match` names `etag` or is `*` (weak comparison, as RFC 9110 §13.1.2 asks).
fn names_tag(request: &HeaderMap, etag: &HeaderValue) -> bool {
    let etag = etag.as_bytes();
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/").as_bytes() == etag)
}

async fn page(State(storefront): State<Storefront>, request: HeaderMap) -> Response {
    served(&storefront, &request, &PAGE_FILE)
}

async fn asset_named(
    State(storefront): State<Storefront>,
    Path(name): Path<String>,
    request: HeaderMap,
) -> Response {
    match asset_file(&name) {
        Some(file) => served(&storefront, &request, file),
        None => ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such file").into_response(),
    }
}

async fn favicon(State(storefront): State<Storefront>, request: HeaderMap) -> Response {
    let icon = asset_file(ICON).expect("the icon is an asset");
    served(&storefront, &request, icon)
}

async fn config_file(State(storefront): State<Storefront>, request: HeaderMap) -> Response {
    served(&storefront, &request, &storefront.config)
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

    /// `GET path` with `headers`, through the storefront's routes.
    async fn get_with(path: &str, headers: &[(&str, &str)]) -> (StatusCode, HeaderMap, Bytes) {
        use tower::ServiceExt;
        let settings = StorefrontSettings::from_env().unwrap();
        let auth = AuthSettings::for_dev_issuer("http://127.0.0.1:8080");
        let mut request = axum::http::Request::get(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let answer = routes(&settings, &auth)
            .unwrap()
            .oneshot(request.body(axum::body::Body::empty()).unwrap())
            .await
            .unwrap();
        let (parts, body) = answer.into_parts();
        let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
        (parts.status, parts.headers, body)
    }

    async fn get(path: &str) -> (StatusCode, HeaderMap, String) {
        let (status, headers, body) = get_with(path, &[]).await;
        (status, headers, String::from_utf8(body.to_vec()).unwrap())
    }

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Read;
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut plain)
            .unwrap();
        plain
    }

    #[tokio::test]
    async fn the_page_its_files_and_its_settings_are_served_to_anyone() {
        let (status, headers, page) = get("/").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert!(headers.contains_key(header::ETAG));
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
            (
                config["roleClaim"].as_str(),
                config["idClaim"].as_str(),
                config["nameClaim"].as_str()
            ),
            (Some("role"), Some("id"), Some("name"))
        );
    }

    #[tokio::test]
    async fn files_are_gzipped_for_browsers_that_accept_it() {
        for path in [
            "/",
            "/assets/app.js",
            "/assets/style.css",
            "/storefront.json",
        ] {
            let (_, plain_headers, plain) = get_with(path, &[]).await;
            assert!(
                plain_headers.get(header::CONTENT_ENCODING).is_none(),
                "{path}"
            );
            let browser = [("accept-encoding", "gzip, deflate, br, zstd")];
            let (status, headers, gzipped) = get_with(path, &browser).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert_eq!(headers[header::CONTENT_ENCODING], "gzip", "{path}");
            assert_eq!(headers[header::VARY], "Accept-Encoding", "{path}");
            assert_eq!(
                headers[header::CONTENT_TYPE],
                plain_headers[header::CONTENT_TYPE]
            );
            assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
            assert!(headers.contains_key(header::CONTENT_SECURITY_POLICY));
            assert!(gzipped.len() < plain.len(), "{path}");
            assert_eq!(gunzip(&gzipped), plain, "{path}");
            assert_ne!(headers[header::ETAG], plain_headers[header::ETAG]);
        }
        let (_, headers, _) = get_with("/", &[("accept-encoding", "gzip;q=0, *")]).await;
        assert!(headers.get(header::CONTENT_ENCODING).is_none());
    }

    #[tokio::test]
    async fn a_matching_if_none_match_is_answered_304_with_no_body() {
        for encoding in ["identity", "gzip"] {
            let accept = ("accept-encoding", encoding);
            let (_, headers, _) = get_with("/assets/app.js", &[accept]).await;
            let etag = headers[header::ETAG].to_str().unwrap().to_owned();
            assert!(
                etag.starts_with('"') && etag.ends_with('"'),
                "strong: {etag}"
            );
            for if_none_match in [etag.clone(), format!("\"other\", W/{etag}"), "*".into()] {
                let (status, headers, body) = get_with(
                    "/assets/app.js",
                    &[accept, ("if-none-match", &if_none_match)],
                )
                .await;
                assert_eq!(status, StatusCode::NOT_MODIFIED, "{if_none_match}");
                assert!(body.is_empty());
                assert_eq!(headers[header::ETAG], etag.as_str());
                assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
            }
            let changed = [accept, ("if-none-match", "\"other\"")];
            let (status, _, body) = get_with("/assets/app.js", &changed).await;
            assert_eq!(status, StatusCode::OK);
            assert!(!body.is_empty());
        }
    }

    #[tokio::test]
    async fn the_icon_is_served_as_an_asset_and_as_the_favicon() {
        let (_, _, page) = get("/").await;
        assert!(page.contains("<link rel=\"icon\" href=\"/assets/icon.svg\""));
        let (status, headers, icon) = get("/assets/icon.svg").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "image/svg+xml");
        assert!(icon.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        let (status, favicon_headers, favicon) = get("/favicon.ico").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(favicon_headers[header::CONTENT_TYPE], "image/svg+xml");
        assert_eq!(favicon, icon);
        assert_eq!(favicon_headers[header::ETAG], headers[header::ETAG]);
    }

    #[test]
    fn accept_encoding_admits_gzip_by_name_or_wildcard_unless_refused() {
        let admits = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT_ENCODING, value.parse().unwrap());
            admits_gzip(&headers)
        };
        assert!(admits("gzip"));
        assert!(admits("deflate, GZIP;q=0.5"));
        assert!(admits("*"));
        assert!(admits("*;q=0, gzip"));
        assert!(!admits("gzip;q=0"));
        assert!(!admits("gzip; q=0.000, *"));
        assert!(!admits("br, deflate"));
        assert!(!admits("identity"));
        assert!(!admits_gzip(&HeaderMap::new()));
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
