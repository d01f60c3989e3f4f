//! What a producer's handler gets beside its input ([`Context`]): the publisher on the
//! function's bus, the invocation's deadline, and [`Context::publish`], which gives each event
//! the metadata of the flow the invocation starts ([`Origin`]): a correlation id, and an
//! idempotency key derived from what started it (a scheduled time, a message id, a request),
//! so a retried or doubled start emits the same keys and downstream deduplicates.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, SystemTime},
};

use eventrail_contract::{Event, Metadata, derive_key, message_id_safe};

use crate::consumer::EmittedSummary;
use crate::publisher::{EventBridgePutEvents, PublishError, Publisher, deadline_instant};

/// Time kept back from the invocation's deadline when publishing: for the answer (and, for a
/// batch, the next records' bookkeeping).
const PUBLISH_RESERVE: Duration = Duration::from_millis(1000);

/// Where a flow starts, for the events [`Context::publish`] sends: their correlation id, and
/// the seed their idempotency keys derive from (with each event's detail-type and its
/// position, or a part the handler names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The flow's correlation id.
    pub correlation_id: String,
    /// What every key of the flow's first events derives from.
    pub key_seed: String,
}

impl Origin {
    /// A flow started by a schedule's firing at `scheduled_time` (as canonical text): the same
    /// for a retry, a doubled firing and `eventrail local fire` of that same time.
    pub fn scheduled(function: &str, scheduled_time: &str) -> Self {
        Self::derived(&["schedule", function, scheduled_time])
    }

    /// A flow started by the SQS message `message_id` (the same on every receive).
    pub fn message(function: &str, message_id: &str) -> Self {
        Self::derived(&["message", function, message_id])
    }

    /// A flow started by a request (HTTP or direct): `key` is the caller's idempotency key
    /// when it gave one, else the request id (a new one on each retry).
    pub fn request(function: &str, key: &str) -> Self {
        Self::derived(&["request", function, key])
    }

    /// This origin with the caller's correlation id, when it is one the bus can carry (a
    /// FIFO-safe id); otherwise unchanged.
    pub fn with_correlation_id(mut self, correlation_id: Option<&str>) -> Self {
        if let Some(id) = correlation_id
            && message_id_safe("correlation_id", id).is_ok()
        {
            id.clone_into(&mut self.correlation_id);
        }
        self
    }

    fn derived(parts: &[&str]) -> Self {
        let seed = derive_key(parts);
        Self {
            correlation_id: format!("corr-{seed}"),
            key_seed: seed,
        }
    }

    /// The metadata of the event `detail_type` (schema `version`) named by `part` in this flow.
    pub fn metadata(&self, version: u32, detail_type: &str, part: &str) -> Metadata {
        Metadata::origin(
            version,
            self.correlation_id.clone(),
            derive_key(&[&self.key_seed, detail_type, part]),
        )
    }
}

/// What was sent through one context.
#[derive(Debug, Default)]
struct Sent {
    /// Events published per detail-type, for the next one's position.
    counts: HashMap<String, usize>,
    /// What was published (or, dry, would be).
    emitted: Vec<EmittedSummary>,
}

/// What a producer's handler gets beside its input: the publisher on the function's bus,
/// when Lambda stops the invocation, and [`Context::publish`] with the flow's metadata.
#[derive(Debug, Clone)]
pub struct Context {
    publisher: Arc<Option<Publisher<EventBridgePutEvents>>>,
    deadline: Option<SystemTime>,
    request_id: String,
    origin: Origin,
    declared_emits: Option<Arc<[String]>>,
    sent: Arc<Mutex<Sent>>,
}

impl Context {
    /// A context: `publisher` is `None` in dry-run mode, `deadline` outside Lambda (tests).
    /// Its [`Origin`] is a request without id; the kit gives each invocation its own.
    pub fn new(
        publisher: Option<Publisher<EventBridgePutEvents>>,
        deadline: Option<SystemTime>,
    ) -> Self {
        Self::shared(Arc::new(publisher), deadline, String::new())
    }

    /// A dry-run context (nothing is sent; [`Context::emitted`] tells what would be) for a
    /// flow started at `origin`: what tests hand a handler.
    pub fn dry_run(origin: Origin) -> Self {
        Self::new(None, None).with_origin(origin)
    }

