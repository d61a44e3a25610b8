//! Logging and tracing.
//!
//! Logs: JSON lines by default (one object per event, machine-readable in any log stack),
//! `LOG_FORMAT=pretty` for humans. `RUST_LOG` filters as usual. Each JSON line lists the spans
//! it was written in (`spans`): the request it served (`request_id`, `trace_id`, see
//! [`crate::service`]) or the event(s) it applied (`event_id`, `event_type`, `order_id`,
//! `trace_id`, see [`crate::consumer`]).
//!
//! Traces: every span is an OpenTelemetry span too, so trace ids exist and propagate
//! ([`crate::trace`]) whether or not they are exported. With `OTEL_EXPORTER_OTLP_ENDPOINT` set
//! (`http://jaeger:4318`, say) they are exported over OTLP/HTTP (protobuf) in batches, from the
//! SDK's own thread; the standard `OTEL_*` variables of the exporter apply.

use std::io::Write;
use std::sync::{Arc, Mutex};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::WithHttpConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::settings;

/// Where traces are exported; unset: nowhere.
pub const OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// The variables logging and tracing read, besides each service's own settings: whether lines
/// are pretty, and where traces go.
pub fn read_variables() -> (bool, Option<String>) {
    settings::note("RUST_LOG");
    let pretty = settings::string("LOG_FORMAT", "json").eq_ignore_ascii_case("pretty");
    let endpoint = settings::string(OTLP_ENDPOINT, "");
    (pretty, (!endpoint.is_empty()).then_some(endpoint))
}

/// What [`init`] set up; [`Telemetry::shutdown`] sends the spans not exported yet.
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Telemetry {
    /// Flushes and stops the exporter (bounded by the exporter's timeout).
    pub async fn shutdown(self) {
        let provider = self.provider;
        let _ = tokio::task::spawn_blocking(move || provider.shutdown()).await;
    }
}

/// Installs logging and tracing for `service`. Call it inside the Tokio runtime: the exporter
/// sends through it.
pub fn init(service: &str) -> Telemetry {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,rdkafka=warn,tower_http=warn"));
    let (pretty, endpoint) = read_variables();
    let provider = tracer_provider(service, endpoint.as_deref());
    let lines = if pretty {
        tracing_subscriber::fmt::layer().boxed()
    } else {
        json_lines(std::io::stdout).boxed()
    };
    // try_init: tests start several services in one process; the first subscriber wins.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(lines)
        .with(spans_of(&provider, service))
        .try_init();
    match endpoint {
        Some(endpoint) => tracing::info!(service, endpoint, "exporting traces over OTLP"),
        None => tracing::debug!(service, "telemetry initialised; traces are not exported"),
    }
    Telemetry { provider }
}

/// With an `endpoint`: every span sampled (the caller's decision wins when it sent one; the
/// standard `OTEL_TRACES_SAMPLER` applies) and exported there in batches.
///
/// Without one, spans are not recorded unless a caller asked for its trace to be sampled: ids
/// are still made and propagated (every log line has its trace id, every hop continues the
/// trace), but no span's attributes, events and end are built for nobody to read. Recording
/// them was about a sixth of each service's CPU with nothing exporting (issue #27).
fn tracer_provider(service: &str, endpoint: Option<&str>) -> SdkTracerProvider {
    let builder = SdkTracerProvider::builder().with_resource(
        Resource::builder()
            .with_service_name(service.to_owned())
            .build(),
    );
    if endpoint.is_some() {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(OnTheRuntime::current())
            .build();
        match exporter {
            Ok(exporter) => return builder.with_batch_exporter(exporter).build(),
            Err(err) => eprintln!("traces will not be exported: {err}"),
        }
    }
    builder
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOff)))
        .build()
}

fn spans_of<S>(provider: &SdkTracerProvider, service: &str) -> impl Layer<S> + use<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(service.to_owned()))
        .with_location(false)
        .with_threads(false)
        .with_tracked_inactivity(false)
        // Spans only: a log line is not copied into its span as an OpenTelemetry event too (the
        // log files have every line, with its trace id), which spares an allocation per line.
        .with_filter(tracing_subscriber::filter::filter_fn(|metadata| {
            metadata.is_span()
        }))
}

/// The exporter's HTTP client: the workspace's reqwest, run on the service's own runtime. The
/// SDK exports from a thread of its own with a blocking executor, which cannot drive an async
/// client's I/O; handing each request to the runtime can.
#[derive(Debug)]
struct OnTheRuntime {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

impl OnTheRuntime {
    fn current() -> Self {
        Self {
            client: crate::client::http_client()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            runtime: tokio::runtime::Handle::current(),
        }
    }
}

#[async_trait::async_trait]
impl HttpClient for OnTheRuntime {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let request = reqwest::Request::try_from(request)?;
        let client = self.client.clone();
        let (status, headers, body) = self
            .runtime
            .spawn(async move {
                let response = client.execute(request).await?;
                let (status, headers) = (response.status(), response.headers().clone());
                Ok::<_, reqwest::Error>((status, headers, response.bytes().await?))
            })
            .await??;
        let mut response = Response::builder().status(status).body(body)?;
        *response.headers_mut() = headers;
        Ok(response)
    }
}

/// The JSON lines every service writes, to `writer`.
fn json_lines<S, W>(writer: W) -> impl Layer<S> + use<S, W>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_writer(writer)
}

/// Log lines kept in memory, in the services' JSON shape: for tests that check what a line
/// carries. Install it with `tracing::subscriber::set_default(captured.subscriber())`.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + 'static {
        let provider = tracer_provider("test", None);
        tracing_subscriber::registry()
            .with(json_lines(self.clone()))
            .with(spans_of(&provider, "test"))
    }

    /// Every line written so far whose message is `message`.
    pub fn lines_saying(&self, message: &str) -> Vec<serde_json::Value> {
        let bytes = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|line| line["message"] == message)
            .collect()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
