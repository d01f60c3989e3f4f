//! Structured JSON logs for Lambda: one JSON object per line, with the fields of the
//! current span (the runner opens one per event with its id and correlation id).
//!
//! [`run`](crate::run) installs this layer together with the span export (finished spans as
//! span lines, OTLP when configured: `trace::export`); [`init`] installs the logs alone.

use tracing::Subscriber;
use tracing_subscriber::{
    EnvFilter, Layer, filter::LevelFilter, registry::LookupSpan, util::SubscriberInitExt,
};

/// Installs the JSON log subscriber alone (no span export). Level from `RUST_LOG` (default
/// `info`). Safe to call twice.
pub fn init() {
    use tracing_subscriber::layer::SubscriberExt;
    let _ = tracing_subscriber::registry().with(json_layer()).try_init();
}

/// The JSON log layer, filtered by `RUST_LOG` (default `info`).
///
/// A plain level (`info`, `debug`, …: what the template sets) is a level filter; anything
/// else (`eventrail_runtime=debug,info`) is parsed as an `EnvFilter`, whose directive parser
/// costs a cold start about a millisecond more.
pub(crate) fn json_layer<S>() -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let spec = std::env::var("RUST_LOG").unwrap_or_default();
    let layer = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false);
    match plain_level(&spec) {
        Some(level) => layer.with_filter(level).boxed(),
        None => {
            let filter = EnvFilter::try_new(&spec).unwrap_or_else(|_| EnvFilter::new("info"));
            layer.with_filter(filter).boxed()
        }
    }
}

/// The level `spec` names when it is one level alone (or empty: `info`).
fn plain_level(spec: &str) -> Option<LevelFilter> {
    let spec = spec.trim();
    if spec.is_empty() {
        return Some(LevelFilter::INFO);
    }
    spec.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_levels_skip_the_directive_parser() {
        assert_eq!(plain_level(""), Some(LevelFilter::INFO));
        assert_eq!(plain_level("info"), Some(LevelFilter::INFO));
        assert_eq!(plain_level(" DEBUG "), Some(LevelFilter::DEBUG));
        assert_eq!(plain_level("off"), Some(LevelFilter::OFF));
        assert_eq!(plain_level("eventrail_runtime=debug,info"), None);
        assert_eq!(plain_level("warn,hyper=off"), None);
    }
}
