//! The consumer runner: typed handlers over `lambda_runtime` and EventBridge envelopes.

use std::{future::Future, sync::Arc, time::SystemTime};

use aws_lambda_events::eventbridge::EventBridgeEvent;
use eventrail_contract::{EmbeddedManifest, Envelope, Event, Metadata, Validate};
use lambda_runtime::{LambdaEvent, service_fn};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::Instrument;

use crate::{
    DeadLetter, DeadLetterError, DeadLetterSink, EventBridgePutEvents, LazyClient, OutgoingEvent,
    PublishError, Publisher, PutEventsApi, RawEvent, RuntimeConfig, SqsDeadLetterQueue,
    payload::{EnvelopeFields, RawPayloadLayer, RawPayloads, decode_payload},
};

/// A decoded, validated event handed to a handler.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming<E> {
    /// EventBridge event id.
    pub id: String,
    /// `source`.
    pub source: String,
    /// `detail-type`.
    pub detail_type: String,
    /// Flow metadata from `detail.metadata`.
    pub metadata: Metadata,
    /// The typed payload.
    pub data: E,
    /// `detail.data` as received, before `E` dropped or reshaped anything: what idempotency
    /// hashes ([`crate::idempotency::payload_hash`]).
    pub raw_data: Value,
    /// When Lambda stops this invocation (`None` outside Lambda, e.g. in tests). The
    /// idempotency utility lets an in-progress record expire then, so a crashed attempt does
    /// not block its retries.
    pub deadline: Option<SystemTime>,
}

/// A failure of the handler.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// Worth retrying (a dependency is down). Returned to Lambda as an error: Lambda retries,
    /// then sends the event to the function's on-failure destination.
    #[error("retryable error: {0}")]
    Retryable(String),
    /// The event can never be processed. It goes to the dead-letter queue at once.
    #[error("poison event: {0}")]
    Poison(String),
}

impl HandlerError {
    /// A retryable error from anything displayable.
    pub fn retryable(error: impl std::fmt::Display) -> Self {
        Self::Retryable(error.to_string())
    }

    /// A poison event, with the reason.
    pub fn poison(reason: impl std::fmt::Display) -> Self {
        Self::Poison(reason.to_string())
    }
}

/// A typed event the handler wants published, before the runner adds metadata.
#[derive(Debug, Clone, PartialEq)]
struct Draft {
    source: &'static str,
    detail_type: &'static str,
    version: u32,
    data: Result<Value, String>,
}

/// What a handler produced: events to publish and side effects to report.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Emitted {
    drafts: Vec<Draft>,
    effects: Vec<Value>,
}

impl Emitted {
    /// Nothing to publish.
    pub fn none() -> Self {
        Self::default()
    }

    /// One event to publish.
    pub fn one<E: Event>(event: E) -> Self {
        Self::none().and(event)
    }

    /// Adds an event to publish.
    pub fn and<E: Event>(mut self, event: E) -> Self {
        self.drafts.push(Draft {
            source: E::SOURCE,
            detail_type: E::DETAIL_TYPE,
            version: E::VERSION,
            data: serde_json::to_value(&event).map_err(|e| e.to_string()),
        });
        self
    }

    /// Records a side effect (a message written, a row stored) for the response and logs.
    pub fn with_effect(mut self, effect: Value) -> Self {
        self.effects.push(effect);
        self
    }

    /// Detail-types to publish, in order.
    pub fn detail_types(&self) -> Vec<&'static str> {
        self.drafts.iter().map(|d| d.detail_type).collect()
    }

    /// The payload of the `index`-th event, decoded as `E` (tests use this).
    pub fn payload<E: Event>(&self, index: usize) -> Option<E> {
        let draft = self
            .drafts
            .get(index)
            .filter(|d| d.detail_type == E::DETAIL_TYPE)?;
        serde_json::from_value(draft.data.clone().ok()?).ok()
    }

    /// Side effects recorded.
    pub fn effects(&self) -> &[Value] {
        &self.effects
    }
}

