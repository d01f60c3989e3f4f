//! The spans of one hop, named and attributed as OpenTelemetry's FaaS and messaging
//! conventions say (attribute names: [`eventrail_contract::trace::attr`]).
//!
//! Every span here has the target [`TARGET`]: the OpenTelemetry layer takes only those, so
//! `lambda_runtime`'s own span and the kit's log-only spans do not become stray traces.
//! Names are dynamic (`process TaskCreated`): the `otel.name` field carries them, `otel.kind`
//! the span kind. Attributes go through `set_attribute`, which costs nothing without a tracer.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

use eventrail_contract::trace::{HopResult, attr};
use opentelemetry::trace::Status;
use opentelemetry::{Array, StringValue, Value};
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The target of every span that becomes an OpenTelemetry span.
pub(crate) const TARGET: &str = "eventrail::trace";

/// How an invocation was triggered (`faas.trigger`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaasTrigger {
    /// A message: an EventBridge event, an SQS record.
    PubSub,
    /// An HTTP request.
    Http,
    /// A schedule.
    Timer,
    /// A direct invoke.
    Other,
}

impl FaasTrigger {
    fn as_str(self) -> &'static str {
        match self {
            Self::PubSub => "pubsub",
            Self::Http => "http",
            Self::Timer => "timer",
            Self::Other => "other",
        }
    }
}

/// What every invocation span says about its invocation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Invocation<'a> {
    /// What triggered it.
    pub(crate) trigger: FaasTrigger,
    /// Lambda's request id (empty outside Lambda).
    pub(crate) request_id: &'a str,
    /// The function's name.
    pub(crate) function: &'a str,
}

static WARM: AtomicBool = AtomicBool::new(false);

/// True for the first invocation span of the process only.
fn cold_start() -> bool {
    !WARM.swap(true, Ordering::Relaxed)
}

/// Sets the FaaS attributes of an invocation (or a batch's record) on `span`.
pub(crate) fn set_invocation(span: &tracing::Span, invocation: &Invocation<'_>) {
    span.set_attribute(attr::FAAS_TRIGGER, invocation.trigger.as_str());
    if !invocation.request_id.is_empty() {
        span.set_attribute(attr::FAAS_INVOCATION_ID, invocation.request_id.to_owned());
    }
    span.set_attribute(attr::FAAS_COLDSTART, cold_start());
    span.set_attribute(attr::FAAS_NAME, invocation.function.to_owned());
    span.set_attribute(attr::CLOUD_PROVIDER, "aws");
}

/// A producer's invocation span: `invoke <fn>` (direct, kind server), `schedule <fn>`
/// (internal), `<METHOD> <route>` (server).
pub(crate) fn invocation(
    name: String,
    kind: &'static str,
    invocation: &Invocation<'_>,
) -> tracing::Span {
    let span = tracing::info_span!(
        target: TARGET,
        "invocation",
        otel.name = name.as_str(),
        otel.kind = kind,
        request_id = invocation.request_id,
    );
    set_invocation(&span, invocation);
    span
}

/// The consumer span of one event, `process <detail-type>` (kind consumer): the invocation
/// span of a single-event invocation, the record span of a batch. `event_id` and
/// `correlation_id` are also fields, so the log lines written in it name the event.
pub(crate) fn process(detail_type: &str, event_id: &str, correlation_id: &str) -> tracing::Span {
    let name = format!("process {detail_type}");
    let span = tracing::info_span!(
        target: TARGET,
        "event",
        otel.name = name.as_str(),
        otel.kind = "consumer",
        event_id,
        correlation_id,
        detail_type,
    );
    span.set_attribute(attr::MESSAGING_SYSTEM, "aws_eventbridge");
    span.set_attribute(attr::MESSAGING_OPERATION_TYPE, "process");
    if !event_id.is_empty() {
        span.set_attribute(attr::MESSAGING_MESSAGE_ID, event_id.to_owned());
    }
    if !detail_type.is_empty() {
        span.set_attribute(attr::DETAIL_TYPE, detail_type.to_owned());
    }
    if !correlation_id.is_empty() {
        span.set_attribute(attr::CORRELATION_ID, correlation_id.to_owned());
    }
    span
}

/// A batch's invocation span, `process <queue>` (kind consumer).
pub(crate) fn batch(queue: &str, records: usize) -> tracing::Span {
    let name = format!("process {queue}");
    let span = tracing::info_span!(
        target: TARGET,
        "batch",
        otel.name = name.as_str(),
        otel.kind = "consumer",
        records,
    );
    span.set_attribute(attr::MESSAGING_SYSTEM, "aws_sqs");
    span.set_attribute(attr::MESSAGING_OPERATION_TYPE, "process");
    span.set_attribute(attr::MESSAGING_DESTINATION_NAME, queue.to_owned());
    span.set_attribute(
        attr::MESSAGING_BATCH_MESSAGE_COUNT,
        i64::try_from(records).unwrap_or(i64::MAX),
    );
    span
}

/// `decode <detail-type>` (internal): decoding and validating the event.
pub(crate) fn decode(detail_type: &str) -> tracing::Span {
    let name = format!("decode {detail_type}");
    tracing::info_span!(target: TARGET, "decode", otel.name = name.as_str(), otel.kind = "internal")
}

