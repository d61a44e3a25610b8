//! A real OTLP/HTTP trace receiver (protobuf on `POST /v1/traces`, what Jaeger and the
//! OpenTelemetry collector accept), on a free port: it decodes every export and keeps its spans,
//! for tests that check what was exported and for the bench's cost of exporting.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::StatusCode;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use prost::Message as _;

/// One span received.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    /// The exporting service (its resource's `service.name`).
    pub service: String,
    /// 32 hex digits.
    pub trace_id: String,
    pub name: String,
}

/// What the receiver got so far.
#[derive(Clone, Default)]
pub struct Received {
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
    bytes: Arc<Mutex<u64>>,
}

impl Received {
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Bytes of the export requests' bodies.
    pub fn bytes(&self) -> u64 {
        *self.bytes.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn keep(&self, body: &Bytes) -> StatusCode {
        let Ok(request) = ExportTraceServiceRequest::decode(body.clone()) else {
            return StatusCode::BAD_REQUEST;
        };
        *self.bytes.lock().unwrap_or_else(|e| e.into_inner()) += body.len() as u64;
        let mut spans = self.spans.lock().unwrap_or_else(|e| e.into_inner());
        for resource_spans in request.resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                    any_value::Value::StringValue(name) => Some(name.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    spans.push(ReceivedSpan {
                        service: service.clone(),
                        trace_id: span.trace_id.iter().map(|b| format!("{b:02x}")).collect(),
                        name: span.name,
                    });
                }
            }
        }
        StatusCode::OK
    }
}

/// Starts a receiver on 127.0.0.1; its base URL (what `OTEL_EXPORTER_OTLP_ENDPOINT` takes) and
/// what it receives. It runs until the runtime ends.
pub async fn receiver() -> std::io::Result<(String, Received)> {
    let received = Received::default();
    let keeper = received.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: Bytes| {
            let keeper = keeper.clone();
            async move { keeper.keep(&body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, received))
}
