//! Typed `PutEvents` within EventBridge's limits, with partial-failure retries.

use std::{
    future::Future,
    time::{Duration, SystemTime},
};

/// Whether the events the publisher sends carry the trace context: `Write` (the default),
/// or `Accept` (consumers continue trace context, but the events sent carry none, the first
/// step of a two-step rollout). The entries' X-Ray `TraceHeader` is set either way: it is not
/// in the event.
pub use eventrail_contract::project::TraceContextMode;
use eventrail_contract::{Envelope, Event, Metadata};

use tracing::Instrument;

use crate::cause::{BoxError, Cause};
use crate::trace::context::of_span;
use crate::trace::inject::Injectable;
use crate::trace::spans;

/// PutEvents accepts at most this many entries per call.
pub const MAX_ENTRIES_PER_REQUEST: usize = 10;
/// EventBridge's entry limit (1 MiB since January 2026; an entry must be smaller), counted by
/// [`OutgoingEvent::size`]. The publisher sends less: [`MAX_PUBLISHED_ENTRY_BYTES`].
pub const MAX_ENTRY_BYTES: usize = 1024 * 1024;
/// Room kept under [`MAX_ENTRY_BYTES`] for what is added to an event after PutEvents counts it.
///
/// The entry size counts only the UTF-8 bytes of `Source`, `DetailType`, `Detail` and each
/// `Resources` item, plus 14 for `Time` ("the event in EventBridge is always larger than the
/// entry size", eb-putevent-size). What a consumer then receives and keeps is larger:
///
/// - the delivery envelope around them: the keys `version`, `id`, `detail-type`, `source`,
///   `account`, `time`, `region`, `resources`, `detail` with their quotes, colons and commas
///   (~110 bytes), and the values the entry does not count: `"0"`, a 36-byte id, a 12-digit
///   account, a 20-byte time, a region name (at most ~20): ~100 bytes; the quoting of each
///   resource (3 bytes apiece); JSON escaping of `source` and `detail-type` (at most 6 bytes a
///   character, on 256 + 128 characters: ~2 KiB in the worst case);
/// - the asynchronous invocation that delivers it to Lambda is capped at 1 MB (Lambda's
///   `Invoke`: "For asynchronous invocations, the maximum payload size is 1 MB");
/// - a failure record of that invocation (Lambda's on-failure destination, an SQS queue capped
///   at 1 MiB a message) wraps the event in `version`, `timestamp`, `requestContext` (request
///   id, function ARN up to 140 bytes, condition, invoke count), `responseContext` and
///   `responsePayload` (the error type and message; the kit's reasons are cut at 2 KiB):
///   ~1 KiB plus the message;
/// - a rule's dead-letter message carries the event with the attributes `RULE_ARN`,
///   `TARGET_ARN`, `ERROR_CODE`, `ERROR_MESSAGE`, `RETRY_ATTEMPTS` (~1 KiB), and SQS counts
///   attributes in its 1 MiB.
///
/// Those add up to ~5 KiB at worst; 16 KiB (1.6% of the limit) covers them three times over,
/// so an event the publisher sends is delivered, fails and is dead-lettered whole.
pub const DELIVERY_HEADROOM_BYTES: usize = 16 * 1024;
/// Largest entry the publisher sends: [`MAX_ENTRY_BYTES`] less [`DELIVERY_HEADROOM_BYTES`]
/// (1,032,192 bytes). A larger one is refused before anything is sent
/// ([`PublishError::TooLarge`]).
pub const MAX_PUBLISHED_ENTRY_BYTES: usize = MAX_ENTRY_BYTES - DELIVERY_HEADROOM_BYTES;
/// Largest total of entry sizes sent in one PutEvents call.
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;
/// The least time worth starting a PutEvents call with before a deadline.
const MIN_CALL_TIME: Duration = Duration::from_millis(250);
/// EventBridge counts 14 bytes for an entry's `Time`, whether it is set or not.
const TIME_FIELD_BYTES: usize = 14;

/// One event ready to put on the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEvent {
    /// `Source`.
    pub source: String,
    /// `DetailType`.
    pub detail_type: String,
    /// `Detail`: the serialised [`Envelope`].
    pub detail: String,
    /// `Resources`.
    pub resources: Vec<String>,
    /// The event's idempotency key, which names it in errors and results.
    pub idempotency_key: String,
}

