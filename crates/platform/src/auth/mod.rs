//! Identity: who is calling, proven by a bearer JWT, and what they may touch.
//!
//! Every service and the gateway verify tokens the same way ([`Verifier`]): the signature
//! against the issuer's published keys (JWKS, cached and refetched when a token names a key the
//! cache lacks), the one algorithm the settings fix (so `alg: none` and HMAC-with-the-public-key
//! confusion are refused before any key is looked at), `exp` and `nbf` (with a small clock
//! leeway, [`CLOCK_LEEWAY_SECS`]), `iss` and `aud`. A refused token's `401` says only that it
//! was refused ([`REFUSED_TOKEN`]); why (the algorithm, the key id, the signature) goes to the
//! log. A token that passed is remembered by its exact text until it expires (at most a minute,
//! so a withdrawn key stops vouching soon), which spares a customer's next requests and a
//! service's calls with its own token the signature check; a token a process has not verified
//! is checked in full, and a refused one every time. Nothing else a caller sends is trusted: a
//! handler learns who calls only from the [`Caller`] extractor, and the ids it acts for
//! (customer, seller) come from the token, never from a body or a header.
//!
//! - [`Caller`]: any signed-in person or service; `401` JSON without a valid token.
//! - [`ServiceCaller`]: only the service role (the internal endpoints); `403` for anyone else.
//! - [`Caller::sees`]: someone else's resource answers the same `404` as a missing one, so ids
//!   cannot be enumerated.
//! - [`credential::ServiceCredential`]: the token a service presents when it calls another,
//!   obtained with the OAuth 2.0 client-credentials grant (Entra ID, Keycloak, or the dev
//!   issuer) and cached until shortly before it expires.
//! - [`dev::DevIssuer`]: the local stack's and Compose's issuer; off unless `AUTH_DEV_ISSUER`
//!   turns it on, which the `aks` overlays never do.

pub mod credential;
pub mod dev;
mod extract;
mod verify;

use std::fmt;

use axum::http::StatusCode;
use jsonwebtoken::Algorithm;

pub use extract::{Caller, ServiceCaller, bearer};
pub use verify::{AuthError, CLOCK_LEEWAY_SECS, REFUSED_TOKEN, Verifier};

use crate::ApiError;
use crate::settings::{self, SettingsError};

contracts::labels! {
    /// What a caller is, from the token's role claim.
    pub enum Role {
        Customer = "customer",
        Seller = "seller",
        Courier = "courier",
        Admin = "admin",
        /// Another service of ours (the internal calls).
        Service = "service",
    }
}

/// Someone a resource belongs to or who may act on it. Nobody is implied: a rule that lets
/// admins in lists [`Party::Admins`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    Customer(i64),
    Seller(i64),
    /// Any courier.
    Couriers,
    /// Any admin.
    Admins,
    /// Any of our services (the order service reading a payment to settle a pending order).
    Services,
}

/// How tokens are verified: which issuer, audience, keys and algorithm, and which claims carry
/// the role, the person's id and their display name. Any OIDC provider fits (the README's Identity section has an
/// Entra ID example); the defaults are the local stack's dev issuer.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// `AUTH_ISSUER`: the `iss` every token must carry.
    pub issuer: String,
    /// `AUTH_AUDIENCE`: an `aud` every token must carry.
    pub audience: String,
    /// `AUTH_JWKS_URL`: where the issuer publishes its public keys.
    pub jwks_url: String,
    /// `AUTH_ALGORITHM`: the only signature algorithm accepted (`EdDSA`, `RS256`, `ES256`...).
    pub algorithm: Algorithm,
    /// `AUTH_ROLE_CLAIM`: the claim naming the role, a string or an array of strings (Entra ID's
    /// app roles arrive as `roles: [...]`).
    pub role_claim: String,
    /// `AUTH_ID_CLAIM`: the claim carrying the customer's, seller's or courier's numeric id.
    pub id_claim: String,
    /// `AUTH_NAME_CLAIM`: the claim with the person's display name, which only the storefront
    /// reads (to greet them; without it, it shows the role and id). OIDC's standard claim is
    /// `name`; the dev issuer sets it for its demo people.
    pub name_claim: String,
}

