//! A queue's function (`queue = "new"` or a queue of the template): one handler call per SQS
//! record, its body decoded and validated as `C`; the batch's answer and dead letters are
//! [`crate::batch`]'s.
//!
//! ```ignore
//! pub async fn handle(message: Message<ImportRow>, context: Context) -> Result<(), HandlerError>
//! ```
//!
//! What the handler publishes through its [`Context`] starts a flow of the message: the
//! correlation id (the message attribute `correlation_id` when it has a usable one) and each
//! event's idempotency key derive from the function's name and the SQS message id, the same
//! on every receive of the message ([`Origin::message`]).

use std::{collections::HashMap, future::Future, sync::Arc, time::SystemTime};

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use eventrail_contract::{DeadLetter, Validate};
use lambda_runtime::{LambdaEvent, service_fn};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tracing::Instrument;

use crate::batch::{
    Attempt, BatchReport, GROUP_ID_ATTRIBUTE, RecordProcessor, batch_span, max_receive_count,
    receive_count, run_batch,
};
use crate::context::{Context, Origin};
use crate::dead_letter::{DeadLetterError, DeadLetterSink, RawEvent, SqsDeadLetterQueue};
use crate::decode::{MAX_REASON_BYTES, bounded, without_values};
use crate::handler::HandlerError;
use crate::init::{Init, LambdaError, traced};
use crate::publisher::{EventBridgePutEvents, Publisher};
use crate::start::{Function, Serves, kind};
use crate::trace::spans;

/// The message attribute a sender passes its flow's correlation id in.
pub const CORRELATION_ID_ATTRIBUTE: &str = "correlation_id";

/// One SQS record, its body decoded and validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Message<C> {
    /// The body, decoded as `C` and validated.
    pub body: C,
    /// The body as JSON, as sent: what idempotency hashes.
    pub raw_body: Value,
    /// The SQS message id (the same on every receive).
    pub message_id: String,
    /// How many times SQS has delivered it (`1` first).
    pub receive_count: u32,
    /// The message group, on a FIFO queue.
    pub group_id: Option<String>,
    /// The message's string attributes.
    pub attributes: HashMap<String, String>,
    /// When Lambda stops this invocation (`None` outside Lambda).
    pub deadline: Option<SystemTime>,
}

impl<C> Message<C> {
    /// A first receive of `body` as message `message_id` (tests).
    pub fn new(message_id: impl Into<String>, body: C) -> Self {
        Self {
            body,
            raw_body: Value::Null,
            message_id: message_id.into(),
            receive_count: 1,
            group_id: None,
            attributes: HashMap::new(),
            deadline: None,
        }
    }
}

/// A queue's handler over SQS batches: what the kit runs per invocation, and what tests drive
/// with [`QueueConsumer::process_batch`].
pub struct QueueConsumer<H, C, D> {
    handler: H,
    dead_letters: Option<D>,
    function: String,
    package: String,
    publisher: Arc<Option<Publisher<EventBridgePutEvents>>>,
    /// Detail-types the handler may publish; `None` allows any (tests without a declaration).
    emits: Option<Arc<[String]>>,
    max_receive_count: u32,
    _body: std::marker::PhantomData<fn(C)>,
}

impl<H, C, D, Fut> QueueConsumer<H, C, D>
where
    H: Fn(Message<C>, Context) -> Fut + Send + Sync,
    Fut: Future<Output = Result<(), HandlerError>> + Send,
    C: DeserializeOwned + Validate + Send,
    D: DeadLetterSink,
{
    /// `handler` for the function `package` (its declared name; dead letters name `function`,
    /// Lambda's), dead-lettering to `dead_letters` (`None`: dry run), over records SQS
    /// delivers at most `max_receive_count` times. It publishes nothing (dry run) until
    /// [`QueueConsumer::with_publisher`], which also limits it to the declared events.
    pub fn new(
        handler: H,
        dead_letters: Option<D>,
        package: &str,
        function: &str,
        max_receive_count: u32,
    ) -> Self {
        Self {
            handler,
            dead_letters,
            function: function.to_owned(),
            package: package.to_owned(),
            publisher: Arc::new(None),
            emits: None,
            max_receive_count,
            _body: std::marker::PhantomData,
        }
    }

    /// Publishes through `publisher` (`None`: dry run), only the detail-types in `emits`.
    pub fn with_publisher(
        mut self,
        publisher: Option<Publisher<EventBridgePutEvents>>,
        emits: Vec<String>,
    ) -> Self {
        self.publisher = Arc::new(publisher);
        self.emits = Some(emits.into());
        self
    }

    /// Processes one batch.
    pub async fn process_batch(
        &self,
        event: &SqsEvent,
        deadline: Option<SystemTime>,
    ) -> BatchReport {
        run_batch(self, event, deadline, self.max_receive_count).await
    }

    /// The record's body decoded and checked; the error is the poison reason.
    fn decode(record: &SqsMessage, deadline: Option<SystemTime>) -> Result<Message<C>, String> {
        let text = record.body.as_deref().unwrap_or_default();
        let raw: Value = serde_json::from_str(text).map_err(|e| {
            format!(
                "body: not valid JSON (line {} column {})",
                e.line(),
                e.column()
            )
        })?;
        let body: C = serde_path_to_error::deserialize(&raw).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." {
                "body".to_owned()
            } else {
                format!("body.{path}")
            };
            format!("{field}: {}", without_values(&e.inner().to_string()))
        })?;
        body.validate()
            .map_err(|e| format!("body.{}: {}", e.field, e.reason))?;
        let attributes = record
            .message_attributes
            .iter()
            .filter_map(|(name, value)| Some((name.clone(), value.string_value.clone()?)))
            .collect();
        Ok(Message {
            body,
            raw_body: raw,
            message_id: record.message_id.clone().unwrap_or_default(),
            receive_count: receive_count(record),
            group_id: record.attributes.get(GROUP_ID_ATTRIBUTE).cloned(),
            attributes,
            deadline,
        })
    }

    /// Writes the dead letter of `record` with `reason`; `Ok(false)` in dry-run mode.
    async fn dead_letter(&self, record: &SqsMessage, reason: &str) -> Result<(), DeadLetterError> {
        let text = record.body.as_deref().unwrap_or_default();
        let (event, event_raw) = match serde_json::from_str::<Value>(text) {
            Ok(value) => (value, None),
            Err(_) => (Value::Null, Some(RawEvent::from_bytes(text.as_bytes()))),
        };
        let correlation_id = record
            .message_attributes
            .get(CORRELATION_ID_ATTRIBUTE)
            .and_then(|a| a.string_value.clone());
        let letter = DeadLetter {
            kind: "poison".to_owned(),
            function: self.function.clone(),
            reason: bounded(reason, MAX_REASON_BYTES),
            event_id: record.message_id.clone(),
            correlation_id,
            detail_type: None,
            failed_at: chrono::Utc::now().to_rfc3339(),
            event,
            event_raw,
            event_stored_at: None,
        };
        tracing::warn!(reason = %letter.reason, "sending the record to the dead-letter queue");
        match &self.dead_letters {
            Some(sink) => {
                let span = spans::dead_letter(sink.queue_name(), &letter.reason);
                let sent = sink.send(&letter).instrument(span.clone()).await;
                if let Err(error) = &sent {
                    spans::fail(&span, error.to_string());
                }
                sent.map(|_| ())
            }
            None => Ok(()),
        }
    }
}

