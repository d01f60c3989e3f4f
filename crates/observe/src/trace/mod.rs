//! `eventrail trace`: one flow rebuilt from the functions' logs. Every function logs each
//! finished span as one `{"eventrail_span": ...}` line (contract `trace::SpanLine`); the
//! lookup searches the functions' log groups with FilterLogEvents, so it works wherever
//! CloudWatch Logs holds them (AWS, LocalStack), with no collector.
//!
//! - [`logs`]: log groups and FilterLogEvents, page by page ([`LogSearch`]).
//! - [`spans`]: span lines read back out of log messages.
//! - [`find`]: key -> trace ids -> every span of those traces, linked traces followed.
//! - [`tree`]: the hops of each trace, the gaps between them, where the flow stopped.
//! - [`waterfall`]: the text people read; [`otlp_json`]: OTLP JSON for Jaeger and
//!   otel-desktop-viewer.

mod error;
pub mod find;
pub mod logs;
pub mod otlp_json;
pub mod spans;
pub mod tree;
pub mod waterfall;

#[cfg(test)]
mod fixture;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use error::TraceError;
pub use find::{Found, Lookup};
pub use logs::{CloudWatchLogs, LogSearch};
pub use tree::{Hop, Stop, StopReason, TraceReport, TraceTree};

use crate::stack::Stack;

/// How many traces one lookup reads at most.
pub const MAX_TRACES: usize = 20;

/// A flow found in a stack's logs.
#[derive(Debug, Clone)]
pub struct Traced {
    /// The hops of each trace.
    pub report: TraceReport,
    /// What the search found (every span, for OTLP export; what it skipped).
    pub found: Found,
    /// How many log groups were searched.
    pub groups: usize,
}

/// Looks `key` up in the logs of every function of `stack` since `since` ago.
pub async fn trace_stack(stack: &Stack, key: &str, since: Duration) -> Result<Traced, TraceError> {
    let outputs = &stack.outputs;
    let mut groups = Vec::new();
    let mut failure_queues = BTreeMap::new();
    for function in &outputs.functions {
        if let Ok(name) = outputs.function_name(function) {
            groups.push(logs::log_group(name));
        }
        if let Ok(url) = outputs.failure_queue_url(function) {
            failure_queues.insert(function.clone(), url.to_owned());
        }
    }
    if groups.is_empty() {
        return Err(TraceError::NoFunctions);
    }
    let since_time = SystemTime::now().checked_sub(since).unwrap_or(UNIX_EPOCH);
    let since_ms = since_time
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let lookup = Lookup {
        key: key.to_owned(),
        groups,
        since_ms,
        max_traces: MAX_TRACES,
    };
    let search = CloudWatchLogs::new(&stack.clients.sdk_config);
    let found = find::find(&search, &lookup).await?;
    if found.spans.is_empty() {
        let since_text = chrono::DateTime::<chrono::Utc>::from(since_time)
            .format("%Y-%m-%d %H:%M UTC")
            .to_string();
        return Err(TraceError::NoSpans {
            key: key.to_owned(),
            functions: lookup.groups.len(),
            since: format!("{since_text} ({} ago)", human(since)),
            lines: if found.key_lines > 0 {
                format!(
                    " ({} log line{} name it, none of them a span of it)",
                    found.key_lines,
                    if found.key_lines == 1 { "" } else { "s" }
                )
            } else {
                String::new()
            },
        });
    }
    let report = tree::build(key, &found.spans, &failure_queues);
    Ok(Traced {
        report,
        found,
        groups: lookup.groups.len(),
    })
}

/// `90s` -> `1m30s`, `7200s` -> `2h`.
fn human(duration: Duration) -> String {
    let seconds = duration.as_secs();
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    let mut out = String::new();
    for (value, unit) in [(h, "h"), (m, "m"), (s, "s")] {
        if value > 0 {
            out.push_str(&format!("{value}{unit}"));
        }
    }
    if out.is_empty() { "0s".to_owned() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_reads_as_people_write_it() {
        assert_eq!(human(Duration::from_secs(7200)), "2h");
        assert_eq!(human(Duration::from_secs(90)), "1m30s");
        assert_eq!(human(Duration::ZERO), "0s");
    }
}