/// A function's logic: typed event in, events to emit out.
pub trait Handler<E: Event>: Send + Sync {
    /// Handles one event. Must be safe to run twice on the same event.
    fn handle(
        &self,
        event: Incoming<E>,
    ) -> impl Future<Output = Result<Emitted, HandlerError>> + Send;
}

impl<E, F, Fut> Handler<E> for F
where
    E: Event,
    F: Fn(Incoming<E>) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Emitted, HandlerError>> + Send,
{
    fn handle(
        &self,
        event: Incoming<E>,
    ) -> impl Future<Output = Result<Emitted, HandlerError>> + Send {
        self(event)
    }
}

/// One emitted event, as reported in the invocation's response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmittedSummary {
    /// `detail-type`.
    pub detail_type: String,
    /// Id EventBridge assigned; absent in dry-run mode.
    pub event_id: Option<String>,
    /// The full `detail` (metadata + data).
    pub detail: Value,
}

/// The invocation's response.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// The handler succeeded and its events were published.
    Handled {
        /// The incoming event.
        event_id: String,
        /// The flow.
        correlation_id: String,
        /// What was published (or would be, in dry-run mode).
        emitted: Vec<EmittedSummary>,
        /// Side effects the handler reported.
        effects: Vec<Value>,
        /// True when nothing was sent to AWS.
        dry_run: bool,
    },
    /// The event was poison and went to the dead-letter queue.
    DeadLettered {
        /// The incoming event, if it had an id.
        event_id: Option<String>,
        /// Why.
        reason: String,
        /// SQS message id; absent in dry-run mode.
        message_id: Option<String>,
        /// True when nothing was sent to AWS.
        dry_run: bool,
    },
}

/// A retryable failure of the invocation (returned to Lambda as an error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsumerError {
    /// The handler asked for a retry.
    #[error("event {event_id}: {source}")]
    Handler {
        /// The event.
        event_id: String,
        /// The handler's error.
        source: HandlerError,
    },
    /// Some emitted events could not be published.
    #[error("event {event_id}: {} emitted event(s) not published: {}", failures.len(), failures.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Publish {
        /// The incoming event.
        event_id: String,
        /// One error per failed event.
        failures: Vec<PublishError>,
    },
    /// The handler emitted an event its declaration does not list. A bug in the function:
    /// nothing is published, and the event ends in the on-failure queue after Lambda's retries,
    /// to be redriven once the declaration or the handler is fixed.
    #[error(
        "event {event_id}: the handler emitted {detail_type}, which this function does not declare \
         (declared: {declared}); add it to `emits` in [package.metadata.eventrail] and regenerate \
         the template with `eventrail infra generate`"
    )]
    Undeclared {
        /// The incoming event.
        event_id: String,
        /// The detail-type emitted.
        detail_type: String,
        /// What the declaration lists.
        declared: String,
    },
    /// A poison event could not be dead-lettered, so the invocation fails rather than lose it.
    #[error(transparent)]
    DeadLetter(#[from] DeadLetterError),
    /// The invocation's payload was not handed over by the layer that sets it aside (a bug
    /// in the kit's wiring); the invocation fails so Lambda's failure record keeps the event.
    #[error("invocation {request_id}: the kit did not receive the payload")]
    MissingPayload {
        /// Lambda's request id.
        request_id: String,
    },
}

