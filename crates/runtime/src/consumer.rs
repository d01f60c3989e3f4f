//! The consumer: one EventBridge event through a [`Handler`]: decoded, classified, what it
//! emits published with the flow's metadata, a poison event dead-lettered. The Lambda wiring
//! around it is [`crate::start`]'s.

use std::time::SystemTime;

use eventrail_contract::{Event, Metadata};
use serde::Serialize;
use serde_json::Value;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::dead_letter::{DeadLetter, DeadLetterError, DeadLetterSink, RawEvent};
use crate::decode::{MAX_REASON_BYTES, bounded, decode};
use crate::handler::{Emitted, Handler, HandlerError, Incoming};
use crate::payload::{EnvelopeFields, decode_payload};
use crate::publisher::{OutgoingEvent, PublishError, Publisher, PutEventsApi};
use crate::trace::business_key::BusinessKey;
use crate::trace::context::Remote;
use crate::trace::event::{Closed, EventSpan, Hop, Peek};
use crate::trace::spans;

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
    /// Where the app's business key is in an event's data (`EVENTRAIL_BUSINESS_KEY`).
    business_key: Option<BusinessKey>,
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
            business_key: None,
            _event: std::marker::PhantomData,
        }
    }

    /// Only the detail-types in `emits` may be published: anything else the handler emits
    /// fails the invocation with [`ConsumerError::Undeclared`] (the declaration's `emits`).
    pub fn with_declared_emits(mut self, emits: Vec<String>) -> Self {
        self.declared_emits = Some(emits);
        self
    }

    /// Puts the value of the app's business key, found in each event's data, on the event's
    /// span (`eventrail.business_key`).
    pub(crate) fn with_business_key(mut self, key: Option<BusinessKey>) -> Self {
        self.business_key = key;
        self
    }

    /// The function's name.
    pub(crate) fn function_name(&self) -> &str {
        &self.function_name
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
        let hop = Hop {
            function: &self.function_name,
            ..Hop::default()
        };
        self.process_hop(payload, deadline, &hop).await
    }

    /// [`Consumer::process_payload`] in one invocation or one record of a batch (`hop`): the
    /// event's consumer span says which.
    pub(crate) async fn process_hop(
        &self,
        payload: &[u8],
        deadline: Option<SystemTime>,
        hop: &Hop<'_>,
    ) -> Result<Outcome, ConsumerError> {
        match decode_payload(payload) {
            Ok(raw) => self.process_traced(raw, deadline, hop).await,
            Err((error, value)) => {
                let event = EventSpan::open(value.as_ref(), hop, None);
                let original = match value {
                    Some(value) => Original::Json(value),
                    None => Original::Raw(payload),
                };
                let result = self
                    .dead_letter(original, error.to_string(), None, None)
                    .instrument(event.span.clone())
                    .await;
                close(event, &result);
                result
            }
        }
    }

    /// Dead-letters a payload the handler failed on for the last time (an SQS-fed consumer's
    /// last receive), with the handler's `reason`: the letter has the shape of a poison
    /// event's, so the failure queue holds the event with why, not a bare message.
    /// Its dead letter's span continues the event's trace.
    pub async fn give_up(&self, payload: &[u8], reason: String) -> Result<Outcome, ConsumerError> {
        match decode_payload(payload) {
            Ok(value) | Err((_, Some(value))) => {
                let remote = Peek::of(&value).remote();
                self.dead_letter(Original::Json(value), reason, None, remote)
                    .await
            }
            Err((_, None)) => {
                self.dead_letter(Original::Raw(payload), reason, None, None)
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
        let hop = Hop {
            function: &self.function_name,
            ..Hop::default()
        };
        self.process_traced(raw, deadline, &hop).await
    }

    /// Processes `raw` in its consumer span (`process <detail-type>`), closed with the hop's
    /// result.
    async fn process_traced(
        &self,
        raw: Value,
        deadline: Option<SystemTime>,
        hop: &Hop<'_>,
    ) -> Result<Outcome, ConsumerError> {
        let event = EventSpan::open(Some(&raw), hop, self.business_key.as_ref());
        let result = self
            .process_decoded(raw, deadline, &event)
            .instrument(event.span.clone())
            .await;
        close(event, &result);
        result
    }

    async fn process_decoded(
        &self,
        raw: Value,
        deadline: Option<SystemTime>,
        event: &EventSpan,
    ) -> Result<Outcome, ConsumerError> {
        let publish_by = deadline.map(publish_deadline);
        let decode_span = spans::decode(Peek::of(&raw).detail_type);
        let incoming = match decode_span.in_scope(|| decode::<E>(&raw, deadline)) {
            Ok(incoming) => incoming,
            Err(reason) => {
                spans::fail(&decode_span, reason.clone());
                drop(decode_span);
                return self
                    .dead_letter(Original::Json(raw), reason, None, None)
                    .await;
            }
        };
        drop(decode_span);
        event.idempotency_key(&incoming.metadata.idempotency_key);
        self.handle(raw, incoming, publish_by).await
    }

    async fn handle(
        &self,
        raw: Value,
        incoming: Incoming<E>,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Outcome, ConsumerError> {
        let event_id = incoming.id.clone();
        let cause = incoming.metadata.clone();
        let handle_span = spans::handle(&incoming.detail_type, &event_id, &cause.correlation_id);
        let handled = async {
            tracing::info!("handling event");
            self.handler.handle(incoming).await
        }
        .instrument(handle_span.clone())
        .await;
        if let Err(error) = &handled {
            spans::fail(&handle_span, error.to_string());
        }
        drop(handle_span);
        let emitted = match handled {
            Ok(emitted) => emitted,
            Err(error @ (HandlerError::Poison(_) | HandlerError::Rejected(_))) => {
                return self
                    .dead_letter(Original::Json(raw), error.reason(), Some(&cause), None)
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
                    .dead_letter(Original::Json(raw), reason, Some(&cause), None)
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

    /// Sends a poison event's dead letter, in its own span (`send <queue>`); `parent` when the
    /// span must continue a trace other than the current span's (a batch's last receive).
    async fn dead_letter(
        &self,
        original: Original<'_>,
        reason: String,
        cause: Option<&Metadata>,
        parent: Option<Remote>,
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
            Some(sink) => {
                let span = spans::dead_letter(sink.queue_name(), &reason);
                if let Some(parent) = parent {
                    let _ = span.set_parent(parent.context());
                }
                let sent = sink.send(&letter).instrument(span.clone()).await;
                if let Err(error) = &sent {
                    spans::fail(&span, error.to_string());
                }
                Some(sent?)
            }
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

/// Closes an event's span with how its processing ended.
fn close(event: EventSpan, result: &Result<Outcome, ConsumerError>) {
    match result {
        Ok(Outcome::Handled { .. }) => event.close(Closed::Handled),
        Ok(Outcome::DeadLettered { reason, .. }) => event.close(Closed::Poison(reason)),
        Err(error) => event.close(Closed::Failed(&error.to_string())),
    }
}

/// A poison event as the dead letter keeps it.
enum Original<'a> {
    /// Decoded JSON (the letter's `event`).
    Json(Value),
    /// Bytes that did not decode (the letter's `event_raw`).
    Raw(&'a [u8]),
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