impl<H, C, D, Fut> RecordProcessor for QueueConsumer<H, C, D>
where
    H: Fn(Message<C>, Context) -> Fut + Send + Sync,
    Fut: Future<Output = Result<(), HandlerError>> + Send,
    C: DeserializeOwned + Validate + Send,
    D: DeadLetterSink,
{
    async fn process(&self, record: &SqsMessage, deadline: Option<SystemTime>) -> Attempt {
        let poison = async |reason: String| match self.dead_letter(record, &reason).await {
            Ok(()) => Attempt::DeadLettered { reason },
            Err(error) => Attempt::Failed {
                reason: format!("{reason}; and its dead letter failed: {error}"),
            },
        };
        let message = match Self::decode(record, deadline) {
            Ok(message) => message,
            Err(reason) => return poison(reason).await,
        };
        let origin = Origin::message(&self.package, &message.message_id).with_correlation_id(
            message
                .attributes
                .get(CORRELATION_ID_ATTRIBUTE)
                .map(String::as_str),
        );
        let mut context = Context::shared(
            Arc::clone(&self.publisher),
            deadline,
            message.message_id.clone(),
        )
        .with_origin(origin);
        if let Some(emits) = &self.emits {
            context = context.with_declared_emits(Arc::clone(emits));
        }
        match Box::pin((self.handler)(message, context)).await {
            Ok(()) => Attempt::Handled,
            Err(error @ (HandlerError::Poison(_) | HandlerError::Rejected(_))) => {
                poison(error.reason()).await
            }
            Err(error) => Attempt::Failed {
                reason: error.to_string(),
            },
        }
    }

    async fn give_up(&self, record: &SqsMessage, reason: String) -> Result<(), DeadLetterError> {
        self.dead_letter(record, &reason).await
    }
}

impl<F, C, Fut> Function<kind::OnMessage<C>> for F
where
    F: Fn(Message<C>, Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send,
    C: DeserializeOwned + Validate + Send + 'static,
{
    const SERVES: Serves = Serves::Queue;
    const DESCRIPTION: &'static str = "a queue's function (it takes a Message and a Context)";

    async fn serve(self, init: Init) -> Result<(), LambdaError> {
        let dead_letters: Option<SqsDeadLetterQueue> = init.dead_letters().await;
        let consumer = QueueConsumer::new(
            self,
            dead_letters,
            &init.package,
            &init.config.function_name,
            max_receive_count(&init),
        )
        .with_publisher(init.publisher().await, init.declaration.emits.clone());
        let consumer = Arc::new(consumer);
        let service = service_fn(move |event: LambdaEvent<SqsEvent>| {
            let consumer = Arc::clone(&consumer);
            let span = batch_span(&event.payload);
            spans::set_invocation(
                &span,
                &spans::Invocation {
                    trigger: spans::FaasTrigger::PubSub,
                    request_id: &event.context.request_id,
                    function: &consumer.function,
                },
            );
            traced(span, async move {
                let deadline = event.context.deadline();
                let report = Box::pin(consumer.process_batch(&event.payload, Some(deadline))).await;
                Ok::<_, std::convert::Infallible>(report.response())
            })
        });
        lambda_runtime::Runtime::new(service)
            .layer(lambda_runtime::layers::TracingLayer::new())
            .run()
            .await
    }
}
