//! The spans a consumer applies events in, so that every line logged meanwhile names them.

use contracts::Envelope;

/// The span every line written while applying `events` carries: the event's id, type and order
/// for one event (a single message, or a failed batch replayed one by one); for a batch applied
/// together, the count and every event's id, type and order, in order.
pub(super) fn span_of(events: &[&Envelope]) -> tracing::Span {
    match events {
        [one] => tracing::info_span!(
            "event",
            event_id = %one.event_id,
            event_type = one.event_type(),
            order_id = one.order_id,
        ),
        many => tracing::info_span!(
            "events",
            count = many.len(),
            event_ids = %Listed(many, |e, f| write!(f, "{}", e.event_id)),
            event_types = %Listed(many, |e, f| f.write_str(e.event_type())),
            order_ids = %Listed(many, |e, f| match e.order_id {
                Some(id) => write!(f, "{id}"),
                None => f.write_str("-"),
            }),
        ),
    }
}

/// One field of each event, comma-separated.
struct Listed<'a>(
    &'a [&'a Envelope],
    fn(&Envelope, &mut std::fmt::Formatter<'_>) -> std::fmt::Result,
);

impl std::fmt::Display for Listed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, envelope) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            (self.1)(envelope, f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use contracts::{Envelope, Event, PaymentCancelled};

    use super::span_of;
    use crate::telemetry::Captured;

    /// The spans of a line logged inside `span`, as the services write them.
    fn spans_of_a_line_in(span: impl FnOnce() -> tracing::Span) -> serde_json::Value {
        let captured = Captured::default();
        tracing::subscriber::with_default(captured.subscriber(), || {
            span().in_scope(|| tracing::info!("applying"));
        });
        captured.lines_saying("applying")[0]["spans"].clone()
    }

    fn cancelled(order_id: i64) -> Envelope {
        Envelope::new(
            "payment",
            Event::PaymentCancelled(PaymentCancelled {
                payment_id: 1,
                order_id,
                product_id: 1,
                qty: 1,
                amount: 1,
            }),
        )
    }

    #[test]
    fn a_line_written_while_applying_an_event_names_it() {
        let one = cancelled(42);
        let spans = spans_of_a_line_in(|| span_of(&[&one]));
        assert_eq!(spans[0]["event_id"], one.event_id.to_string());
        assert_eq!(spans[0]["event_type"], "PaymentCancelled");
        assert_eq!(spans[0]["order_id"], 42);
    }

    #[test]
    fn a_line_written_while_applying_a_batch_names_each_event_in_order() {
        let (first, second) = (cancelled(7), cancelled(8));
        let spans = spans_of_a_line_in(|| span_of(&[&first, &second]));
        assert_eq!(spans[0]["count"], 2);
        assert_eq!(
            spans[0]["event_ids"],
            format!("{},{}", first.event_id, second.event_id)
        );
        assert_eq!(spans[0]["event_types"], "PaymentCancelled,PaymentCancelled");
        assert_eq!(spans[0]["order_ids"], "7,8");
    }
}