impl OutgoingEvent {
    /// Serialises a typed event with its metadata.
    pub fn typed<E: Event>(metadata: Metadata, data: &E) -> Result<Self, PublishError> {
        let idempotency_key = metadata.idempotency_key.clone();
        let envelope = Envelope { metadata, data };
        let detail =
            serde_json::to_string(&envelope).map_err(|source| PublishError::Serialize {
                detail_type: E::DETAIL_TYPE.to_owned(),
                idempotency_key: idempotency_key.clone(),
                reason: source.to_string(),
            })?;
        Ok(Self {
            source: E::SOURCE.to_owned(),
            detail_type: E::DETAIL_TYPE.to_owned(),
            detail,
            resources: Vec::new(),
            idempotency_key,
        })
    }

    /// The entry's size as EventBridge counts it: UTF-8 bytes of Source, DetailType,
    /// Detail and every Resource, plus 14 bytes for Time.
    pub fn size(&self) -> usize {
        TIME_FIELD_BYTES
            + self.source.len()
            + self.detail_type.len()
            + self.detail.len()
            + self.resources.iter().map(String::len).sum::<usize>()
    }

    fn name(&self) -> String {
        format!(
            "{} (idempotency key {})",
            self.detail_type, self.idempotency_key
        )
    }
}

/// An event EventBridge accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedEvent {
    /// Id EventBridge assigned.
    pub event_id: String,
    /// `DetailType`.
    pub detail_type: String,
    /// Idempotency key.
    pub idempotency_key: String,
    /// PutEvents calls it took (1 when it went through at once).
    pub attempts: u32,
}

/// Why an event was not published. Every variant names the event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// The payload could not be serialised.
    #[error(
        "event {detail_type} (idempotency key {idempotency_key}) cannot be serialised: {reason}"
    )]
    Serialize {
        /// `DetailType`.
        detail_type: String,
        /// Idempotency key.
        idempotency_key: String,
        /// serde's message.
        reason: String,
    },
    /// The entry is over the size the publisher sends ([`MAX_PUBLISHED_ENTRY_BYTES`]); it was
    /// not sent.
    #[error(
        "event {name} is {size} bytes as EventBridge counts an entry, over the {limit} bytes the \
         publisher sends (EventBridge's entry limit of {MAX_ENTRY_BYTES} bytes less \
         {DELIVERY_HEADROOM_BYTES} for the envelope delivery adds); it was not sent. Put large \
         payloads in S3 and send a reference"
    )]
    TooLarge {
        /// Event name: its detail-type and idempotency key.
        name: String,
        /// Its size as EventBridge counts it.
        size: usize,
        /// The limit ([`MAX_PUBLISHED_ENTRY_BYTES`]).
        limit: usize,
    },
    /// EventBridge rejected the entry, and kept rejecting it after the retries.
    #[error(
        "event {name} was rejected by EventBridge after {attempts} attempt(s): {code}: {message}"
    )]
    Rejected {
        /// Event name.
        name: String,
        /// EventBridge's error code for the entry.
        code: String,
        /// EventBridge's message.
        message: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The PutEvents call itself failed, every attempt (or once, when the error is permanent),
    /// or the invocation's deadline left no time for another attempt.
    #[error(
        "event {name} was not published: PutEvents failed after {attempts} attempt(s): {cause}"
    )]
    Transport {
        /// Event name.
        name: String,
        /// The last error, typed (the SDK's, in Lambda).
        #[source]
        cause: Cause,
        /// Attempts made.
        attempts: u32,
        /// True when retrying cannot help (access denied, a request EventBridge calls invalid).
        permanent: bool,
    },
    /// No bus is configured (dry run).
    #[error("event {name} was not published: no event bus configured")]
    NoBus {
        /// Event name.
        name: String,
    },
    /// The function does not declare the event (its `emits`); nothing was sent. A bug in the
    /// function: add it to `emits` in [package.metadata.eventrail].
    #[error(
        "event {detail_type} was not published: this function does not declare it (declared: \
         {declared}); add it to `emits` in [package.metadata.eventrail] and regenerate the \
         template with `eventrail infra generate`"
    )]
    Undeclared {
        /// `DetailType`.
        detail_type: String,
        /// What the declaration lists.
        declared: String,
    },
}

