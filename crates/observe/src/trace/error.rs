//! Why `eventrail trace` found nothing, or could not search; each message says what to try.

use crate::error::ObserveError;

/// Errors of the trace lookup.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The key cannot be a FilterLogEvents quoted term.
    #[error(
        "`{key}` cannot be searched for: give a business key, correlation id or event id \
         without double quotes or line breaks"
    )]
    BadKey {
        /// What was given.
        key: String,
    },

    /// No span line names the key.
    #[error(
        "no spans found for {key} in the logs of {functions} functions since {since}{lines}; \
         is tracing on (the functions log one `eventrail_span` line per span unless \
         OTEL_TRACES_SAMPLER turns sampling off)? try --since 2h, or another key (the \
         business key, the correlation id or an event id)"
    )]
    NoSpans {
        /// The key.
        key: String,
        /// How many functions' log groups were searched.
        functions: usize,
        /// Since when (`2026-12-07 10:00 UTC (1h ago)`).
        since: String,
        /// ` (N log lines name it, none of them a span)` when some did.
        lines: String,
    },

    /// The stack names no function, so there is no log to search.
    #[error(
        "the stack outputs name no function (`<Function>FunctionName`): deploy the stack, or \
         name it with --stack / --env"
    )]
    NoFunctions,

    /// FilterLogEvents failed.
    #[error(transparent)]
    Observe(#[from] ObserveError),
}
