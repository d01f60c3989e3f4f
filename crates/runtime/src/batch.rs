//! SQS batches: what an SQS-fed function (a queue trigger, a buffered consumer) does with the
//! records of one invocation, and what it answers (`batchItemFailures`).
//!
//! Per record:
//! - handled: not reported, SQS deletes it;
//! - poison (it does not decode, breaks a rule, or the handler calls it poison): a dead letter
//!   with the reason goes to the function's failure queue (`EVENTRAIL_DLQ_URL`, the letter an
//!   unbuffered consumer writes, so `eventrail dlq show` reads it), and the record is not
//!   reported: retrying it cannot help;
//! - a handler failure: reported in `batchItemFailures`, so SQS makes it visible again after
//!   the visibility timeout; on its last receive (`ApproximateReceiveCount` at
//!   `EVENTRAIL_MAX_RECEIVE_COUNT`, after which SQS would move the bare message to the failure
//!   queue) the kit writes the dead letter with the handler's reason itself and does not
//!   report it, so the failure queue holds the record with why it failed.
//!
//! Records run one after the other, in the batch's order, not concurrently: the queue's
//! concurrency cap (`max-concurrency`) is the limit on the downstream a buffered consumer
//! protects, and running a batch's records at once would multiply it by the batch size; the
//! order also keeps a FIFO source's order within a message group, and after a failure in a
//! group the group's later records are reported unprocessed, so none overtakes it. Records the
//! invocation's deadline leaves no time for are reported too, rather than lose the whole
//! batch's answer to a timeout.

use std::{
    collections::HashSet,
    future::Future,
    sync::Arc,
    time::{Duration, SystemTime},
};

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use eventrail_contract::Event;
use lambda_runtime::{LambdaEvent, service_fn};
use opentelemetry::trace::TraceContextExt as _;
use serde::Serialize;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::consumer::{Consumer, ConsumerError, Outcome};
use crate::dead_letter::{DeadLetterError, DeadLetterSink};
use crate::handler::Handler;
use crate::init::{Init, LambdaError, traced};
use crate::publisher::PutEventsApi;
use crate::trace::event::{Hop, Record};
use crate::trace::spans;

/// The record attribute SQS counts receives in.
pub const RECEIVE_COUNT_ATTRIBUTE: &str = "ApproximateReceiveCount";
/// The record attribute of a FIFO queue's message group.
pub const GROUP_ID_ATTRIBUTE: &str = "MessageGroupId";
/// Time a record needs at least before the deadline to be started.
const RECORD_RESERVE: Duration = Duration::from_millis(2000);

/// What one record's processing came to, before the receive count is considered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Handled.
    Handled,
    /// Poison, dead-lettered with `reason` (or, dry, would be).
    DeadLettered {
        /// Why.
        reason: String,
    },
    /// Failed; worth another receive.
    Failed {
        /// Why.
        reason: String,
    },
}

/// What a batch does with each record: process it, and write its dead letter when it failed
/// on its last receive.
pub trait RecordProcessor: Send + Sync {
    /// Processes one record, before the invocation's `deadline`.
    fn process(
        &self,
        record: &SqsMessage,
        deadline: Option<SystemTime>,
    ) -> impl Future<Output = Attempt> + Send;

    /// [`RecordProcessor::process`] for one record of the batch whose span is `batch`, on its
    /// last receive or not (`last_receive`): a processor with spans of its own per record
    /// links or parents them to the batch's. By default, `process`.
    fn process_in(
        &self,
        record: &SqsMessage,
        deadline: Option<SystemTime>,
        batch: &tracing::Span,
        last_receive: bool,
    ) -> impl Future<Output = Attempt> + Send {
        let _ = (batch, last_receive);
        self.process(record, deadline)
    }

    /// Writes the dead letter of a record that failed on its last receive, with `reason`.
    fn give_up(
        &self,
        record: &SqsMessage,
        reason: String,
    ) -> impl Future<Output = Result<(), DeadLetterError>> + Send;
}

/// What became of one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum RecordOutcome {
    /// Handled; SQS deletes it.
    Handled {
        /// The SQS message id.
        message_id: String,
    },
    /// Dead-lettered with its reason; not reported, SQS deletes it.
    DeadLettered {
        /// The SQS message id.
        message_id: String,
        /// Why.
        reason: String,
        /// True when the handler failed on the record's last receive (false: poison).
        last_receive: bool,
    },
    /// Reported in `batchItemFailures`: SQS delivers it again.
    Failed {
        /// The SQS message id.
        message_id: String,
        /// Why.
        reason: String,
    },
}

impl RecordOutcome {
    /// The record's message id.
    pub fn message_id(&self) -> &str {
        match self {
            Self::Handled { message_id }
            | Self::DeadLettered { message_id, .. }
            | Self::Failed { message_id, .. } => message_id,
        }
    }
}