impl PublishError {
    /// True when publishing this event again can never succeed: it does not serialise, it is
    /// over the size limit, EventBridge rejected it with a permanent code, or the call was
    /// refused for good (access denied, validation). Such an event makes its cause poison.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::Serialize { .. } | Self::TooLarge { .. } | Self::Undeclared { .. } => true,
            Self::Rejected { code, .. } => is_permanent(code),
            Self::Transport { permanent, .. } => *permanent,
            Self::NoBus { .. } => false,
        }
    }
}

/// The result EventBridge gives for one entry of a PutEvents call.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EntryOutcome {
    /// Set when the entry was accepted.
    pub event_id: Option<String>,
    /// Set when it failed.
    pub error_code: Option<String>,
    /// Set when it failed.
    pub error_message: Option<String>,
}

/// The whole PutEvents call failed (network, throttling of the call, credentials).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{cause}")]
pub struct TransportError {
    /// What went wrong, typed: the SDK's error in Lambda ([`Cause::downcast_ref`]).
    #[source]
    pub cause: Cause,
    /// True when a retry cannot help (see [`is_permanent`]'s codes).
    pub permanent: bool,
}

impl TransportError {
    /// A failure worth retrying (network, throttling, a timeout).
    pub fn retryable(error: impl Into<BoxError>) -> Self {
        Self {
            cause: Cause::new(error),
            permanent: false,
        }
    }

    /// A failure no retry can fix.
    pub fn permanent(error: impl Into<BoxError>) -> Self {
        Self {
            cause: Cause::new(error),
            permanent: true,
        }
    }
}

/// The PutEvents operation, so tests can fake EventBridge.
pub trait PutEventsApi: Send + Sync {
    /// Puts `entries` on `bus`; returns one outcome per entry, in order.
    fn put_events(
        &self,
        bus: &str,
        entries: &[OutgoingEvent],
    ) -> impl Future<Output = Result<Vec<EntryOutcome>, TransportError>> + Send;

    /// [`PutEventsApi::put_events`] with every entry's `TraceHeader` set to `trace_header`
    /// (the X-Ray form of the publish span's context). By default the header is dropped (a
    /// fake bus has no X-Ray); [`EventBridgePutEvents`] sends it.
    fn put_traced_events(
        &self,
        bus: &str,
        entries: &[OutgoingEvent],
        trace_header: Option<&str>,
    ) -> impl Future<Output = Result<Vec<EntryOutcome>, TransportError>> + Send {
        let _ = trace_header;
        self.put_events(bus, entries)
    }
}

/// [`PutEventsApi`] over the AWS SDK client.
#[derive(Debug, Clone)]
pub struct EventBridgePutEvents(pub aws_sdk_eventbridge::Client);

impl PutEventsApi for EventBridgePutEvents {
    async fn put_events(
        &self,
        bus: &str,
        entries: &[OutgoingEvent],
    ) -> Result<Vec<EntryOutcome>, TransportError> {
        self.put_traced_events(bus, entries, None).await
    }

    async fn put_traced_events(
        &self,
        bus: &str,
        entries: &[OutgoingEvent],
        trace_header: Option<&str>,
    ) -> Result<Vec<EntryOutcome>, TransportError> {
        use aws_sdk_eventbridge::types::PutEventsRequestEntry;
        let request_entries = entries
            .iter()
            .map(|e| {
                PutEventsRequestEntry::builder()
                    .event_bus_name(bus)
                    .source(&e.source)
                    .detail_type(&e.detail_type)
                    .detail(&e.detail)
                    .set_resources((!e.resources.is_empty()).then(|| e.resources.clone()))
                    .set_trace_header(trace_header.map(str::to_owned))
                    .build()
            })
            .collect();
        let output = self
            .0
            .put_events()
            .set_entries(Some(request_entries))
            .send()
            .await
            .map_err(|e| {
                use aws_sdk_eventbridge::error::ProvideErrorMetadata;
                let permanent = e.code().is_some_and(is_permanent);
                TransportError {
                    cause: Cause::new(e),
                    permanent,
                }
            })?;
        let outcomes: Vec<EntryOutcome> = output
            .entries()
            .iter()
            .map(|r| EntryOutcome {
                event_id: r.event_id().map(str::to_owned),
                error_code: r.error_code().map(str::to_owned),
                error_message: r.error_message().map(str::to_owned),
            })
            .collect();
        if outcomes.len() != entries.len() {
            return Err(TransportError::retryable(format!(
                "PutEvents answered {} results for {} entries",
                outcomes.len(),
                entries.len()
            )));
        }
        Ok(outcomes)
    }
}

