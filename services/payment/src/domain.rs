//! A charge and its rules. No I/O.

use contracts::PaymentStatus;
use contracts::calls::ChargeRequest;
use platform::ApiError;
use platform::extract::{card_number, check};

/// The card that is always declined (the same number card networks' sandboxes use).
pub const DECLINING_TEST_CARD: &str = "4000000000000002";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    pub order_id: i64,
    pub customer_id: i64,
    pub seller_id: i64,
    pub product_id: i64,
    pub qty: i32,
    pub amount: i64,
    pub address: String,
    pub card: Option<String>,
}

impl Charge {
    pub fn parse(request: &ChargeRequest) -> Result<Self, ApiError> {
        check::positive("orderId", request.order_id)?;
        check::range("customerId", request.customer_id, 0, i64::MAX)?;
        check::positive("sellerId", request.seller_id)?;
        check::positive("productId", request.product_id)?;
        check::range("qty", request.qty, 1, contracts::MAX_QTY)?;
        check::range("amount", request.amount, 0, i64::MAX)?;
        let address = check::text("address", &request.address, 500)?;
        let card = request
            .card_number
            .as_deref()
            .map(card_number)
            .transpose()?;
        Ok(Self {
            order_id: request.order_id,
            customer_id: request.customer_id,
            seller_id: request.seller_id,
            product_id: request.product_id,
            qty: request.qty as i32,
            amount: request.amount,
            address,
            card,
        })
    }

    /// What the charge comes to: declined for the test card, approved otherwise.
    pub fn verdict(&self) -> PaymentStatus {
        match self.decline_reason() {
            Some(_) => PaymentStatus::Declined,
            None => PaymentStatus::Approved,
        }
    }

    /// Why the card is declined, if it is.
    pub fn decline_reason(&self) -> Option<&'static str> {
        (self.card.as_deref() == Some(DECLINING_TEST_CARD)).then_some("CARD_DECLINED")
    }

    /// Whether `payment` was made for exactly this request (the same order id with other
    /// contents is another request, never answered with the stored payment).
    pub fn matches(&self, payment: &crate::db::Payment) -> bool {
        self.order_id == payment.order_id
            && self.customer_id == payment.customer_id
            && self.seller_id == payment.seller_id
            && self.product_id == payment.product_id
            && self.qty == payment.qty
            && self.amount == payment.amount
            && self.address == payment.address
            && self.card_last4() == payment.card_last4
    }

    pub fn card_last4(&self) -> Option<String> {
        self.card.as_ref().map(|c| c[c.len() - 4..].to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::too_many_arguments)]
    fn request(
        order_id: i64,
        customer_id: i64,
        seller_id: i64,
        product_id: i64,
        qty: i64,
        amount: i64,
        address: &str,
        card: Option<&str>,
    ) -> ChargeRequest {
        ChargeRequest {
            order_id,
            customer_id,
            seller_id,
            product_id,
            qty,
            amount,
            address: address.into(),
            card_number: card.map(Into::into),
        }
    }

    fn charge(card: Option<&str>) -> Result<Charge, ApiError> {
        Charge::parse(&request(1, 2, 3, 4, 1, 1000, "Seoul", card))
    }

    #[test]
    fn only_the_test_card_is_declined() {
        assert_eq!(
            charge(Some("4000 0000 0000 0002"))
                .unwrap()
                .decline_reason(),
            Some("CARD_DECLINED")
        );
        assert_eq!(
            charge(Some("4242-4242-4242-4242"))
                .unwrap()
                .decline_reason(),
            None
        );
        assert_eq!(charge(None).unwrap().decline_reason(), None);
        assert_eq!(charge(None).unwrap().verdict(), PaymentStatus::Approved);
        assert_eq!(
            charge(Some("4000000000000002")).unwrap().verdict(),
            PaymentStatus::Declined
        );
        assert_eq!(
            charge(Some("4242424242424242"))
                .unwrap()
                .card_last4()
                .as_deref(),
            Some("4242")
        );
    }

    #[test]
    fn malformed_cards_and_values_are_refused() {
        assert!(charge(Some("12ab")).is_err());
        assert!(Charge::parse(&request(1, 2, 3, 4, 0, 1000, "Seoul", None)).is_err());
        assert!(Charge::parse(&request(0, 2, 3, 4, 1, 1000, "Seoul", None)).is_err());
        assert!(Charge::parse(&request(1, 2, 3, 4, 1, -5, "Seoul", None)).is_err());
    }
}
