//! Trace context in and out: what a hop continues (an event's `metadata.traceparent`, a
//! caller's X-Ray header or `traceparent`) and what it hands on (a span's context, as the
//! `traceparent`/`tracestate` the publisher writes and the X-Ray `TraceHeader` it sets).
//!
//! A value that does not read is ignored with a warning: a bad `traceparent` never makes an
//! event poison, the hop starts a new trace instead.

use std::str::FromStr;

use eventrail_contract::trace::{TRACESTATE_KEY, TraceParent};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The environment variable Lambda sets to the invocation's X-Ray trace header.
pub(crate) const XRAY_ENV: &str = "_X_AMZN_TRACE_ID";

/// A trace context received from upstream: the span to continue and the `tracestate` that
/// travels with it (eventrail's own redelivery member taken out: it marks one delivery, not
/// the flow).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Remote {
    /// The upstream span (an event's publish span, a caller's span).
    pub(crate) parent: TraceParent,
    /// The other vendors' `tracestate` members, if any.
    pub(crate) tracestate: Option<String>,
}

impl Remote {
    /// The OpenTelemetry context whose (remote) span is this one: what a span's `set_parent`
    /// takes.
    pub(crate) fn context(&self) -> opentelemetry::Context {
        opentelemetry::Context::new().with_remote_span_context(self.span_context())
    }

    /// The OpenTelemetry span context of the upstream span (for a span link).
    pub(crate) fn span_context(&self) -> SpanContext {
        let state = self
            .tracestate
            .as_deref()
            .and_then(|state| TraceState::from_str(state).ok())
            .unwrap_or_default();
        SpanContext::new(
            TraceId::from(self.parent.trace_id),
            SpanId::from(self.parent.span_id),
            if self.parent.sampled {
                TraceFlags::SAMPLED
            } else {
                TraceFlags::default()
            },
            true,
            state,
        )
    }
}

/// The context an event carries in its metadata, if it carries a valid one. An invalid
/// `traceparent` is logged (with the event's id) and ignored.
pub(crate) fn from_metadata(
    traceparent: Option<&str>,
    tracestate: Option<&str>,
    event_id: &str,
) -> Option<Remote> {
    let value = traceparent?;
    match TraceParent::parse(value) {
        Ok(parent) => Some(Remote {
            parent,
            tracestate: tracestate.and_then(without_own_member),
        }),
        Err(error) => {
            tracing::warn!(event_id, %error, "ignoring the event's traceparent; its hop starts a new trace");
            None
        }
    }
}

/// The caller's context for a producer: an HTTP request's `traceparent` header first, then
/// the Lambda context's X-Ray trace id, then `_X_AMZN_TRACE_ID`. Invalid values are logged
/// and skipped.
pub(crate) fn from_caller(
    http_traceparent: Option<&str>,
    http_tracestate: Option<&str>,
    xray_trace_id: Option<&str>,
) -> Option<Remote> {
    if let Some(value) = http_traceparent {
        match TraceParent::parse(value) {
            Ok(parent) => {
                return Some(Remote {
                    parent,
                    tracestate: http_tracestate.and_then(without_own_member),
                });
            }
            Err(error) => {
                tracing::warn!(%error, "ignoring the request's traceparent header");
            }
        }
    }
    let env = std::env::var(XRAY_ENV).ok();
    for header in [xray_trace_id, env.as_deref()].into_iter().flatten() {
        match TraceParent::from_xray_header(header) {
            Ok(parent) => {
                return Some(Remote {
                    parent,
                    tracestate: None,
                });
            }
            Err(error) => tracing::warn!(%error, "ignoring the invocation's X-Ray trace header"),
        }
    }
    None
}

/// The context of `span` as the next hop receives it: its `traceparent` and the `tracestate`
/// it carries (never eventrail's redelivery member). `None` without a tracer (no
/// OpenTelemetry layer): then there is no trace to continue.
pub(crate) fn of_span(span: &tracing::Span) -> Option<(TraceParent, Option<String>)> {
    let context = span.context();
    let span_ref = context.span();
    let span_context = span_ref.span_context();
    if !span_context.is_valid() {
        return None;
    }
    let parent = TraceParent {
        trace_id: u128::from_be_bytes(span_context.trace_id().to_bytes()),
        span_id: u64::from_be_bytes(span_context.span_id().to_bytes()),
        sampled: span_context.is_sampled(),
    };
    let state = span_context.trace_state().header();
    Some((parent, without_own_member(&state)))
}

/// `tracestate` without eventrail's member; `None` when nothing is left.
pub(crate) fn without_own_member(tracestate: &str) -> Option<String> {
    let kept: Vec<&str> = tracestate
        .split(',')
        .map(str::trim)
        .filter(|member| {
            !member.is_empty()
                && member
                    .split_once('=')
                    .is_none_or(|(key, _)| key.trim() != TRACESTATE_KEY)
        })
        .collect();
    (!kept.is_empty()).then(|| kept.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARENT: &str = "00-6000000011112222333344445555aaaa-00f067aa0ba902b7-01";

    #[test]
    fn an_events_traceparent_is_continued_without_the_redelivery_mark() {
        let remote = from_metadata(
            Some(PARENT),
            Some("eventrail=redrive,congo=t61rcWkgMzE"),
            "e-1",
        )
        .unwrap();
        assert_eq!(remote.parent.to_string(), PARENT);
        assert_eq!(remote.tracestate.as_deref(), Some("congo=t61rcWkgMzE"));
        let context = remote.context();
        let span = context.span();
        let span_context = span.span_context();
        assert!(span_context.is_remote() && span_context.is_sampled());
        assert_eq!(
            format!("{:032x}", span_context.trace_id()),
            "6000000011112222333344445555aaaa"
        );
        assert_eq!(span_context.trace_state().header(), "congo=t61rcWkgMzE");
    }

    #[test]
    fn a_bad_traceparent_is_ignored() {
        assert_eq!(from_metadata(Some("00-zz-01"), None, "e-1"), None);
        assert_eq!(from_metadata(None, Some("congo=x"), "e-1"), None);
        assert_eq!(without_own_member("eventrail=replay"), None);
    }

    #[test]
    fn a_callers_header_comes_before_xray() {
        let xray = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        let from_http = from_caller(Some(PARENT), None, Some(xray)).unwrap();
        assert_eq!(from_http.parent.to_string(), PARENT);
        let from_xray = from_caller(Some("garbage"), None, Some(xray)).unwrap();
        assert_eq!(from_xray.parent.to_xray_header(), xray);
    }
}
