//! What every request served by a service or the gateway gets: its span (request id, caller,
//! trace) and one access-log line.

/// The span of one request: every line logged while serving it carries its request id (set
/// by the layer outside this one, or the caller's `x-request-id`) and its trace id (the
/// caller's `traceparent` continued, or a new trace).
pub(crate) fn span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|id| id.to_str().ok())
        .unwrap_or_default();
    let span = tracing::info_span!(
        "request",
        request_id,
        method = %request.method(),
        path = request.uri().path(),
        caller = tracing::field::Empty,
        trace_id = tracing::field::Empty,
        otel.name = %operation_name(request.method(), request.uri().path()),
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
    );
    crate::trace::continue_request(&span, request.headers());
    span
}

/// What a request is called in a trace: its method and path with numeric segments as `{id}`
/// (`POST /orders/{id}/cancel`), so that tracing tools group requests by operation.
fn operation_name(method: &axum::http::Method, path: &str) -> String {
    let path: Vec<&str> = path
        .split('/')
        .map(|segment| {
            let numeric = !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit());
            if numeric { "{id}" } else { segment }
        })
        .collect();
    format!("{method} {}", path.join("/"))
}

/// The access log: one line per request, inside its span (so with its request and trace ids);
/// a 5xx marks the request's span as failed.
pub(crate) fn log_response(
    response: &axum::http::Response<axum::body::Body>,
    latency: std::time::Duration,
    span: &tracing::Span,
) {
    if response.status().is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    tracing::info!(
        status = response.status().as_u16(),
        latency_us = latency.as_micros() as u64,
        "served"
    );
}

#[cfg(test)]
mod tests {
    use super::operation_name;

    #[test]
    fn requests_are_named_by_operation_not_by_id() {
        let post = axum::http::Method::POST;
        assert_eq!(operation_name(&post, "/orders"), "POST /orders");
        assert_eq!(
            operation_name(&post, "/orders/42/cancel"),
            "POST /orders/{id}/cancel"
        );
        assert_eq!(
            operation_name(&axum::http::Method::GET, "/sellers/7/orders"),
            "GET /sellers/{id}/orders"
        );
    }
}