/// How failed entries are retried: exponential backoff with full jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// PutEvents calls per entry, the first included.
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubles each time.
    pub base_delay: Duration,
    /// Longest backoff.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// Backoff before attempt `next_attempt` (2, 3, ...): uniformly random in
    /// `[0, min(max_delay, base_delay * 2^(next_attempt - 2))]` ("full jitter").
    pub fn backoff(&self, next_attempt: u32) -> Duration {
        let exponent = next_attempt.saturating_sub(2).min(20);
        let ceiling = self
            .base_delay
            .saturating_mul(1 << exponent)
            .min(self.max_delay);
        let ceiling_ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(fastrand::u64(0..=ceiling_ms))
    }
}

/// Error codes that will not change on a retry: the entry itself is wrong.
fn is_permanent(code: &str) -> bool {
    matches!(
        code,
        "MalformedDetail"
            | "InvalidArgument"
            | "ValidationException"
            | "NotAuthorizedForSourceException"
            | "NotAuthorizedForDetailTypeException"
            | "AccessDeniedException"
            | "ResourceNotFoundException"
            | "InvalidAccountIdException"
            | "RedactionFailure"
            | "UnrecognizedClientException"
            | "InvalidSignatureException"
    )
}

/// Publishes typed events to one bus.
#[derive(Debug, Clone)]
pub struct Publisher<C> {
    client: C,
    bus_name: String,
    retry: RetryPolicy,
    trace_context: TraceContextMode,
}

impl<C: PutEventsApi> Publisher<C> {
    /// A publisher to `bus_name` with the default retry policy.
    pub fn new(client: C, bus_name: impl Into<String>) -> Self {
        Self {
            client,
            bus_name: bus_name.into(),
            retry: RetryPolicy::default(),
            trace_context: TraceContextMode::default(),
        }
    }

    /// Whether the events sent carry the trace context ([`TraceContextMode`]).
    pub fn with_trace_context(mut self, mode: TraceContextMode) -> Self {
        self.trace_context = mode;
        self
    }

    /// Replaces the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The bus events go to.
    pub fn bus_name(&self) -> &str {
        &self.bus_name
    }

    /// Publishes one typed event.
    pub async fn publish<E: Event>(
        &self,
        metadata: Metadata,
        event: &E,
    ) -> Result<PublishedEvent, PublishError> {
        self.publish_before(metadata, event, None).await
    }

