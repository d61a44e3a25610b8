//! The synchronous call to payment, and what its answers mean for the order.

use contracts::PaymentStatus;
use contracts::calls::{CHARGE_PATH, ChargeRequest, Charged};
use platform::client::{CallError, ServiceClient};
use serde::Deserialize;

use crate::db::Order;

#[derive(Clone)]
pub struct Payments {
    client: ServiceClient,
}

#[derive(Debug, Deserialize)]
struct ErrorView {
    message: String,
}

#[derive(Debug)]
pub enum Outcome {
    Approved {
        payment_id: i64,
    },
    Declined {
        message: String,
    },
    /// Payment refused the request itself (4xx other than 402).
    Refused {
        message: String,
    },
    /// Payment certainly did not process the request (unreachable, breaker open).
    Unavailable(CallError),
    /// Payment may or may not have processed it (timeout, 5xx): the recovery loop will ask.
    Uncertain(CallError),
}

impl Payments {
    pub fn new(client: ServiceClient) -> Self {
        Self { client }
    }

    /// Charges the order; `orderId` is payment's idempotency key.
    pub async fn charge(&self, order: &Order, card_number: Option<&str>) -> Outcome {
        let request = ChargeRequest {
            order_id: order.id,
            customer_id: order.customer_id,
            seller_id: order.seller_id,
            product_id: order.product_id,
            qty: i64::from(order.qty),
            amount: order.amount,
            address: order.address.clone(),
            card_number: card_number.map(str::to_owned),
        };
        match self.client.post_json(CHARGE_PATH, &request).await {
            Ok(reply) if reply.status.is_success() => match reply.json::<Charged>() {
                Ok(payment) if payment.status == PaymentStatus::Approved => Outcome::Approved {
                    payment_id: payment.id,
                },
                Ok(payment) => Outcome::Declined {
                    message: format!("payment is {}", payment.status),
                },
                Err(err) => {
                    Outcome::Uncertain(CallError::Failed("payment".into(), err.to_string()))
                }
            },
            Ok(reply) => {
                let message = reply
                    .json::<ErrorView>()
                    .map(|e| e.message)
                    .unwrap_or_else(|_| format!("payment answered {}", reply.status));
                if reply.status.as_u16() == 402 {
                    Outcome::Declined { message }
                } else {
                    Outcome::Refused { message }
                }
            }
            Err(err @ (CallError::Open(_) | CallError::Unreachable(..))) => {
                Outcome::Unavailable(err)
            }
            Err(err) => Outcome::Uncertain(err),
        }
    }

    /// The order's payment, if payment has one.
    pub async fn lookup(&self, order_id: i64) -> Result<Option<Charged>, CallError> {
        let reply = self
            .client
            .get(&format!("{CHARGE_PATH}?orderId={order_id}"))
            .await?;
        if !reply.status.is_success() {
            return Err(CallError::Failed(
                "payment".into(),
                format!("answered {}", reply.status),
            ));
        }
        let mut found: Vec<Charged> = reply
            .json()
            .map_err(|e| CallError::Failed("payment".into(), e.to_string()))?;
        Ok(found.pop())
    }
}