/// `handle <detail-type>` (internal): the handler. With the event's id and correlation id as
/// fields, as the log lines the handler writes name them.
pub(crate) fn handle(detail_type: &str, event_id: &str, correlation_id: &str) -> tracing::Span {
    let name = format!("handle {detail_type}");
    tracing::info_span!(
        target: TARGET,
        "handle",
        otel.name = name.as_str(),
        otel.kind = "internal",
        event_id,
        correlation_id,
        detail_type,
    )
}

/// `publish <bus>` (producer): one PutEvents call of `count` entries.
pub(crate) fn publish(bus: &str, detail_types: &[&str]) -> tracing::Span {
    let name = format!("publish {bus}");
    let span = tracing::info_span!(
        target: TARGET,
        "publish",
        otel.name = name.as_str(),
        otel.kind = "producer",
        entries = detail_types.len(),
    );
    span.set_attribute(attr::MESSAGING_SYSTEM, "aws_eventbridge");
    span.set_attribute(attr::MESSAGING_OPERATION_TYPE, "publish");
    span.set_attribute(attr::MESSAGING_OPERATION_NAME, "PutEvents");
    span.set_attribute(attr::MESSAGING_DESTINATION_NAME, bus.to_owned());
    span.set_attribute(
        attr::MESSAGING_BATCH_MESSAGE_COUNT,
        i64::try_from(detail_types.len()).unwrap_or(i64::MAX),
    );
    let mut distinct: Vec<&str> = Vec::new();
    for detail_type in detail_types {
        if !distinct.contains(detail_type) {
            distinct.push(detail_type);
        }
    }
    match distinct.as_slice() {
        [one] => span.set_attribute(attr::DETAIL_TYPE, (*one).to_owned()),
        several => span.set_attribute(attr::DETAIL_TYPE, strings(several)),
    }
    span
}

/// Records the event ids a publish got back, in entry order (`None`: the entry failed).
pub(crate) fn published_ids(span: &tracing::Span, ids: &[Option<&str>]) {
    let ids: Vec<&str> = ids.iter().map(|id| id.unwrap_or_default()).collect();
    span.set_attribute(attr::EVENT_IDS, strings(&ids));
}

/// `send <failure-queue-name>` (producer): one dead letter.
pub(crate) fn dead_letter(queue_url: &str, reason: &str) -> tracing::Span {
    let queue = queue_url.rsplit('/').next().unwrap_or(queue_url);
    let name = format!("send {queue}");
    let span = tracing::info_span!(
        target: TARGET,
        "dead_letter",
        otel.name = name.as_str(),
        otel.kind = "producer",
    );
    span.set_attribute(attr::MESSAGING_SYSTEM, "aws_sqs");
    span.set_attribute(attr::MESSAGING_OPERATION_TYPE, "send");
    span.set_attribute(attr::MESSAGING_OPERATION_NAME, "SendMessage");
    span.set_attribute(attr::MESSAGING_DESTINATION_NAME, queue.to_owned());
    span.set_attribute(attr::FAILURE_QUEUE, queue.to_owned());
    span.set_attribute(attr::FAILURE_REASON, reason.to_owned());
    span
}

/// `idempotency check` (client): one look-up of `key` in the idempotency store.
pub(crate) fn idempotency_check(key: &str) -> tracing::Span {
    let span = tracing::info_span!(
        target: TARGET,
        "idempotency",
        otel.name = "idempotency check",
        otel.kind = "client",
        outcome = Empty,
    );
    span.set_attribute(attr::IDEMPOTENCY_KEY, key.to_owned());
    span
}

/// The outcome of an idempotency check (`new`, `completed`, `in_progress`, ...).
pub(crate) fn idempotency_outcome(span: &tracing::Span, outcome: &'static str) {
    span.record("outcome", outcome);
    span.set_attribute("eventrail.idempotency_outcome", outcome);
}

/// Marks `span` failed with `message`.
pub(crate) fn fail(span: &tracing::Span, message: impl Into<String>) {
    span.set_status(Status::error(message.into()));
}

/// Ends a consumer span's hop: `eventrail.result`, and the status (error for a poison event,
/// a handler failure or a retry, with `error`).
pub(crate) fn hop_result(span: &tracing::Span, result: HopResult, error: Option<&str>) {
    span.set_attribute(attr::RESULT, result.as_str());
    match result {
        HopResult::Published | HopResult::IdempotentSkip => span.set_status(Status::Ok),
        HopResult::Poison | HopResult::HandlerFailure | HopResult::Retried => {
            fail(span, error.unwrap_or(result.as_str()));
        }
    }
}

thread_local! {
    /// Set by the idempotency utility when it skips a key already done: the hop's result is
    /// then `idempotent_skip`. The kit runs one event at a time on one thread (a Lambda
    /// sandbox, a current-thread runtime), so a thread-local flag is the hop's.
    static SKIPPED: Cell<bool> = const { Cell::new(false) };
}

/// Forgets an earlier hop's skip (at the start of a hop).
pub(crate) fn reset_skip() {
    SKIPPED.with(|skipped| skipped.set(false));
}

/// The idempotency utility skipped the hop's side effect.
pub(crate) fn note_skip() {
    SKIPPED.with(|skipped| skipped.set(true));
}

/// Whether the hop's side effect was skipped since [`reset_skip`].
pub(crate) fn skipped() -> bool {
    SKIPPED.with(Cell::get)
}

fn strings(values: &[&str]) -> Value {
    Value::Array(Array::String(
        values
            .iter()
            .map(|value| StringValue::from((*value).to_owned()))
            .collect(),
    ))
}