impl From<ConsumerError> for lambda_runtime::Diagnostic {
    fn from(error: ConsumerError) -> Self {
        let error_type = match &error {
            ConsumerError::Handler { .. } => "eventrail.RetryableHandlerError",
            ConsumerError::Publish { .. } => "eventrail.PublishError",
            ConsumerError::Undeclared { .. } => "eventrail.UndeclaredEvent",
            ConsumerError::DeadLetter(_) => "eventrail.DeadLetterError",
            ConsumerError::MissingPayload { .. } => "eventrail.MissingPayload",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// Runs a [`Handler`] on raw EventBridge events: decode, classify, publish, dead-letter.
pub struct Consumer<E, H, P, D> {
    handler: H,
    publisher: Option<Publisher<P>>,
    dead_letters: Option<D>,
    function_name: String,
    /// Detail-types the function may emit; `None` allows any (tests without a declaration).
    declared_emits: Option<Vec<String>>,
    _event: std::marker::PhantomData<fn() -> E>,
}

impl<E, H, P, D> Consumer<E, H, P, D>
where
    E: Event,
    H: Handler<E>,
    P: PutEventsApi,
    D: DeadLetterSink,
{
    /// A consumer. `publisher` and `dead_letters` are `None` in dry-run mode: emitted events
    /// and dead letters are then only reported in the response.
    pub fn new(
        handler: H,
        publisher: Option<Publisher<P>>,
        dead_letters: Option<D>,
        function_name: impl Into<String>,
    ) -> Self {
        Self {
            handler,
            publisher,
            dead_letters,
            function_name: function_name.into(),
            declared_emits: None,
            _event: std::marker::PhantomData,
        }
    }

    /// Only the detail-types in `emits` may be published: anything else the handler emits
    /// fails the invocation with [`ConsumerError::Undeclared`] (the declaration's `emits`).
    pub fn with_declared_emits(mut self, emits: Vec<String>) -> Self {
        self.declared_emits = Some(emits);
        self
    }

    /// Processes one raw event. `Ok` when handled or dead-lettered; `Err` when Lambda should retry.
    pub async fn process(&self, raw: Value) -> Result<Outcome, ConsumerError> {
        self.process_until(raw, None).await
    }

    /// Processes one invocation's payload, the bytes Lambda delivered: the kit decodes them
    /// itself, so a payload that does not decode (nested too deep, a lone surrogate, a number
    /// out of range, not JSON, not an object) is a poison event with the reason, dead-lettered
    /// at once with the payload kept whole ([`DeadLetter::event_raw`]).
    pub async fn process_payload(
        &self,
        payload: &[u8],
        deadline: Option<SystemTime>,
    ) -> Result<Outcome, ConsumerError> {
        match decode_payload(payload) {
            Ok(raw) => self.process_until(raw, deadline).await,
            Err((error, Some(value))) => {
                self.dead_letter(Original::Json(value), error.to_string(), None)
                    .await
            }
            Err((error, None)) => {
                self.dead_letter(Original::Raw(payload), error.to_string(), None)
                    .await
            }
        }
    }

    /// [`Consumer::process`] for an invocation that Lambda stops at `deadline` (handed to the
    /// handler as [`Incoming::deadline`]). Publishing is bounded by it, less the time a dead
    /// letter and the answer need, so a slow bus fails the invocation with a retryable error
    /// instead of Lambda's timeout killing it mid-publish.
    pub async fn process_until(
        &self,
        raw: Value,
        deadline: Option<SystemTime>,
    ) -> Result<Outcome, ConsumerError> {
        let publish_by = deadline.map(publish_deadline);
        let incoming = match decode::<E>(&raw, deadline) {
            Ok(incoming) => incoming,
            Err(reason) => return self.dead_letter(Original::Json(raw), reason, None).await,
        };
        let span = tracing::info_span!(
            "event",
            event_id = %incoming.id,
            correlation_id = %incoming.metadata.correlation_id,
            detail_type = %incoming.detail_type,
        );
        self.handle(raw, incoming, publish_by)
            .instrument(span)
            .await
    }

    async fn handle(
        &self,
        raw: Value,
        incoming: Incoming<E>,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Outcome, ConsumerError> {
        let event_id = incoming.id.clone();
        let cause = incoming.metadata.clone();
        tracing::info!("handling event");
        let emitted = match self.handler.handle(incoming).await {
            Ok(emitted) => emitted,
            Err(HandlerError::Poison(reason)) => {
                return self
                    .dead_letter(Original::Json(raw), reason, Some(&cause))
                    .await;
            }
            Err(source) => {
                tracing::error!(error = %source, "handler failed; returning the error so Lambda retries");
                return Err(ConsumerError::Handler { event_id, source });
            }
        };
        if let Some(declared) = &self.declared_emits
            && let Some(undeclared) = emitted
                .detail_types()
                .into_iter()
                .find(|t| !declared.iter().any(|d| d == t))
        {
            let error = ConsumerError::Undeclared {
                event_id: event_id.clone(),
                detail_type: undeclared.to_owned(),
                declared: if declared.is_empty() {
                    "nothing".to_owned()
                } else {
                    declared.join(", ")
                },
            };
            tracing::error!(error = %error, "handler emitted an undeclared event");
            return Err(error);
        }
        let published = match emitted_events(&emitted, &event_id, &cause) {
            Ok(outgoing) => self.publish(&event_id, outgoing, deadline).await,
            Err(failures) => Err(ConsumerError::Publish {
                event_id: event_id.clone(),
                failures,
            }),
        };
        let summaries = match published {
            Ok(summaries) => summaries,
            // An emitted event that can never be published (it does not serialise, is over the
            // size limit, or EventBridge refuses it for good) makes its cause poison: retrying
            // cannot help, so it goes to the dead-letter queue at once, with the reason.
            Err(ConsumerError::Publish { failures, .. })
                if failures.iter().any(PublishError::is_permanent) =>
            {
                let reasons: Vec<String> = failures
                    .iter()
                    .filter(|f| f.is_permanent())
                    .map(ToString::to_string)
                    .collect();
                let reason = format!(
                    "an emitted event can never be published: {}",
                    reasons.join("; ")
                );
                return self
                    .dead_letter(Original::Json(raw), reason, Some(&cause))
                    .await;
            }
            Err(error) => return Err(error),
        };
        // Effects may hold personal data (an outbox message has the customer's email): log
        // how many there were, never what they hold.
        if !emitted.effects().is_empty() {
            tracing::info!(effects = emitted.effects().len(), "side effects done");
        }
        Ok(Outcome::Handled {
            event_id,
            correlation_id: cause.correlation_id,
            emitted: summaries,
            effects: emitted.effects,
            dry_run: self.publisher.is_none(),
        })
    }

    async fn publish(
        &self,
        event_id: &str,
        emitted: Vec<(OutgoingEvent, Value)>,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Vec<EmittedSummary>, ConsumerError> {
        let (outgoing, details): (Vec<OutgoingEvent>, Vec<(String, Value)>) = emitted
            .into_iter()
            .map(|(event, detail)| {
                let detail_type = event.detail_type.clone();
                (event, (detail_type, detail))
            })
            .unzip();
        let Some(publisher) = &self.publisher else {
            return Ok(details
                .into_iter()
                .map(|(detail_type, detail)| EmittedSummary {
                    detail_type,
                    event_id: None,
                    detail,
                })
                .collect());
        };
        if outgoing.is_empty() {
            return Ok(Vec::new());
        }
        let results = publisher.publish_all_before(outgoing, deadline).await;
        let mut summaries = Vec::new();
        let mut failures = Vec::new();
        for (result, (detail_type, detail)) in results.into_iter().zip(details) {
            match result {
                Ok(published) => {
                    tracing::info!(emitted_event_id = %published.event_id, emitted = %detail_type, "published");
                    summaries.push(EmittedSummary {
                        detail_type,
                        event_id: Some(published.event_id),
                        detail,
                    });
                }
                Err(error) => failures.push(error),
            }
        }
        if failures.is_empty() {
            Ok(summaries)
        } else {
            let error = ConsumerError::Publish {
                event_id: event_id.to_owned(),
                failures,
            };
            tracing::error!(error = %error, "publishing failed; returning the error so Lambda retries");
            Err(error)
        }
    }

    async fn dead_letter(
        &self,
        original: Original<'_>,
        reason: String,
        cause: Option<&Metadata>,
    ) -> Result<Outcome, ConsumerError> {
        let reason = bounded(&reason, MAX_REASON_BYTES);
        let (fields, event, event_raw) = match original {
            Original::Json(raw) => {
                let text = |pointer: &str| {
                    raw.pointer(pointer)
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                };
                let fields = EnvelopeFields {
                    id: text("/id"),
                    detail_type: text("/detail-type"),
                    correlation_id: text("/detail/metadata/correlation_id"),
                };
                (fields, raw, None)
            }
            Original::Raw(payload) => (
                EnvelopeFields::read(payload),
                Value::Null,
                Some(RawEvent::from_bytes(payload)),
            ),
        };
        let event_id = fields.id;
        let correlation_id = cause
            .map(|m| m.correlation_id.clone())
            .or(fields.correlation_id);
        tracing::warn!(event_id = event_id.as_deref().unwrap_or("<none>"), %reason, "poison event; sending it to the dead-letter queue without retries");
        let letter = DeadLetter {
            kind: "poison".to_owned(),
            function: self.function_name.clone(),
            reason: reason.clone(),
            event_id: event_id.clone(),
            correlation_id,
            detail_type: fields.detail_type.map(|t| bounded(&t, 256)),
            failed_at: chrono::Utc::now().to_rfc3339(),
            event,
            event_raw,
            event_stored_at: None,
        };
        let message_id = match &self.dead_letters {
            Some(sink) => Some(sink.send(&letter).await?),
            None => None,
        };
        Ok(Outcome::DeadLettered {
            event_id,
            reason,
            message_id,
            dry_run: self.dead_letters.is_none(),
        })
    }
}

/// A poison event as the dead letter keeps it.
enum Original<'a> {
    /// Decoded JSON (the letter's `event`).
    Json(Value),
    /// Bytes that did not decode (the letter's `event_raw`).
    Raw(&'a [u8]),
}

/// Decodes and validates a raw EventBridge event as `E`. The error is the poison reason.
fn decode<E: Event>(raw: &Value, deadline: Option<SystemTime>) -> Result<Incoming<E>, String> {
    let mut envelope = EventBridgeEvent::<Value>::deserialize(raw).map_err(|e| {
        format!(
            "not an EventBridge event: {}",
            without_values(&e.to_string())
        )
    })?;
    let id = match envelope.id {
        Some(id) if !id.trim().is_empty() => id,
        _ => {
            return Err(
                "id: the event has no id, so the events this function emits could not \
                        name their cause (causation_id); events put through EventBridge always \
                        have one"
                    .to_owned(),
            );
        }
    };
    let source = envelope.source;
    let detail_type = envelope.detail_type;
    if !E::accepts(&source, &detail_type) {
        return Err(format!(
            "unexpected event {detail_type} from {source}: this function consumes {} from {}",
            E::DETAIL_TYPE,
            E::SOURCE
        ));
    }
    let detail: Envelope<E> = serde_path_to_error::deserialize(&envelope.detail).map_err(|e| {
        format!(
            "detail.{}: {} (does not decode as {})",
            e.path(),
            without_values(&e.inner().to_string()),
            E::DETAIL_TYPE
        )
    })?;
    if detail.metadata.schema_version > E::VERSION {
        return Err(format!(
            "detail.metadata.schema_version: {} is newer than the {} this function understands ({})",
            detail.metadata.schema_version,
            E::DETAIL_TYPE,
            E::VERSION
        ));
    }
    detail.validate().map_err(|e| format!("detail.{e}"))?;
    let raw_data = envelope
        .detail
        .get_mut("data")
        .map(Value::take)
        .unwrap_or_default();
    Ok(Incoming {
        id,
        source,
        detail_type,
        metadata: detail.metadata,
        data: detail.data,
        raw_data,
        deadline,
    })
}

/// Longest reason a dead letter carries; the rest is cut (the event itself is kept whole).
const MAX_REASON_BYTES: usize = 2048;

/// A decoding error's message without the values it quotes: dead letters and logs name the
/// field and what was wrong, never the data (which may be personal, or huge). serde writes
/// values as `string "..."`, ``integer `5` ``, ``unknown variant `X` `` and the like.
pub fn without_values(message: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let (found, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
            let kind = found
                .split([' ', '`', '"'])
                .next()
                .filter(|k| !k.is_empty())
                .unwrap_or("value");
            let kind = match kind {
                "floating" => "floating point",
                "unit" => "null",
                other => other,
            };
            let what = prefix.trim_end_matches(": ");
            return if expected.is_empty() {
                format!("{what}: a {kind}")
            } else {
                format!("{what}: a {kind}, expected {}", bounded(expected, 200))
            };
        }
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let expected = rest.split_once(", expected ").map(|(_, e)| e).unwrap_or("");
        return format!("unknown variant, expected {}", bounded(expected, 200));
    }
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let expected = rest.split_once(", expected ").map(|(_, e)| e).unwrap_or("");
        return format!("unknown field, expected {}", bounded(expected, 200));
    }
    bounded(message, 500)
}

/// `text` cut to at most `max` bytes, on a character boundary, marked when cut.
pub(crate) fn bounded(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes cut)", &text[..end], text.len() - end)
}

/// Adds the flow's metadata to what the handler emitted: each event ready to send, with its
/// `detail` as JSON for the response.
fn emitted_events(
    emitted: &Emitted,
    cause_id: &str,
    cause: &Metadata,
) -> Result<Vec<(OutgoingEvent, Value)>, Vec<PublishError>> {
    let mut outgoing = Vec::new();
    let mut failures = Vec::new();
    for (index, draft) in emitted.drafts.iter().enumerate() {
        let metadata = cause.caused(cause_id, draft.version, draft.detail_type, index);
        match &draft.data {
            Ok(data) => {
                let detail = serde_json::json!({ "metadata": metadata, "data": data });
                let event = OutgoingEvent {
                    source: draft.source.to_owned(),
                    detail_type: draft.detail_type.to_owned(),
                    detail: detail.to_string(),
                    resources: Vec::new(),
                    idempotency_key: metadata.idempotency_key,
                };
                outgoing.push((event, detail));
            }
            Err(reason) => failures.push(PublishError::Serialize {
                detail_type: draft.detail_type.to_owned(),
                idempotency_key: metadata.idempotency_key,
                reason: reason.clone(),
            }),
        }
    }
    if failures.is_empty() {
        Ok(outgoing)
    } else {
        Err(failures)
    }
}

/// An S3 client for the failed-events bucket. Path-style addressing when an endpoint is set
/// (LocalStack), as virtual-hosted bucket names need DNS the local stack does not serve.
fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let mut config = aws_sdk_s3::config::Builder::from(sdk);
    if sdk.endpoint_url().is_some() {
        config = config.force_path_style(true);
    }
    aws_sdk_s3::Client::from_conf(config.build())
}

/// Time kept back from the invocation's deadline for a dead letter and the answer.
const DEADLINE_RESERVE: std::time::Duration = std::time::Duration::from_millis(1500);

/// The instant publishing must end by: the invocation's deadline less [`DEADLINE_RESERVE`]
/// (an instant already past when the deadline is).
fn publish_deadline(deadline: SystemTime) -> tokio::time::Instant {
    let left = deadline
        .duration_since(SystemTime::now())
        .unwrap_or_default()
        .saturating_sub(DEADLINE_RESERVE);
    tokio::time::Instant::now() + left
}

/// Runs `handler` as this Lambda function, configured by the function's declaration
/// (`eventrail_runtime::declaration!()`, its `[package.metadata.eventrail]`): reads the
/// environment the declaration calls for, builds the AWS clients once, and serves invocations
/// until the runtime stops. Events the declaration does not list in `emits` are refused.
///
/// Call it from a current-thread runtime (`#[tokio::main(flavor = "current_thread")]`, as
/// `eventrail new function` writes it): Lambda hands a sandbox one event at a time, its
/// concurrency is I/O, and a multi-threaded runtime would start a worker thread per CPU at
/// init, where they compete with the SDK's endpoint tables being built beside init
/// ([`crate::prepare_publisher_client`]): 1.11x the hello world's init instead of 1.38x for
/// `inventory` on the benchmark machine (BENCHMARKS.md, section 7).
pub async fn run_consumer<E, H>(
    handler: H,
    manifest: EmbeddedManifest,
) -> Result<(), lambda_runtime::Error>
where
    E: Event,
    H: Handler<E> + 'static,
{
    crate::aws::prepare_publisher_client();
    crate::logging::init();
    let declaration = manifest
        .declaration()
        .inspect_err(|e| tracing::error!(error = %e, "declaration error"))?;
    let config = RuntimeConfig::from_env(&declaration)
        .inspect_err(|e| tracing::error!(error = %e, "configuration error"))?;
    let (publisher, dead_letters) = if config.dry_run {
        tracing::info!("dry-run mode: nothing is sent to AWS");
        (None, None)
    } else {
        let sdk = crate::aws_config().await;
        let publisher = config.bus_name.as_ref().map(|bus| {
            Publisher::new(
                EventBridgePutEvents(aws_sdk_eventbridge::Client::new(&sdk)),
                bus.clone(),
            )
        });
        let dead_letters = config.dead_letter_queue_url.as_ref().map(|url| {
            // The dead-letter clients are built on the first poison event (the S3 one on the
            // first letter too large for a message), once, not at init: a rare path should
            // not cost every cold start. The publisher's client is needed on most events and
            // is built here.
            let sqs = LazyClient::new(crate::dead_letter::SQS_CLIENT, {
                let sdk = sdk.clone();
                move || aws_sdk_sqs::Client::new(&sdk)
            });
            let queue = SqsDeadLetterQueue::with_lazy_client(sqs, url.clone());
            match &config.failed_events_bucket {
                Some(bucket) => {
                    let sdk = sdk.clone();
                    let s3 =
                        LazyClient::new(crate::dead_letter::S3_CLIENT, move || s3_client(&sdk));
                    queue
                        .with_lazy_event_store(s3, bucket.clone())
                        .with_event_key_prefix(config.failed_events_prefix.clone())
                }
                None => queue,
            }
        });
        (publisher, dead_letters)
    };
    let consumer = Arc::new(
        Consumer::new(handler, publisher, dead_letters, config.function_name)
            .with_declared_emits(declaration.emits),
    );
    // The payload reaches the handler as the bytes Lambda delivered: the outermost layer
    // sets each body aside and `lambda_runtime` decodes a placeholder into `IgnoredAny`, so
    // the kit's own decoding (`Consumer::process_payload`) sees every payload, even one
    // serde_json refuses, and can dead-letter it. The rest is `lambda_runtime::run`'s stack.
    let payloads = RawPayloads::default();
    let handler = {
        let payloads = payloads.clone();
        service_fn(move |event: LambdaEvent<serde::de::IgnoredAny>| {
            let consumer = Arc::clone(&consumer);
            let payload = payloads.take(&event.context.request_id);
            async move {
                let request_id = event.context.request_id.clone();
                let deadline = event.context.deadline();
                let Some(payload) = payload else {
                    return Err(ConsumerError::MissingPayload { request_id });
                };
                // Boxed: the whole processing future nested in the runtime's would otherwise
                // overflow the compiler's layout depth in the functions' binaries.
                Box::pin(consumer.process_payload(&payload, Some(deadline)))
                    .instrument(tracing::info_span!("invocation", request_id = %request_id))
                    .await
            }
        })
    };
    lambda_runtime::Runtime::new(handler)
        .layer(lambda_runtime::layers::TracingLayer::new())
        .layer(RawPayloadLayer(payloads))
        .run()
        .await
}
