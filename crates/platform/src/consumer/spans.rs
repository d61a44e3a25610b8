//! The spans a consumer applies events in: every line logged meanwhile names the events and
//! their traces, and each applied event is a span of its order's trace.

use std::collections::HashMap;

use contracts::Envelope;

use super::Received;
use crate::trace;

/// The spans of one transaction of a consumer.
pub(super) struct Applying {
    /// What the handler runs in: the event's own span for one event; for a batch applied
    /// together, a span naming every event (their ids, types, orders and trace ids, in order),
    /// linked to each event's span.
    pub span: tracing::Span,
    /// For a batch, one span per event in that event's trace, open until the batch commits.
    _events: Vec<tracing::Span>,
    /// The trace each order's published events continue: its event's span.
    pub traces: HashMap<i64, String>,
}

pub(super) fn applying(events: &[&Received]) -> Applying {
    let event_span = |received: &Received| {
        let envelope = &received.envelope;
        let span = tracing::info_span!(
            "event",
            event_id = %envelope.event_id,
            event_type = envelope.event_type(),
            order_id = envelope.order_id,
            trace_id = tracing::field::Empty,
            otel.name = %format_args!("apply {}", envelope.event_type()),
            otel.kind = "consumer",
        );
        trace::continue_event(&span, received.traceparent.as_deref());
        span
    };
    let traces_of = |spans: &[tracing::Span]| {
        events
            .iter()
            .zip(spans)
            .filter_map(|(received, span)| {
                Some((received.envelope.order_id?, trace::traceparent_of(span)?))
            })
            .collect()
    };
    if let [one] = events {
        let span = event_span(one);
        let traces = traces_of(std::slice::from_ref(&span));
        return Applying {
            span,
            _events: Vec::new(),
            traces,
        };
    }
    let spans: Vec<tracing::Span> = events.iter().map(|e| event_span(e)).collect();
    let trace_ids: Vec<String> = spans
        .iter()
        .map(|span| trace::trace_id_of(span).unwrap_or_else(|| "-".to_owned()))
        .collect();
    let envelopes: Vec<&Envelope> = events.iter().map(|e| &e.envelope).collect();
    let many = envelopes.as_slice();
    let span = tracing::info_span!(
        "events",
        otel.name = %format_args!("apply {} events", many.len()),
        otel.kind = "consumer",
        count = many.len(),
        event_ids = %Listed(many, |e, f| write!(f, "{}", e.event_id)),
        event_types = %Listed(many, |e, f| f.write_str(e.event_type())),
        order_ids = %Listed(many, |e, f| match e.order_id {
            Some(id) => write!(f, "{id}"),
            None => f.write_str("-"),
        }),
        trace_ids = %trace_ids.join(","),
    );
    for event in &spans {
        if let Some(traceparent) = trace::traceparent_of(event) {
            trace::link(&span, &traceparent);
        }
    }
    let traces = traces_of(&spans);
    Applying {
        span,
        _events: spans,
        traces,
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

    use super::{Received, applying};
    use crate::telemetry::Captured;
    use crate::trace;

    /// The spans of a line logged inside `span`, as the services write them.
    fn spans_of_a_line_in(span: impl FnOnce() -> tracing::Span) -> serde_json::Value {
        let captured = Captured::default();
        tracing::subscriber::with_default(captured.subscriber(), || {
            span().in_scope(|| tracing::info!("applying"));
        });
        captured.lines_saying("applying")[0]["spans"].clone()
    }

    fn cancelled(order_id: i64) -> Received {
        Received {
            envelope: Envelope::new(
                "payment",
                Event::PaymentCancelled(PaymentCancelled {
                    payment_id: 1,
                    order_id,
                    product_id: 1,
                    qty: 1,
                    amount: 1,
                }),
            ),
            traceparent: Some(format!("00-{:032x}-00f067aa0ba902b7-01", order_id)),
        }
    }

    #[test]
    fn a_line_written_while_applying_an_event_names_it() {
        let one = cancelled(42);
        let spans = spans_of_a_line_in(|| applying(&[&one]).span);
        assert_eq!(spans[0]["event_id"], one.envelope.event_id.to_string());
        assert_eq!(spans[0]["event_type"], "PaymentCancelled");
        assert_eq!(spans[0]["order_id"], 42);
        assert_eq!(spans[0]["trace_id"], format!("{:032x}", 42));
    }

    #[test]
    fn a_line_written_while_applying_a_batch_names_each_event_in_order() {
        let (first, second) = (cancelled(7), cancelled(8));
        let spans = spans_of_a_line_in(|| applying(&[&first, &second]).span);
        assert_eq!(spans[0]["count"], 2);
        assert_eq!(
            spans[0]["event_ids"],
            format!("{},{}", first.envelope.event_id, second.envelope.event_id)
        );
        assert_eq!(spans[0]["event_types"], "PaymentCancelled,PaymentCancelled");
        assert_eq!(spans[0]["order_ids"], "7,8");
        assert_eq!(spans[0]["trace_ids"], format!("{:032x},{:032x}", 7, 8));
    }

    #[test]
    fn what_a_batch_publishes_for_an_order_continues_that_orders_trace() {
        let captured = Captured::default();
        tracing::subscriber::with_default(captured.subscriber(), || {
            let (first, second) = (cancelled(7), cancelled(8));
            let applying = applying(&[&first, &second]);
            for order_id in [7, 8] {
                let continued = trace::trace_id_in(&applying.traces[&order_id]).unwrap();
                assert_eq!(continued, format!("{order_id:032x}"));
            }
        });
    }
}
