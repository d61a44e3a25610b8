//! One W3C trace per order, carried across every hop of its saga.
//!
//! ```text
//! client ──traceparent──▶ gateway ──▶ order ──▶ payment          (HTTP: request spans)
//!                                       │
//!                                outbox row (traceparent column)
//!                                       │ relay
//!                          Kafka record (traceparent header)
//!                                       ▼
//!                     delivery, product, ... (a span per applied event)
//!                                       │ ... and so on, through their own outboxes
//! ```
//!
//! Each hop is done once, here: [`continue_request`] (the request span of every service and the
//! gateway), [`headers`] (every outgoing HTTP call), [`traceparent_of`] (what the outbox stores
//! with an event) and [`continue_event`] (the consumer's span of one event). Every span that
//! starts or continues a trace records its id in its `trace_id` field, so every log line
//! written inside it carries the trace id.

use std::collections::HashMap;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_http::HeaderExtractor;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The W3C Trace Context header, on HTTP requests and on Kafka records alike.
pub const HEADER: &str = "traceparent";

/// Makes `span` (not entered yet, with an empty `trace_id` field) continue the trace of an
/// incoming request's `traceparent`, or start one, and records the trace id on it.
pub fn continue_request(span: &tracing::Span, headers: &HeaderMap) {
    if headers.contains_key(HEADER) {
        let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
        if parent.span().span_context().is_valid() {
            let _ = span.set_parent(parent);
        }
    }
    record_trace_id(span);
}

/// Makes `span` continue the trace of a consumed event's `traceparent` (if it came with a valid
/// one), or start one, and records the trace id on it.
pub fn continue_event(span: &tracing::Span, traceparent: Option<&str>) {
    if let Some(value) = traceparent {
        let carrier = HashMap::from([(HEADER.to_owned(), value.to_owned())]);
        let parent = TraceContextPropagator::new().extract(&carrier);
        if parent.span().span_context().is_valid() {
            let _ = span.set_parent(parent);
        }
    }
    record_trace_id(span);
}

/// Links `span` to the trace of `traceparent`, for a span that serves several traces at once
/// (a batch of events) and so can be the child of none of them.
pub fn link(span: &tracing::Span, traceparent: &str) {
    let carrier = HashMap::from([(HEADER.to_owned(), traceparent.to_owned())]);
    let linked = TraceContextPropagator::new().extract(&carrier);
    span.add_link(linked.span().span_context().clone());
}

/// The `traceparent` that makes what follows a child of `span`: stored with an event in the
/// outbox, sent as a Kafka header. None when tracing is not set up (a unit test).
pub fn traceparent_of(span: &tracing::Span) -> Option<String> {
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&span.context(), &mut carrier);
    carrier.remove(HEADER)
}

/// The `traceparent` of the span the caller runs in.
pub fn current() -> Option<String> {
    traceparent_of(&tracing::Span::current())
}

/// The `traceparent` header for an outgoing request: the callee continues the caller's current
/// span. Set it in place of any the client sent (the gateway does not pass a client's through).
pub fn headers() -> Option<(HeaderName, HeaderValue)> {
    let value = HeaderValue::from_str(&current()?).ok()?;
    Some((HeaderName::from_static(HEADER), value))
}

/// The trace id of `span`, in the 32 hex digits Jaeger shows.
pub fn trace_id_of(span: &tracing::Span) -> Option<String> {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

fn record_trace_id(span: &tracing::Span) {
    if let Some(trace_id) = trace_id_of(span) {
        span.record("trace_id", trace_id);
    }
}

/// The trace id inside a `traceparent` value (`00-<trace id>-<span id>-<flags>`).
pub fn trace_id_in(traceparent: &str) -> Option<&str> {
    let mut parts = traceparent.split('-');
    let (_version, trace_id) = (parts.next()?, parts.next()?);
    (trace_id.len() == 32 && trace_id.bytes().all(|b| b.is_ascii_hexdigit())).then_some(trace_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::Captured;

    const INCOMING: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_request_continues_its_callers_trace_and_its_lines_carry_the_trace_id() {
        let captured = Captured::default();
        tracing::subscriber::with_default(captured.subscriber(), || {
            let mut incoming = HeaderMap::new();
            incoming.insert(HEADER, HeaderValue::from_static(INCOMING));
            let span = tracing::info_span!("request", trace_id = tracing::field::Empty);
            continue_request(&span, &incoming);
            span.in_scope(|| {
                tracing::info!("served");
                let (name, value) = super::headers().expect("a traceparent to send");
                assert_eq!(name, HEADER);
                let sent = value.to_str().unwrap();
                assert_eq!(trace_id_in(sent), trace_id_in(INCOMING));
                assert_ne!(
                    sent, INCOMING,
                    "the callee's parent is this span, not the caller"
                );
            });
        });
        let line = &captured.lines_saying("served")[0];
        assert_eq!(
            line["spans"][0]["trace_id"],
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
    }

    #[test]
    fn an_event_without_a_valid_traceparent_starts_a_trace_of_its_own() {
        let captured = Captured::default();
        tracing::subscriber::with_default(captured.subscriber(), || {
            for traceparent in [None, Some("garbage"), Some(INCOMING)] {
                let span = tracing::info_span!("event", trace_id = tracing::field::Empty);
                continue_event(&span, traceparent);
                let id = trace_id_of(&span).expect("a trace either way");
                let stored = traceparent_of(&span).unwrap();
                assert_eq!(trace_id_in(&stored), Some(id.as_str()));
                if traceparent == Some(INCOMING) {
                    assert_eq!(id, "4bf92f3577b34da6a3ce929d0e0e4736");
                } else {
                    assert_ne!(id, "4bf92f3577b34da6a3ce929d0e0e4736");
                }
            }
        });
    }

    #[test]
    fn with_nothing_exporting_only_a_trace_its_caller_sampled_is_recorded() {
        let captured = Captured::default();
        tracing::subscriber::with_default(captured.subscriber(), || {
            for (traceparent, recorded) in [(None, false), (Some(INCOMING), true)] {
                let span = tracing::info_span!("event", trace_id = tracing::field::Empty);
                continue_event(&span, traceparent);
                let context = span.context();
                assert_eq!(context.span().is_recording(), recorded, "{traceparent:?}");
                assert!(context.span().span_context().is_valid(), "{traceparent:?}");
            }
        });
    }

    #[test]
    fn trace_ids_are_read_only_from_well_formed_traceparents() {
        assert_eq!(
            trace_id_in(INCOMING),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(trace_id_in("00-xyz-00f067aa0ba902b7-01"), None);
        assert_eq!(trace_id_in(""), None);
    }
}
