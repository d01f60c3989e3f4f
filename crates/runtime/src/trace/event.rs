//! The consumer span of one event, `process <detail-type>`: opened from the raw event before
//! it is decoded (so decoding is inside it), with the event's trace context as parent (or the
//! redelivery span, [`crate::trace::redelivery`]), closed with the hop's result.

use eventrail_contract::trace::{HopResult, attr};
use opentelemetry::trace::SpanContext;
use serde_json::Value;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::trace::business_key::BusinessKey;
use crate::trace::context::{Remote, from_metadata};
use crate::trace::ids::now_epoch_seconds;
use crate::trace::redelivery::{event_parent, of_event};
use crate::trace::spans::{self, FaasTrigger, Invocation};

/// Where an event is processed: one invocation, or one record of a batch.
#[derive(Debug, Clone, Default)]
pub(crate) struct Hop<'a> {
    /// Lambda's request id (empty outside Lambda).
    pub(crate) request_id: &'a str,
    /// The function's name.
    pub(crate) function: &'a str,
    /// Set for a batch's record.
    pub(crate) record: Option<Record>,
}

/// A batch's record.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    /// The batch's span, which the record's span links to.
    pub(crate) batch: SpanContext,
    /// SQS's receive count of the record.
    pub(crate) receive_count: u32,
    /// Whether this is its last receive (a failure is then for good, not retried).
    pub(crate) last_receive: bool,
}

/// What a raw event says about its trace, read without decoding it.
#[derive(Debug, Default)]
pub(crate) struct Peek<'a> {
    pub(crate) id: &'a str,
    pub(crate) detail_type: &'a str,
    pub(crate) correlation_id: &'a str,
    pub(crate) replay_name: Option<&'a str>,
    pub(crate) traceparent: Option<&'a str>,
    pub(crate) tracestate: Option<&'a str>,
    pub(crate) data: Option<&'a Value>,
}

impl<'a> Peek<'a> {
    /// Reads `raw` (an EventBridge event, maybe malformed: what is missing is empty).
    pub(crate) fn of(raw: &'a Value) -> Self {
        let text = |pointer: &str| raw.pointer(pointer).and_then(Value::as_str);
        Self {
            id: text("/id").unwrap_or_default(),
            detail_type: text("/detail-type").unwrap_or_default(),
            correlation_id: text("/detail/metadata/correlation_id").unwrap_or_default(),
            replay_name: text("/replay-name"),
            traceparent: text("/detail/metadata/traceparent"),
            tracestate: text("/detail/metadata/tracestate"),
            data: raw.pointer("/detail/data"),
        }
    }

    /// The trace context the event carries, if valid.
    pub(crate) fn remote(&self) -> Option<Remote> {
        from_metadata(self.traceparent, self.tracestate, self.id)
    }
}

/// An event's open consumer span (and the redelivery span around it).
#[derive(Debug)]
pub(crate) struct EventSpan {
    /// `process <detail-type>`.
    pub(crate) span: tracing::Span,
    redelivery: Option<tracing::Span>,
    last_receive: bool,
}

impl EventSpan {
    /// Opens the consumer span of `raw` (`None`: a payload that is not JSON).
    pub(crate) fn open(
        raw: Option<&Value>,
        hop: &Hop<'_>,
        business_key: Option<&BusinessKey>,
    ) -> Self {
        let peek = raw.map(Peek::of).unwrap_or_default();
        let remote = peek.remote();
        let kind = of_event(peek.replay_name, peek.tracestate);
        let parent = event_parent(
            remote.as_ref(),
            kind,
            peek.replay_name,
            peek.detail_type,
            now_epoch_seconds(),
        );
        let span = spans::process(peek.detail_type, peek.id, peek.correlation_id);
        let _ = span.set_parent(parent.context);
        spans::set_invocation(
            &span,
            &Invocation {
                trigger: FaasTrigger::PubSub,
                request_id: hop.request_id,
                function: hop.function,
            },
        );
        if let Some(record) = &hop.record {
            span.add_link(record.batch.clone());
            span.set_attribute(attr::RECEIVE_COUNT, i64::from(record.receive_count));
        }
        if let (Some(key), Some(data)) = (business_key, peek.data)
            && let Some(value) = key.value(data)
        {
            span.set_attribute(attr::BUSINESS_KEY, value);
        }
        spans::reset_skip();
        Self {
            span,
            redelivery: parent.redelivery,
            last_receive: hop.record.as_ref().is_some_and(|r| r.last_receive),
        }
    }

    /// Records the idempotency key once the event is decoded.
    pub(crate) fn idempotency_key(&self, key: &str) {
        self.span
            .set_attribute(attr::IDEMPOTENCY_KEY, key.to_owned());
    }

    /// Closes the span with how the hop ended: handled (published, or skipped by the
    /// idempotency utility), dead-lettered as poison, or failed (retried; on a record's last
    /// receive, a handler failure for good). `failure` is the error's text.
    pub(crate) fn close(self, outcome: Closed<'_>) {
        let (result, error) = match outcome {
            Closed::Handled if spans::skipped() => (HopResult::IdempotentSkip, None),
            Closed::Handled => (HopResult::Published, None),
            Closed::Poison(reason) => (HopResult::Poison, Some(reason)),
            Closed::Failed(error) if self.last_receive => (HopResult::HandlerFailure, Some(error)),
            Closed::Failed(error) => (HopResult::Retried, Some(error)),
        };
        spans::hop_result(&self.span, result, error);
        drop(self.span);
        drop(self.redelivery);
    }
}

/// How a hop ended, for [`EventSpan::close`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Closed<'a> {
    /// Handled.
    Handled,
    /// Dead-lettered at once, with the reason.
    Poison(&'a str),
    /// Failed, with the error.
    Failed(&'a str),
}
