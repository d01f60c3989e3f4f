//! Tracing: one trace per flow, across every hop.
//!
//! - [`context`]: propagation. A consumer continues the trace of the event that caused it
//!   (its `metadata.traceparent`); a producer continues its caller's (an HTTP request's
//!   `traceparent`, the Lambda context's X-Ray trace id, `_X_AMZN_TRACE_ID`) or starts one;
//!   the publisher writes the publish span's context into every event it sends, and its
//!   X-Ray form into every entry's `TraceHeader`.
//! - [`ids`]: trace ids X-Ray accepts (the first 32 bits are the start second).
//! - [`spans`]: the spans of a hop (invocation, decode, handler, publish, dead letter,
//!   idempotency check), as `tracing` spans that `tracing-opentelemetry` turns into
//!   OpenTelemetry spans.
//! - [`redelivery`]: replayed, redriven and re-put events, and the 30-day rule.
//! - [`business_key`]: the app's business key, looked up in an event's data.
//! - [`export`]: where finished spans go (the function's log, OTLP when configured).

pub(crate) mod business_key;
pub(crate) mod context;
pub(crate) mod event;
pub(crate) mod export;
pub(crate) mod ids;
pub(crate) mod inject;
pub(crate) mod redelivery;
pub(crate) mod spans;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