/// What became of a batch, record by record, in its order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct BatchReport {
    /// One outcome per record.
    pub records: Vec<RecordOutcome>,
}

impl BatchReport {
    /// The message ids SQS is told failed.
    pub fn failed_ids(&self) -> Vec<&str> {
        self.records
            .iter()
            .filter(|r| matches!(r, RecordOutcome::Failed { .. }))
            .map(RecordOutcome::message_id)
            .collect()
    }

    /// The answer to the event source mapping (`ReportBatchItemFailures`).
    pub fn response(&self) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        for id in self.failed_ids() {
            let mut failure = BatchItemFailure::default();
            id.clone_into(&mut failure.item_identifier);
            response.batch_item_failures.push(failure);
        }
        response
    }
}

/// How many times SQS has delivered `record` (1 when it does not say).
pub fn receive_count(record: &SqsMessage) -> u32 {
    record
        .attributes
        .get(RECEIVE_COUNT_ATTRIBUTE)
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(1)
}

/// Runs `processor` over `event`'s records in order ([module docs](self)).
pub async fn run_batch<P: RecordProcessor>(
    processor: &P,
    event: &SqsEvent,
    deadline: Option<SystemTime>,
    max_receive_count: u32,
) -> BatchReport {
    let mut report = BatchReport::default();
    let mut failed_groups: HashSet<&str> = HashSet::new();
    // The batch's invocation span (when the kit serves the batch): each record's span links
    // back to it.
    let batch = tracing::Span::current();
    for record in &event.records {
        let message_id = record.message_id.clone().unwrap_or_default();
        let group = record
            .attributes
            .get(GROUP_ID_ATTRIBUTE)
            .map(String::as_str);
        let receives = receive_count(record);
        let failed = |reason: String| RecordOutcome::Failed {
            message_id: message_id.clone(),
            reason,
        };
        if let Some(group) = group
            && failed_groups.contains(group)
        {
            report.records.push(failed(
                "not processed: an earlier record of its message group failed".to_owned(),
            ));
            continue;
        }
        if deadline.is_some_and(|d| SystemTime::now() + RECORD_RESERVE >= d) {
            report.records.push(failed(
                "not processed: the invocation's deadline left no time for it".to_owned(),
            ));
            continue;
        }
        let span = tracing::info_span!("record", message_id = %message_id, receives);
        let last_receive = receives >= max_receive_count;
        let outcome = async {
            match processor
                .process_in(record, deadline, &batch, last_receive)
                .await
            {
                Attempt::Handled => RecordOutcome::Handled {
                    message_id: message_id.clone(),
                },
                Attempt::DeadLettered { reason } => RecordOutcome::DeadLettered {
                    message_id: message_id.clone(),
                    reason,
                    last_receive: false,
                },
                Attempt::Failed { reason } if receives >= max_receive_count => {
                    let reason = format!(
                        "failed on receive {receives}, the last before the redrive \
                         (max-receive-count {max_receive_count}): {reason}"
                    );
                    tracing::warn!(%reason, "last receive failed; writing the dead letter");
                    match processor.give_up(record, reason.clone()).await {
                        Ok(()) => RecordOutcome::DeadLettered {
                            message_id: message_id.clone(),
                            reason,
                            last_receive: true,
                        },
                        Err(error) => {
                            tracing::error!(%error, "the dead letter could not be written; SQS redrives the record");
                            failed(format!("{reason}; and its dead letter failed: {error}"))
                        }
                    }
                }
                Attempt::Failed { reason } => {
                    tracing::warn!(%reason, "record failed; SQS delivers it again");
                    failed(reason)
                }
            }
        }
        .instrument(span)
        .await;
        if let (RecordOutcome::Failed { .. }, Some(group)) = (&outcome, group) {
            failed_groups.insert(group);
        }
        report.records.push(outcome);
    }
    let failed = report.failed_ids().len();
    tracing::info!(records = report.records.len(), failed, "batch done");
    report
}

/// A consumer behind a buffer queue (`delivery = "queue"`): each record's body is the
/// EventBridge event the rule sent, run through the consumer as an unbuffered delivery is.
pub struct BufferedConsumer<E, H, P, D> {
    consumer: Consumer<E, H, P, D>,
    max_receive_count: u32,
}

impl<E, H, P, D> BufferedConsumer<E, H, P, D>
where
    E: Event,
    H: Handler<E>,
    P: PutEventsApi,
    D: DeadLetterSink,
{
    /// `consumer` over batches whose records SQS delivers at most `max_receive_count` times.
    pub fn new(consumer: Consumer<E, H, P, D>, max_receive_count: u32) -> Self {
        Self {
            consumer,
            max_receive_count,
        }
    }

    /// Processes one batch.
    pub async fn process_batch(
        &self,
        event: &SqsEvent,
        deadline: Option<SystemTime>,
    ) -> BatchReport {
        run_batch(self, event, deadline, self.max_receive_count).await
    }
}

