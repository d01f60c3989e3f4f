//! A declared function's queues on the deployed stack, as `eventrail dlq` and the studio's
//! dead-letter pages see them: its failure queue and its rule's delivery dead-letter queue,
//! the queue that feeds it (a buffered consumer's buffer queue, a queue-triggered function's
//! source queue: its failure queue is that queue's dead-letter queue), and the redrive
//! request built from them, so every caller redrives with the same engine and guarantees.

use eventrail_contract::declaration::logical_id;
use eventrail_contract::names::FunctionOutputs;
use eventrail_contract::{Delivery, FunctionDeclaration, Project, QueueSource, Trigger};

use crate::catalog::CatalogCheck;
use crate::dlq::DeadLetterMessage;
use crate::error::{ObserveError, Result};
use crate::outputs::FailureQueue;
use crate::redrive::{
    Consumes, Feed, RedriveRequest, SendBack, kind_name, redriven_by_sqs, sqs_redrive_reason,
};
use crate::stack::Stack;

/// The declaration of `function` in the application.
pub fn declared(project: &Project, function: &str) -> Result<FunctionDeclaration> {
    let functions = project.functions().map_err(|e| ObserveError::Project {
        message: e.to_string(),
    })?;
    let known = functions
        .iter()
        .map(|f| f.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    functions
        .into_iter()
        .find(|f| f.name == function)
        .ok_or_else(|| ObserveError::UnknownFunction {
            name: function.to_owned(),
            known,
        })
}

/// The queue that feeds an SQS-fed function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feeding {
    /// A buffered consumer's buffer queue (its rule sends there).
    Buffer,
    /// A queue-triggered function's source queue.
    Source,
}

impl Feeding {
    /// For people: `buffer queue (feeds it)`.
    pub fn label(self) -> &'static str {
        match self {
            Feeding::Buffer => "buffer queue (feeds it)",
            Feeding::Source => "source queue (feeds it)",
        }
    }
}

/// The queue that feeds a function and its URL (an error naming the missing stack output),
/// when one does.
pub fn feeding_queue(
    stack: &Stack,
    function: &FunctionDeclaration,
) -> Option<(Feeding, Result<String>)> {
    let id = logical_id(&function.name);
    let outputs = FunctionOutputs { logical_id: &id };
    let (feeding, key) = match function.declaration.trigger() {
        Trigger::Rule {
            delivery: Delivery::Queue,
        } => (Feeding::Buffer, outputs.buffer_queue_url()),
        Trigger::Queue(QueueSource::New | QueueSource::Existing(_)) => {
            (Feeding::Source, outputs.source_queue_url())
        }
        _ => return None,
    };
    Some((feeding, stack.outputs.get(&key).map(str::to_owned)))
}

/// Where a redrive sends the function's failure-queue records: into the queue that feeds it,
/// else to the function.
pub fn send_back(stack: &Stack, function: &FunctionDeclaration) -> Result<SendBack> {
    let Some((feeding, url)) = feeding_queue(stack, function) else {
        return Ok(SendBack::Invoke);
    };
    let url = url.map_err(|error| {
        ObserveError::Invalid(format!(
            "{}'s failed records go back into the queue that feeds it, but the stack does not \
             say where it is ({error}); redeploy the template",
            function.name
        ))
    })?;
    Ok(match feeding {
        Feeding::Buffer => SendBack::BufferQueue { url },
        Feeding::Source => SendBack::SourceQueue { url },
    })
}

/// The function's failure queue and delivery dead-letter queue (an error when the stack has
/// neither).
pub fn queues_of(stack: &Stack, function: &str) -> Result<Vec<FailureQueue>> {
    stack.outputs.declared_function(function)?;
    let queues: Vec<FailureQueue> = stack
        .outputs
        .failure_queues()
        .into_iter()
        .filter(|q| q.function == function)
        .collect();
    if queues.is_empty() {
        return Err(ObserveError::Invalid(format!(
            "the stack has no failure queue output for function {function} \
             (<Function>FailureQueueUrl / <Function>DeliveryDlqUrl); redeploy the template"
        )));
    }
    Ok(queues)
}

/// Which records a redrive handles, and whether it only says what it would do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedriveScope {
    /// At most this many records.
    pub max: Option<usize>,
    /// Only the record with this SQS message id or event id.
    pub id: Option<String>,
    /// Decide and report, but send and delete nothing.
    pub dry_run: bool,
}

/// The redrive request for `function` of the deployed stack: its queues, where its records
/// go back, what it consumes (its declaration and the catalog), the failed-events bucket.
pub fn redrive_request(
    stack: &Stack,
    project: &Project,
    catalog: &CatalogCheck,
    function: &str,
    scope: RedriveScope,
) -> Result<RedriveRequest> {
    let declared = declared(project, function)?;
    Ok(RedriveRequest {
        function_name: stack.outputs.function_name(function)?.to_owned(),
        bus_name: stack.outputs.bus_name()?.to_owned(),
        queues: queues_of(stack, function)?,
        send_back: send_back(stack, &declared)?,
        consumes: Consumes::of(
            &declared.declaration,
            catalog.index(),
            &project.settings.source_prefix,
        ),
        failed_events_bucket: stack
            .outputs
            .get("FailedEventsBucketName")
            .ok()
            .map(str::to_owned),
        function: function.to_owned(),
        max: scope.max,
        id: scope.id,
        dry_run: scope.dry_run,
    })
}

/// What people read about one failed record: its kind, its reason and how many attempts it
/// had. A message SQS moved to the failure queue by itself (after the receives the feeding
/// queue allows) recorded no reason: it says so, with that count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSummary {
    /// `poison`, `handler-failure`, `undeliverable`, ...
    pub kind: &'static str,
    /// Why it failed.
    pub reason: String,
    /// Attempts, when known.
    pub attempts: Option<u64>,
    /// SQS moved it here after `maxReceiveCount` receives (no failure record of ours).
    pub redriven_by_sqs: bool,
}

/// The summary of `message`, a record of `function`'s queues.
pub fn record_summary(
    message: &DeadLetterMessage,
    function: &FunctionDeclaration,
) -> RecordSummary {
    let record = &message.record;
    let feed = Feed::of(&function.declaration);
    let max_receive_count = function.declaration.batching().max_receive_count();
    let redriven_by_sqs = redriven_by_sqs(record, feed);
    let (reason, attempts) = if redriven_by_sqs {
        (
            sqs_redrive_reason(max_receive_count),
            Some(u64::from(max_receive_count)),
        )
    } else {
        (
            format!(
                "{}{}",
                record
                    .error_type()
                    .filter(|t| *t != "poison")
                    .map(|t| format!("{t}: "))
                    .unwrap_or_default(),
                record.reason()
            ),
            record.attempts(),
        )
    };
    RecordSummary {
        kind: kind_name(record, feed),
        reason,
        attempts,
        redriven_by_sqs,
    }
}