/// The local stack's gateway, where the dev issuer lives.
pub const DEV_ISSUER: &str = "http://127.0.0.1:8080/auth/dev";
pub const DEV_AUDIENCE: &str = "mealkit";

impl AuthSettings {
    pub fn from_env() -> Result<Self, SettingsError> {
        let algorithm = settings::string("AUTH_ALGORITHM", "EdDSA");
        Ok(Self {
            issuer: settings::string("AUTH_ISSUER", DEV_ISSUER),
            audience: settings::string("AUTH_AUDIENCE", DEV_AUDIENCE),
            jwks_url: settings::string(
                "AUTH_JWKS_URL",
                "http://127.0.0.1:8080/.well-known/jwks.json",
            ),
            algorithm: algorithm.parse().map_err(|_| SettingsError {
                name: "AUTH_ALGORITHM".into(),
                value: algorithm.clone(),
                reason: "not a JWS algorithm (EdDSA, RS256, ES256, PS256, ...)".into(),
            })?,
            role_claim: settings::string("AUTH_ROLE_CLAIM", "role"),
            id_claim: settings::string("AUTH_ID_CLAIM", "id"),
            name_claim: settings::string("AUTH_NAME_CLAIM", "name"),
        })
    }

    /// Settings for tokens of the dev issuer at `base_url` (tests).
    pub fn for_dev_issuer(base_url: &str) -> Self {
        Self {
            issuer: format!("{base_url}/auth/dev"),
            audience: DEV_AUDIENCE.into(),
            jwks_url: format!("{base_url}/.well-known/jwks.json"),
            algorithm: Algorithm::EdDSA,
            role_claim: "role".into(),
            id_claim: "id".into(),
            name_claim: "name".into(),
        }
    }
}

impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.role, self.id)
    }
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Whether the caller is one of `parties`.
    pub fn is_one_of(&self, parties: &[Party]) -> bool {
        parties.iter().any(|party| match *party {
            Party::Customer(id) => self.role == Role::Customer && self.id == id,
            Party::Seller(id) => self.role == Role::Seller && self.id == id,
            Party::Couriers => self.role == Role::Courier,
            Party::Admins => self.role == Role::Admin,
            Party::Services => self.role == Role::Service,
        })
    }

    /// `found` if the caller is one of the parties `owners` names for it; otherwise `missing`,
    /// exactly as if it did not exist.
    pub fn sees<T, const N: usize>(
        &self,
        found: Option<T>,
        owners: impl FnOnce(&T) -> [Party; N],
        missing: impl FnOnce() -> ApiError,
    ) -> Result<T, ApiError> {
        match found {
            Some(item) if self.is_one_of(&owners(&item)) => Ok(item),
            _ => Err(missing()),
        }
    }

    /// The caller's id if they have `role`; `403` otherwise.
    fn id_as(&self, role: Role) -> Result<i64, ApiError> {
        if self.role == role {
            Ok(self.id)
        } else {
            Err(forbidden(format!(
                "only a {role} may do this; you are signed in as a {}",
                self.role
            )))
        }
    }

    /// The id the caller acts for as a `role` (a seller registering a kit, a customer ordering):
    /// the token's. A body that names someone else (`claimed`) is `403`, never obeyed.
    pub fn own_id(&self, role: Role, claimed: Option<i64>) -> Result<i64, ApiError> {
        let id = self.id_as(role)?;
        match claimed {
            Some(other) if other != id => Err(forbidden(format!(
                "you are signed in as {role} {id} and cannot act for {role} {other}"
            ))),
            _ => Ok(id),
        }
    }

    /// `Ok` for one of `parties`; `403` naming `what` otherwise.
    pub fn must_be(&self, parties: &[Party], what: &str) -> Result<(), ApiError> {
        if self.is_one_of(parties) {
            Ok(())
        } else {
            Err(forbidden(format!("only {what} may do this")))
        }
    }
}

/// `403`: signed in, but not allowed.
pub fn forbidden(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
}
