//! The synchronous contracts (the README's Contracts section): the two calls the order service makes and
//! must see succeed. Caller and callee both use these types, so neither side can drift.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::PaymentStatus;

/// order → payment, `POST` [`CHARGE_PATH`]: charge an order before it is placed (seed NFR 1.1).
/// `orderId` is the idempotency key: a repeated call answers what the first one decided.
pub const CHARGE_PATH: &str = "/payments";

/// Whether a request is one of the calls between services (`POST /payments`,
/// `/notifications/seller-alerts`): those are for the service role only, and the gateway never
/// routes them.
pub fn is_internal(method: &str, path: &str) -> bool {
    let path = path.trim_end_matches('/');
    (method.eq_ignore_ascii_case("POST") && path == CHARGE_PATH)
        || path
            .strip_prefix(SELLER_ALERT_PATH)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The body of [`CHARGE_PATH`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChargeRequest {
    #[schema(minimum = 1)]
    pub order_id: i64,
    /// `0` for a guest.
    #[schema(minimum = 0)]
    pub customer_id: i64,
    #[schema(minimum = 1)]
    pub seller_id: i64,
    #[schema(minimum = 1)]
    pub product_id: i64,
    #[schema(minimum = 1, maximum = 100)]
    pub qty: i64,
    /// In won.
    #[schema(minimum = 0)]
    pub amount: i64,
    #[schema(max_length = 500, pattern = "free text")]
    pub address: String,
    /// Digits with optional spaces or dashes; `4000-0000-0000-0002` is always declined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^(?:[ -]*[0-9]){12,19}[ -]*$")]
    pub card_number: Option<String>,
}

/// What the caller reads of payment's answer to [`CHARGE_PATH`] and to `GET /payments?orderId=`:
/// `201`/`200` with the payment (approved), `402` when declined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Charged {
    pub id: i64,
    pub status: PaymentStatus,
}

/// order → marketing, `POST` [`SELLER_ALERT_PATH`]: alert the seller before a cancellation is
/// accepted (seed NFR 1.2). Idempotent per order.
pub const SELLER_ALERT_PATH: &str = "/notifications/seller-alerts";

/// The body of [`SELLER_ALERT_PATH`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SellerAlert {
    #[schema(minimum = 1)]
    pub order_id: i64,
    #[schema(minimum = 1)]
    pub seller_id: i64,
    /// `CUSTOMER_REQUEST` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200, pattern = "free text")]
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::is_internal;

    #[test]
    fn the_calls_between_services_are_recognised_and_nothing_else() {
        assert!(is_internal("POST", "/payments"));
        assert!(is_internal("post", "/payments/"));
        assert!(!is_internal("GET", "/payments"));
        assert!(!is_internal("POST", "/payments/5"));
        assert!(is_internal("GET", "/notifications/seller-alerts"));
        assert!(is_internal("POST", "/notifications/seller-alerts/x"));
        assert!(!is_internal("GET", "/notifications/seller-alertsx"));
        assert!(!is_internal("GET", "/notifications"));
    }
}
