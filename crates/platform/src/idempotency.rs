//! `Idempotency-Key` on unsafe requests (the IETF `httpapi` draft's header): a client that may
//! retry a request (after a `503` with `Retry-After`, a timeout, a dropped connection) sends the
//! same key with each attempt, and every attempt gets the answer of the first: one effect, never
//! two.
//!
//! A key belongs to the caller who sent it (two customers' keys never meet) and is bound to what
//! the request asked for, as a SHA-256 [`fingerprint`] of the request's meaning: the same key
//! with another request is refused (`422 idempotency_key_reused`), never answered with the first
//! request's result.
//!
//! The key is recorded in the same transaction as the change the request made
//! ([`KeyedRequest::record`]), so a request that changed nothing (refused, failed, its service
//! unreachable) leaves no key behind and its retry runs anew. A service whose outcome is
//! settled later can [`release`] a key whose request turned out to have done nothing. Keys are
//! kept [`KEPT_FOR`] and then forgotten ([`forget_older_than`]).
//!
//! The service's schema holds the table (one migration each):
//!
//! ```sql
//! CREATE TABLE idempotency_keys (
//!     owner       TEXT        NOT NULL,  -- "customer:42"
//!     key         TEXT        NOT NULL,
//!     fingerprint BYTEA       NOT NULL,
//!     resource_id BIGINT      NOT NULL,  -- what the first request made or changed
//!     created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
//!     PRIMARY KEY (owner, key)
//! );
//! CREATE INDEX idempotency_keys_resource ON idempotency_keys (resource_id);
//! CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);
//! ```

use std::time::Duration;

use axum::extract::OptionalFromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;

use crate::{ApiError, Caller};

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// Longest key accepted (a UUID is 36 characters).
pub const MAX_KEY_LEN: usize = 255;
/// How long a key is remembered: a retry within a day gets the first answer.
pub const KEPT_FOR: Duration = Duration::from_secs(24 * 60 * 60);

/// The `Idempotency-Key` a request carried: 1 to 255 visible ASCII characters. As an
/// `Option<IdempotencyKey>` extractor, absent is `None` and malformed is `400
/// invalid_idempotency_key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &[u8]) -> Result<Self, ApiError> {
        let valid = !raw.is_empty()
            && raw.len() <= MAX_KEY_LEN
            && raw.iter().all(|b| b.is_ascii_graphic() || *b == b' ');
        let key = std::str::from_utf8(raw)
            .ok()
            .map(str::trim)
            .filter(|_| valid);
        match key {
            Some(key) if !key.is_empty() => Ok(Self(key.to_owned())),
            _ => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_idempotency_key",
                format!("Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
            )),
        }
    }

    /// The key as `caller` sent it for `request` (anything serializable that names what was
    /// asked for, the action included).
    pub fn for_request(self, caller: &Caller, request: &impl Serialize) -> KeyedRequest {
        KeyedRequest {
            owner: format!("{}:{}", caller.role, caller.id),
            key: self.0,
            fingerprint: fingerprint(request),
        }
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, ApiError> {
        parts
            .headers
            .get(HEADER)
            .map(|raw| Self::parse(raw.as_bytes()))
            .transpose()
    }
}

/// The header in an operation's OpenAPI `params(...)`.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct IdempotencyKeyHeader {
    /// Any unique string (a UUID, say) sent again with each retry of the same request: every
    /// retry gets the first one's answer for 24 hours; another request with the same key is
    /// `422`.
    #[serde(rename = "Idempotency-Key")]
    #[param(
        min_length = 1,
        max_length = 255,
        pattern = r"^[\x20-\x7e]*[\x21-\x7e][\x20-\x7e]*$"
    )]
    idempotency_key: Option<String>,
}

/// SHA-256 of `request`'s JSON: what a key is bound to, without storing the request itself (a
/// card number, say). A tuple or a struct serializes its fields in a fixed order.
pub fn fingerprint(request: &impl Serialize) -> Vec<u8> {
    let json = serde_json::to_vec(request).expect("a request serializes");
    Sha256::digest(json).to_vec()
}

/// What a key says about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prior {
    /// Never seen (or forgotten): run the request.
    New,
    /// The same request ran before and made or changed this resource: answer as it stands.
    Same(i64),
    /// The key was used for another request.
    Different,
}

/// A key bound to its caller and request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedRequest {
    owner: String,
    key: String,
    fingerprint: Vec<u8>,
}

impl KeyedRequest {
    pub async fn prior(&self, conn: &mut PgConnection) -> sqlx::Result<Prior> {
        let found: Option<(Vec<u8>, i64)> = sqlx::query_as(
            "SELECT fingerprint, resource_id FROM idempotency_keys WHERE owner = $1 AND key = $2",
        )
        .bind(&self.owner)
        .bind(&self.key)
        .fetch_optional(conn)
        .await?;
        Ok(match found {
            None => Prior::New,
            Some((fingerprint, id)) if fingerprint == self.fingerprint => Prior::Same(id),
            Some(_) => Prior::Different,
        })
    }

    /// Records, inside the transaction that made or changed `resource_id`, that this request did.
    /// `Ok(false)` when a twin of the request recorded the key first: the transaction is then
    /// aborted and must be dropped, and the answer is the twin's ([`KeyedRequest::prior`]).
    pub async fn record(&self, conn: &mut PgConnection, resource_id: i64) -> sqlx::Result<bool> {
        let recorded = sqlx::query(
            "INSERT INTO idempotency_keys (owner, key, fingerprint, resource_id)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&self.owner)
        .bind(&self.key)
        .bind(&self.fingerprint)
        .bind(resource_id)
        .execute(conn)
        .await;
        match recorded {
            Ok(_) => Ok(true),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `409 request_in_progress`: the first request with this key has not finished.
    pub fn in_progress(&self) -> ApiError {
        let mut err = ApiError::conflict(
            "request_in_progress",
            "a request with this Idempotency-Key is still being processed; retry shortly",
        );
        err.retry_after = Some(1);
        err
    }

    /// `422 idempotency_key_reused`.
    pub fn reused(&self) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was used for a different request; use a new key",
        )
    }
}

/// Frees the keys of `resource_id`'s request, which turned out to have done nothing: its retry
/// runs anew. Call it in the transaction that records that outcome.
pub async fn release(conn: &mut PgConnection, resource_id: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM idempotency_keys WHERE resource_id = $1")
        .bind(resource_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Forgets keys older than `age`; returns how many.
pub async fn forget_older_than(conn: &mut PgConnection, age: Duration) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1)",
    )
    .bind(age.as_secs_f64())
    .execute(conn)
    .await?
    .rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii_of_bounded_length() {
        assert_eq!(
            IdempotencyKey::parse(b"9f1c-attempt").unwrap(),
            IdempotencyKey("9f1c-attempt".into())
        );
        for bad in [
            &b""[..],
            b"   ",
            b"tab\there",
            "키".as_bytes(),
            &[b'a'; 256],
        ] {
            let err = IdempotencyKey::parse(bad).unwrap_err();
            assert_eq!(err.code, "invalid_idempotency_key", "{bad:?}");
        }
    }

    #[test]
    fn a_fingerprint_tells_requests_apart() {
        assert_eq!(fingerprint(&("place", 1, 2)), fingerprint(&("place", 1, 2)));
        assert_ne!(fingerprint(&("place", 1, 2)), fingerprint(&("place", 1, 3)));
        assert_ne!(fingerprint(&("place", 1)), fingerprint(&("cancel", 1)));
    }
}