    /// [`Publisher::publish`], bounded by `deadline` as [`Publisher::publish_all_before`] is:
    /// for a producer, whose invocation Lambda stops at its deadline too.
    pub async fn publish_before<E: Event>(
        &self,
        metadata: Metadata,
        event: &E,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<PublishedEvent, PublishError> {
        let outgoing = OutgoingEvent::typed(metadata, event)?;
        let mut results = self.publish_all_before(vec![outgoing], deadline).await;
        results.pop().unwrap_or_else(|| {
            Err(PublishError::Transport {
                name: E::DETAIL_TYPE.to_owned(),
                cause: Cause::from("no result"),
                attempts: 0,
                permanent: false,
            })
        })
    }

    /// Publishes `events` in as few PutEvents calls as the limits allow, retrying exactly
    /// the entries that failed. Returns one result per event, in input order. Oversize
    /// events are rejected before anything is sent for them (counted with the trace context
    /// they will carry).
    ///
    /// Each call is one `publish <bus>` span, a child of the current span; each entry's
    /// `metadata.traceparent` names that span (unless [`TraceContextMode::Accept`]) and its
    /// `TraceHeader` is the same context in X-Ray's form, so the consumers continue the trace
    /// from it. A retry is a new span of the same trace.
    pub async fn publish_all(
        &self,
        events: Vec<OutgoingEvent>,
    ) -> Vec<Result<PublishedEvent, PublishError>> {
        self.publish_all_before(events, None).await
    }

    /// [`Publisher::publish_all`], bounded by `deadline`: no attempt starts, and no call runs,
    /// past it. Events still pending then fail with a retryable [`PublishError::Transport`], so
    /// the invocation returns its error before Lambda's timeout cuts it off mid-publish.
    pub async fn publish_all_before(
        &self,
        events: Vec<OutgoingEvent>,
        deadline: Option<tokio::time::Instant>,
    ) -> Vec<Result<PublishedEvent, PublishError>> {
        let mut results: Vec<Option<Result<PublishedEvent, PublishError>>> =
            vec![None; events.len()];
        let injectable = self.injectable(&events);
        let sizes: Vec<usize> = events
            .iter()
            .zip(&injectable)
            .map(|(event, traced)| match traced {
                Some(traced) => event.size() - event.detail.len() + traced.len(),
                None => event.size(),
            })
            .collect();
        let mut pending: Vec<usize> = Vec::with_capacity(events.len());
        for (i, event) in events.iter().enumerate() {
            let size = sizes[i];
            if size > MAX_PUBLISHED_ENTRY_BYTES {
                results[i] = Some(Err(PublishError::TooLarge {
                    name: event.name(),
                    size,
                    limit: MAX_PUBLISHED_ENTRY_BYTES,
                }));
            } else {
                pending.push(i);
            }
        }

        let mut attempt = 1;
        while !pending.is_empty() {
            // The first attempt starts at once; later ones after their backoff. None starts
            // unless a call still has time to answer before the deadline.
            let backoff = if attempt > 1 {
                self.retry.backoff(attempt)
            } else {
                Duration::ZERO
            };
            let out_of_time = deadline
                .is_some_and(|d| tokio::time::Instant::now() + backoff + MIN_CALL_TIME >= d);
            if out_of_time {
                let message = if attempt == 1 {
                    "the invocation's deadline left no time to call PutEvents"
                } else {
                    "the invocation's deadline left no time for another attempt"
                };
                for &i in &pending {
                    results[i] = Some(Err(PublishError::Transport {
                        name: events[i].name(),
                        cause: Cause::from(message),
                        attempts: attempt - 1,
                        permanent: false,
                    }));
                }
                break;
            }
            if !backoff.is_zero() {
                tokio::time::sleep(backoff).await;
            }
            let last_attempt = attempt >= self.retry.max_attempts;
            let mut retry_next = Vec::new();
            for chunk in chunk_indices(&sizes, &pending) {
                let detail_types: Vec<&str> = chunk
                    .iter()
                    .map(|&i| events[i].detail_type.as_str())
                    .collect();
                let span = spans::publish(&self.bus_name, &detail_types);
                let context = of_span(&span).map(|(parent, _)| parent);
                let entries: Vec<OutgoingEvent> = chunk
                    .iter()
                    .map(|&i| {
                        let mut entry = events[i].clone();
                        if let (Some(parent), Some(traced)) = (&context, &injectable[i]) {
                            entry.detail = traced.with(parent);
                        }
                        entry
                    })
                    .collect();
                let header = context.map(|parent| parent.to_xray_header());
                let call = self
                    .client
                    .put_traced_events(&self.bus_name, &entries, header.as_deref())
                    .instrument(span.clone());
                let answer = match deadline {
                    Some(deadline) => tokio::time::timeout_at(deadline, call)
                        .await
                        .unwrap_or_else(|_| {
                            Err(TransportError::retryable(
                                "PutEvents did not answer before the invocation's deadline (it may \
                                 have accepted the events; the retry repeats their idempotency keys)",
                            ))
                        }),
                    None => call.await,
                };
                record_answer(&span, &answer);
                drop(span);
                match answer {
                    Ok(outcomes) => {
                        for (&i, outcome) in chunk.iter().zip(outcomes) {
                            match classify(&events[i], outcome, attempt) {
                                Ok(published) => results[i] = Some(Ok(published)),
                                Err((error, retryable)) if retryable && !last_attempt => {
                                    tracing::warn!(event = %events[i].name(), attempt, %error, "entry failed, will retry");
                                    retry_next.push(i);
                                }
                                Err((error, _)) => results[i] = Some(Err(error)),
                            }
                        }
                    }
                    Err(TransportError { cause, permanent }) => {
                        tracing::warn!(attempt, error = %cause, permanent, entries = chunk.len(), "PutEvents call failed");
                        for &i in &chunk {
                            if last_attempt || permanent {
                                results[i] = Some(Err(PublishError::Transport {
                                    name: events[i].name(),
                                    cause: cause.clone(),
                                    attempts: attempt,
                                    permanent,
                                }));
                            } else {
                                retry_next.push(i);
                            }
                        }
                    }
                }
            }
            pending = retry_next;
            attempt += 1;
        }

        results
            .into_iter()
            .zip(&events)
            .map(|(result, event)| {
                result.unwrap_or_else(|| {
                    Err(PublishError::Transport {
                        name: event.name(),
                        cause: Cause::from("no result recorded"),
                        attempts: attempt - 1,
                        permanent: false,
                    })
                })
            })
            .collect()
    }
}

impl<C> Publisher<C> {
    /// Each event's detail cut where its `traceparent` goes, when the publisher writes trace
    /// context and the detail has a metadata object. The `tracestate` is the current span's
    /// (every publish span inherits it).
    fn injectable(&self, events: &[OutgoingEvent]) -> Vec<Option<Injectable>> {
        if self.trace_context == TraceContextMode::Accept {
            return vec![None; events.len()];
        }
        let tracestate = of_span(&tracing::Span::current()).and_then(|(_, state)| state);
        events
            .iter()
            .map(|event| Injectable::new(&event.detail, tracestate.as_deref()))
            .collect()
    }
}

/// Puts a PutEvents call's answer on its span: the event ids in entry order, and an error
/// status when the call or an entry failed.
fn record_answer(span: &tracing::Span, answer: &Result<Vec<EntryOutcome>, TransportError>) {
    match answer {
        Ok(outcomes) => {
            let ids: Vec<Option<&str>> = outcomes.iter().map(|o| o.event_id.as_deref()).collect();
            spans::published_ids(span, &ids);
            let failed = outcomes.iter().filter(|o| o.error_code.is_some()).count();
            if failed > 0 {
                spans::fail(
                    span,
                    format!("{failed} of {} entries failed", outcomes.len()),
                );
            }
        }
        Err(error) => spans::fail(span, error.to_string()),
    }
}

/// The instant by which work must end for an invocation Lambda stops at `deadline` (wall
/// clock, as `lambda_runtime`'s context gives it), keeping `reserve` for what comes after (the
/// answer, a dead letter). An instant already past when the deadline is, or is nearer than
/// `reserve`.
pub fn deadline_instant(deadline: SystemTime, reserve: Duration) -> tokio::time::Instant {
    let left = deadline
        .duration_since(SystemTime::now())
        .unwrap_or_default()
        .saturating_sub(reserve);
    tokio::time::Instant::now() + left
}

/// Turns an entry's outcome into a published event or an error, and whether to retry it.
fn classify(
    event: &OutgoingEvent,
    outcome: EntryOutcome,
    attempt: u32,
) -> Result<PublishedEvent, (PublishError, bool)> {
    match (outcome.event_id, outcome.error_code) {
        (Some(event_id), None) => Ok(PublishedEvent {
            event_id,
            detail_type: event.detail_type.clone(),
            idempotency_key: event.idempotency_key.clone(),
            attempts: attempt,
        }),
        (_, code) => {
            let code = code.unwrap_or_else(|| "Unknown".to_owned());
            let retryable = !is_permanent(&code);
            let error = PublishError::Rejected {
                name: event.name(),
                message: outcome.error_message.unwrap_or_default(),
                code,
                attempts: attempt,
            };
            Err((error, retryable))
        }
    }
}

/// Groups `pending` (indices into `sizes`, the events' entry sizes, in order) into PutEvents calls of at most
/// [`MAX_ENTRIES_PER_REQUEST`] entries and [`MAX_REQUEST_BYTES`] in total.
fn chunk_indices(sizes: &[usize], pending: &[usize]) -> Vec<Vec<usize>> {
    let mut chunks: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut current_bytes = 0;
    for &i in pending {
        let size = sizes[i];
        let full =
            current.len() == MAX_ENTRIES_PER_REQUEST || current_bytes + size > MAX_REQUEST_BYTES;
        if full && !current.is_empty() {
            chunks.push(std::mem::take(&mut current));
            current_bytes = 0;
        }
        current.push(i);
        current_bytes += size;
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}
