//! Logging: JSON lines by default (one object per event, machine-readable in any log stack),
//! `LOG_FORMAT=pretty` for humans. `RUST_LOG` filters as usual.

use tracing_subscriber::EnvFilter;

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
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // try_init: tests start several services in one process; the first subscriber wins.
    let _ = if pretty {
        builder.try_init()
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init()
    };
    tracing::debug!(service, "telemetry initialised");
}
