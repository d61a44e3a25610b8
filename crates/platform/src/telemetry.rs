//! Logging: JSON lines by default (one object per event, machine-readable in any log stack),
//! `LOG_FORMAT=pretty` for humans. `RUST_LOG` filters as usual.
//!
//! Each JSON line lists the spans it was written in (`spans`): the request it served
//! (`request_id`, see [`crate::service`]) or the event(s) it applied (`event_id`, `event_type`,
//! `order_id`, see [`crate::consumer`]).

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{Format, Json, JsonFields};
use tracing_subscriber::fmt::{MakeWriter, SubscriberBuilder};

use crate::settings;

/// The variables logging reads, besides each service's own settings.
pub fn read_variables() -> bool {
    settings::note("RUST_LOG");
    settings::string("LOG_FORMAT", "json").eq_ignore_ascii_case("pretty")
}

pub fn init(service: &str) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,rdkafka=warn,tower_http=warn"));
    let pretty = read_variables();
    // try_init: tests start several services in one process; the first subscriber wins.
    let _ = if pretty {
        tracing_subscriber::fmt().with_env_filter(filter).try_init()
    } else {
        json_lines(std::io::stdout)
            .with_env_filter(filter)
            .try_init()
    };
    tracing::debug!(service, "telemetry initialised");
}

/// The JSON lines every service writes, to `writer`.
fn json_lines<W>(
    writer: W,
) -> SubscriberBuilder<JsonFields, Format<Json>, tracing::level_filters::LevelFilter, W>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
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
        json_lines(self.clone()).finish()
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
