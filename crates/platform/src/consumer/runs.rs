//! Splitting a consumed batch into what one statement can apply together and what goes alone.

use contracts::{Envelope, Event};

/// A stretch of a batch: consecutive events one statement can apply together, or one event
/// applied on its own.
pub enum Run<'a, T> {
    Together(Vec<&'a T>),
    Alone(&'a Envelope),
}

/// Splits `envelopes` into maximal stretches of consecutive events `pick` accepts, and the
/// others one at a time, keeping their order: a handler applies the common event set-based
/// and the rare ones as it always did, and the outcome is the same as one by one.
pub fn runs<'a, T>(
    envelopes: &[&'a Envelope],
    pick: impl Fn(&'a Event) -> Option<&'a T>,
) -> Vec<Run<'a, T>> {
    let mut runs = Vec::new();
    for envelope in envelopes {
        match (pick(&envelope.event), runs.last_mut()) {
            (Some(picked), Some(Run::Together(run))) => run.push(picked),
            (Some(picked), _) => runs.push(Run::Together(vec![picked])),
            (None, _) => runs.push(Run::Alone(envelope)),
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use contracts::{PaymentCancelled, PaymentCompleted};

    use super::*;

    fn paid(order_id: i64) -> Envelope {
        Envelope::new(
            "payment",
            Event::PaymentCompleted(PaymentCompleted {
                payment_id: order_id,
                order_id,
                customer_id: 1,
                seller_id: 1,
                product_id: 1,
                qty: 1,
                amount: 1,
                address: "Seoul".into(),
            }),
        )
    }

    fn cancelled(order_id: i64) -> Envelope {
        Envelope::new(
            "payment",
            Event::PaymentCancelled(PaymentCancelled {
                payment_id: order_id,
                order_id,
                product_id: 1,
                qty: 1,
                amount: 1,
            }),
        )
    }

    /// The order ids of each run; an event applied alone shows as its order id negated.
    fn shape(envelopes: &[Envelope]) -> Vec<Vec<i64>> {
        let refs: Vec<&Envelope> = envelopes.iter().collect();
        runs(&refs, Event::as_payment_completed)
            .into_iter()
            .map(|run| match run {
                Run::Together(paid) => paid.iter().map(|p| p.order_id).collect(),
                Run::Alone(envelope) => vec![-envelope.event.order_id().unwrap_or(0)],
            })
            .collect()
    }

    #[test]
    fn runs_group_consecutive_picked_events_and_keep_the_order() {
        assert!(shape(&[]).is_empty());
        assert_eq!(shape(&[paid(1), paid(2)]), vec![vec![1, 2]]);
        assert_eq!(
            shape(&[
                paid(1),
                paid(2),
                cancelled(1),
                cancelled(3),
                paid(3),
                paid(4)
            ]),
            vec![vec![1, 2], vec![-1], vec![-3], vec![3, 4]]
        );
        assert_eq!(shape(&[cancelled(5)]), vec![vec![-5]]);
    }
}
