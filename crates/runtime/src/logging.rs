//! Structured JSON logs for Lambda: one JSON object per line, with the fields of the
//! current span (the runner opens one per event with its id and correlation id).

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber. Level from `RUST_LOG` (default `info`). Safe to call twice.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
        .try_init();
}