impl<E, H, P, D> RecordProcessor for BufferedConsumer<E, H, P, D>
where
    E: Event,
    H: Handler<E>,
    P: PutEventsApi,
    D: DeadLetterSink,
{
    async fn process(&self, record: &SqsMessage, deadline: Option<SystemTime>) -> Attempt {
        let body = record.body.as_deref().unwrap_or_default().as_bytes();
        attempt(Box::pin(self.consumer.process_payload(body, deadline)).await)
    }

    /// The record's event span (`process <detail-type>`) has the event's own trace context as
    /// parent, links to the batch's span, and carries the receive count.
    async fn process_in(
        &self,
        record: &SqsMessage,
        deadline: Option<SystemTime>,
        batch: &tracing::Span,
        last_receive: bool,
    ) -> Attempt {
        let body = record.body.as_deref().unwrap_or_default().as_bytes();
        let hop = Hop {
            request_id: "",
            function: self.consumer.function_name(),
            record: Some(Record {
                batch: batch.context().span().span_context().clone(),
                receive_count: receive_count(record),
                last_receive,
            }),
        };
        attempt(Box::pin(self.consumer.process_hop(body, deadline, &hop)).await)
    }

    async fn give_up(&self, record: &SqsMessage, reason: String) -> Result<(), DeadLetterError> {
        let body = record.body.as_deref().unwrap_or_default().as_bytes();
        match self.consumer.give_up(body, reason).await {
            Ok(_) => Ok(()),
            Err(ConsumerError::DeadLetter(error)) => Err(error),
            Err(other) => Err(DeadLetterError {
                event_id: record.message_id.clone().unwrap_or_default(),
                message: other.to_string(),
            }),
        }
    }
}

/// What a consumer's outcome is for the batch.
fn attempt(result: Result<Outcome, ConsumerError>) -> Attempt {
    match result {
        Ok(Outcome::Handled { .. }) => Attempt::Handled,
        Ok(Outcome::DeadLettered { reason, .. }) => Attempt::DeadLettered { reason },
        Err(error) => Attempt::Failed {
            reason: error.to_string(),
        },
    }
}

/// The span of one SQS batch's invocation, `process <queue>` (kind consumer): a trace of its
/// own, as its records belong to many (each record's span links to it).
pub(crate) fn batch_span(event: &SqsEvent) -> tracing::Span {
    let queue = event
        .records
        .first()
        .and_then(|record| record.event_source_arn.as_deref())
        .and_then(|arn| arn.rsplit(':').next())
        .unwrap_or("queue");
    let span = spans::batch(queue, event.records.len());
    let _ = span.set_parent(opentelemetry::Context::new());
    span
}

/// The receives before the redrive of an SQS-fed function: the environment's, else (dry run)
/// the declaration's.
pub(crate) fn max_receive_count(init: &Init) -> u32 {
    init.config
        .max_receive_count
        .unwrap_or_else(|| init.declaration.batching().max_receive_count())
}

/// Serves a buffered consumer: SQS batches of EventBridge events, answered with the failed
/// records.
pub(crate) async fn serve_buffered<E, H>(handler: H, init: Init) -> Result<(), LambdaError>
where
    E: Event,
    H: Handler<E> + 'static,
{
    let publisher = init.publisher().await;
    let dead_letters = init.dead_letters().await;
    let max_receive_count = max_receive_count(&init);
    let business_key = init.business_key();
    let Init {
        declaration,
        config,
        ..
    } = init;
    let consumer = Consumer::new(handler, publisher, dead_letters, config.function_name)
        .with_declared_emits(declaration.emits)
        .with_business_key(business_key);
    let buffered = Arc::new(BufferedConsumer::new(consumer, max_receive_count));
    let service = service_fn(move |event: LambdaEvent<SqsEvent>| {
        let buffered = Arc::clone(&buffered);
        let span = batch_span(&event.payload);
        spans::set_invocation(
            &span,
            &spans::Invocation {
                trigger: spans::FaasTrigger::PubSub,
                request_id: &event.context.request_id,
                function: buffered.consumer.function_name(),
            },
        );
        traced(span, async move {
            let deadline = event.context.deadline();
            let report = Box::pin(buffered.process_batch(&event.payload, Some(deadline))).await;
            Ok::<_, std::convert::Infallible>(report.response())
        })
    });
    lambda_runtime::Runtime::new(service)
        .layer(lambda_runtime::layers::TracingLayer::new())
        .run()
        .await
}