    pub(crate) fn shared(
        publisher: Arc<Option<Publisher<EventBridgePutEvents>>>,
        deadline: Option<SystemTime>,
        request_id: String,
    ) -> Self {
        let origin = Origin::request("", &request_id);
        Self {
            publisher,
            deadline,
            request_id,
            origin,
            declared_emits: None,
            sent: Arc::default(),
        }
    }

    /// The same context for a flow started at `origin`.
    pub fn with_origin(mut self, origin: Origin) -> Self {
        self.origin = origin;
        self
    }

    /// Only the detail-types in `emits` may be published ([`PublishError::Undeclared`]).
    pub fn with_declared_emits(mut self, emits: Arc<[String]>) -> Self {
        self.declared_emits = Some(emits);
        self
    }

    /// The publisher on the function's bus; `None` in dry-run mode.
    pub fn publisher(&self) -> Option<&Publisher<EventBridgePutEvents>> {
        self.publisher.as_ref().as_ref()
    }

    /// When Lambda stops this invocation (`None` outside Lambda): end publishing before it, so
    /// the caller gets an error rather than a timeout.
    pub fn deadline(&self) -> Option<SystemTime> {
        self.deadline
    }

    /// Lambda's request id (empty outside Lambda).
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// Where the invocation's flow starts.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The flow's correlation id.
    pub fn correlation_id(&self) -> &str {
        &self.origin.correlation_id
    }

    /// Publishes `event` as one of the first events of the invocation's flow: its idempotency
    /// key derives from the [`Origin`], the detail-type and how many of that type this
    /// invocation published before (so publish a firing's events in a stable order; or name
    /// each with [`Context::publish_keyed`]). Bounded by the invocation's deadline. In dry-run
    /// mode nothing is sent and the summary has no event id.
    pub async fn publish<E: Event>(&self, event: &E) -> Result<EmittedSummary, PublishError> {
        let position = {
            let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
            let count = sent.counts.entry(E::DETAIL_TYPE.to_owned()).or_default();
            let position = *count;
            *count += 1;
            position
        };
        self.publish_keyed(event, &position.to_string()).await
    }

    /// [`Context::publish`] with the key's last part named by the handler (a SKU, a customer
    /// id): for a flow whose events are not published in a stable order.
    pub async fn publish_keyed<E: Event>(
        &self,
        event: &E,
        part: &str,
    ) -> Result<EmittedSummary, PublishError> {
        let metadata = self.origin.metadata(E::VERSION, E::DETAIL_TYPE, part);
        if let Some(declared) = &self.declared_emits
            && !declared.iter().any(|d| d == E::DETAIL_TYPE)
        {
            return Err(PublishError::Undeclared {
                detail_type: E::DETAIL_TYPE.to_owned(),
                declared: declared.join(", "),
            });
        }
        let data = serde_json::to_value(event).map_err(|e| PublishError::Serialize {
            detail_type: E::DETAIL_TYPE.to_owned(),
            idempotency_key: metadata.idempotency_key.clone(),
            reason: e.to_string(),
        })?;
        let detail = serde_json::json!({ "metadata": &metadata, "data": data });
        let event_id = match self.publisher() {
            Some(publisher) => {
                let by = self.deadline.map(|d| deadline_instant(d, PUBLISH_RESERVE));
                let published = publisher.publish_before(metadata, event, by).await?;
                tracing::info!(emitted_event_id = %published.event_id, emitted = E::DETAIL_TYPE, "published");
                Some(published.event_id)
            }
            None => None,
        };
        let summary = EmittedSummary {
            detail_type: E::DETAIL_TYPE.to_owned(),
            event_id,
            detail,
        };
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .emitted
            .push(summary.clone());
        Ok(summary)
    }

    /// What [`Context::publish`] sent in this invocation (dry: would have sent), in order.
    pub fn emitted(&self) -> Vec<EmittedSummary> {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .emitted
            .clone()
    }

    /// True when nothing is sent to AWS.
    pub fn is_dry_run(&self) -> bool {
        self.publisher.is_none()
    }
}
