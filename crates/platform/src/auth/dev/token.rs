//! `POST /auth/dev/oauth2/token`: the two grants the dev issuer serves (RFC 6749). Our
//! services prove themselves with client credentials (§4.4) and get the service role; a browser
//! exchanges an authorization code with its PKCE verifier (§4.1.3, RFC 7636) for the person it
//! signed in as ([`super::login`]).

use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::{DevIssuer, Person, login};
use crate::ApiError;

/// A token request (RFC 6749 §4.1.3 and §4.4.2); which fields matter depends on the grant.
#[derive(Deserialize)]
pub(super) struct GrantRequest {
    grant_type: String,
    client_id: String,
    client_secret: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
}

pub(super) async fn grant(
    State(issuer): State<DevIssuer>,
    form: Result<Form<GrantRequest>, FormRejection>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let Form(request) = form.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("a form with grant_type and client_id is expected: {e}"),
        )
    })?;
    let access_token = match request.grant_type.as_str() {
        "client_credentials" => issuer.service_token(client_of(&issuer, &request)?),
        "authorization_code" => issuer.person_token(&person_of(&issuer, &request)?),
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "the grants are client_credentials (services) and authorization_code (browsers)",
            ));
        }
    };
    Ok(axum::Json(json!({
        "access_token": access_token,
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
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client or wrong secret",
        ))
    }
}

/// The person an authorization code was issued for.
fn person_of(issuer: &DevIssuer, request: &GrantRequest) -> Result<Person, ApiError> {
    let (Some(code), Some(redirect_uri), Some(verifier)) = (
        request.code.as_deref(),
        request.redirect_uri.as_deref(),
        request.code_verifier.as_deref(),
    ) else {
        return Err(ApiError::new(
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
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "the code is unknown, used, expired, or for another client, redirect or verifier",
            )
        })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::super::tests::{issuer_at_port_9, name_of, role_and_id};
    use axum::http::StatusCode;

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
        assert_eq!(
            role_and_id(&issuer, &token),
            Ok((Some("seller".into()), Some(7)))
        );
        assert_eq!(name_of(&issuer, &token).as_deref(), Some("Seoul Kitchen"));
        let (status, _, body) = call(exchange(verifier)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "a code is good once");
        assert!(body.contains("invalid_grant"), "{body}");
    }
}
