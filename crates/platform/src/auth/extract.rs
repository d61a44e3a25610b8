//! The extractors through which a handler learns who calls: the only way it can.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use super::{AuthError, Role, Verifier, forbidden};
use crate::ApiError;

/// A signed-in caller, proven by a verified bearer token. Extracting it answers `401` JSON
/// (with `WWW-Authenticate: Bearer`) when the token is missing, forged, expired or for someone
/// else's issuer or audience.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub role: Role,
    /// The customer's, seller's or courier's id (the dev issuer's `id`); `0` for a service.
    pub id: i64,
    /// The token's `sub`, for the logs.
    pub subject: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let verifier =
            parts.extensions.get::<Verifier>().cloned().ok_or_else(|| {
                ApiError::internal("no token verifier is installed on this router")
            })?;
        let token = bearer(&parts.headers)?;
        let caller = verifier.verify(token).await?;
        tracing::Span::current().record("caller", tracing::field::display(&caller));
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }
}

/// The token in `Authorization: Bearer <token>`.
pub fn bearer(headers: &axum::http::HeaderMap) -> Result<&str, AuthError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(AuthError::Missing)?
        .to_str()
        .map_err(|_| AuthError::Malformed("the Authorization header is not text"))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(AuthError::Malformed(
            "the Authorization header is not `Bearer <token>`",
        )),
    }
}

/// Another of our services, and only that: the extractor of the internal endpoints. Anyone
/// else, signed in or not, is refused (`401` without a valid token, `403` with a person's).
#[derive(Debug, Clone)]
pub struct ServiceCaller(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for ServiceCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if caller.role == Role::Service {
            Ok(Self(caller))
        } else {
            Err(forbidden("this endpoint is for our services only"))
        }
    }
}
