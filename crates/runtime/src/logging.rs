//! Structured JSON logs for Lambda: one JSON object per line, with the fields of the
//! current span (the runner opens one per event with its id and correlation id).

use tracing_subscriber::{
    EnvFilter,
    filter::LevelFilter,
    fmt::{
        SubscriberBuilder,
        format::{Format, Json, JsonFields},
    },
};

/// Installs the JSON subscriber. Level from `RUST_LOG` (default `info`). Safe to call twice.
///
/// A plain level (`info`, `debug`, …: what the template sets) is a level filter; anything
/// else (`eventrail_runtime=debug,info`) is parsed as an `EnvFilter`, whose directive parser
/// costs a cold start about a millisecond more.
pub fn init() {
    let spec = std::env::var("RUST_LOG").unwrap_or_default();
    let _ = match plain_level(&spec) {
        Some(level) => json().with_max_level(level).try_init(),
        None => {
            let filter = EnvFilter::try_new(&spec).unwrap_or_else(|_| EnvFilter::new("info"));
            json().with_env_filter(filter).try_init()
        }
    };
}

/// The level `spec` names when it is one level alone (or empty: `info`).
fn plain_level(spec: &str) -> Option<LevelFilter> {
    let spec = spec.trim();
    if spec.is_empty() {
        return Some(LevelFilter::INFO);
    }
    spec.parse().ok()
}

fn json() -> SubscriberBuilder<JsonFields, Format<Json>> {
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
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
