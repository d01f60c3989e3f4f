//! SQS-fed functions: a queue trigger (`queue = "new"` or a queue of the template) and a
//! buffered consumer (`delivery = "queue"`). The function polls its queue through an event
//! source mapping with partial batch failures; the queue redrives a record to the function's
//! failure queue after `max-receive-count` receives, and its visibility timeout is at least six
//! times the function's timeout (AWS's advice, so a batch still running is not received twice).

use std::fmt::Write as _;

use eventrail_contract::names::TRUSTED_PUBLISHERS_PARAMETER;
use eventrail_contract::{Batching, Delivery, FunctionDeclaration, QueueSource, Trigger};
use eventrail_model::declared::{GenerateError, function_error};

use crate::alarms::{Metric, loss_alarm, oldest_message_metric};
use crate::facts::Facts;
use crate::queues::{MAX_MESSAGE_BYTES, QUEUE_RETENTION_SECONDS, queue, queue_with_policy};
use crate::rule::rule_arn;

/// AWS's advice: a queue's visibility timeout at least six times its function's timeout.
pub const VISIBILITY_TIMEOUT_FACTOR: u32 = 6;

/// A buffer whose oldest event waits longer than this (seconds) alarms: the consumer is behind.
pub(crate) const BUFFER_AGE_ALARM_SECONDS: u64 = 3600;

/// What the mapping actions on a function's own source queue are: what Lambda's poller calls
/// with the function's role (receive, delete the handled records, read the queue's attributes).
pub const POLL_ACTIONS: &[&str] = &[
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
];

/// Which queue feeds the function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FeedKind {
    /// `<Function>BufferQueue`, which its rule sends to.
    Buffer,
    /// `<Function>SourceQueue`, created with it.
    NewSource,
    /// A queue written in the template.
    Existing,
}

/// The queue that feeds an SQS-fed function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Feed {
    /// The queue's logical id.
    pub(crate) queue: String,
    pub(crate) kind: FeedKind,
    /// The SAM event's name under `Events`.
    pub(crate) event: &'static str,
    pub(crate) batching: Batching,
}

/// The function's timeout: its own, else the template's default.
pub(crate) fn timeout(f: &FunctionDeclaration, facts: &Facts) -> u32 {
    f.declaration.timeout.unwrap_or(facts.default_timeout)
}

/// The queue that feeds `f`, if its trigger is a queue or a buffered rule. A queue of the
/// template must be an `AWS::SQS::Queue` written outside the generated part.
pub(crate) fn feed(f: &FunctionDeclaration, facts: &Facts) -> Result<Option<Feed>, GenerateError> {
    let id = f.logical_id();
    let batching = f.declaration.batching();
    let (queue, kind, event) = match f.declaration.trigger() {
        Trigger::Rule {
            delivery: Delivery::Queue,
        } => (format!("{id}BufferQueue"), FeedKind::Buffer, "Buffer"),
        Trigger::Queue(QueueSource::New) => {
            (format!("{id}SourceQueue"), FeedKind::NewSource, "Queue")
        }
        Trigger::Queue(QueueSource::Existing(queue)) => {
            match facts.resources.get(&queue).map(String::as_str) {
                Some("AWS::SQS::Queue") => {}
                Some(other) => {
                    return Err(function_error(
                        f,
                        format!(
                            "[package.metadata.eventrail] queue: `{queue}` is a {other} in the \
                             template, not an AWS::SQS::Queue; name a queue, or write \
                             queue = \"new\""
                        ),
                    ));
                }
                None => {
                    return Err(function_error(
                        f,
                        format!(
                            "[package.metadata.eventrail] queue: the template has no resource \
                             `{queue}` outside the generated part; write the queue there, or \
                             write queue = \"new\" for a queue created with the function"
                        ),
                    ));
                }
            }
            (queue, FeedKind::Existing, "Queue")
        }
        _ => return Ok(None),
    };
    let clash = f
        .declaration
        .queues
        .keys()
        .map(|q| {
            format!(
                "{id}{}Queue",
                eventrail_contract::declaration::logical_id(q)
            )
        })
        .find(|q| *q == queue);
    if let Some(clash) = clash {
        return Err(function_error(
            f,
            format!(
                "[package.metadata.eventrail] queues: a declared queue maps to {clash}, the id of \
                 the queue that feeds the function; rename it"
            ),
        ));
    }
    Ok(Some(Feed {
        queue,
        kind,
        event,
        batching,
    }))
}

impl Feed {
    /// The SAM `SQS` event, under `Events`.
    pub(crate) fn event(&self) -> String {
        let mut out = format!(
            r#"        {event}:
          Type: SQS
          Properties:
            Queue: !GetAtt {queue}.Arn
            BatchSize: {size}
            MaximumBatchingWindowInSeconds: {window}
            FunctionResponseTypes:
              - ReportBatchItemFailures
"#,
            event = self.event,
            queue = self.queue,
            size = self.batching.batch_size(),
            window = self.batching.batching_window(),
        );
        if let Some(cap) = self.batching.max_concurrency {
            let _ = write!(
                out,
                "            ScalingConfig:\n              MaximumConcurrency: {cap}\n"
            );
        }
        out
    }

    /// The role's statement on the queue: the poller's actions, on this queue only.
    pub(crate) fn role_statement(&self) -> String {
        let sid = match self.kind {
            FeedKind::Buffer => "PollOwnBufferQueue",
            FeedKind::NewSource | FeedKind::Existing => "PollOwnSourceQueue",
        };
        format!(
            r#"              - Sid: {sid}
                Effect: Allow
                Action: [{actions}]
                Resource: !GetAtt {queue}.Arn
"#,
            actions = POLL_ACTIONS.join(", "),
            queue = self.queue,
        )
    }

    /// The queue's resources (none for a queue of the template): the queue with its redrive to
    /// `failure`, its policy (a buffer's: only its rule sends) and its age alarm.
    pub(crate) fn resources(
        &self,
        out: &mut String,
        f: &FunctionDeclaration,
        rule: &str,
        failure: &str,
        facts: &Facts,
    ) {
        let name = f.name.as_str();
        let q = self.queue.as_str();
        let properties = format!(
            "      MessageRetentionPeriod: {QUEUE_RETENTION_SECONDS}\n      MaximumMessageSize: {MAX_MESSAGE_BYTES}\n      VisibilityTimeout: {visibility}\n      RedrivePolicy:\n        deadLetterTargetArn: !GetAtt {failure}.Arn\n        maxReceiveCount: {receives}\n",
            visibility = VISIBILITY_TIMEOUT_FACTOR * timeout(f, facts),
            receives = self.batching.max_receive_count(),
        );
        match self.kind {
            FeedKind::Existing => return,
            FeedKind::NewSource => queue(out, q, &properties),
            FeedKind::Buffer => {
                let source = rule_arn(name, rule);
                // Operators (TrustedPublisherArns) may send too: `dlq redrive` puts a failed
                // event back into the buffer, so the concurrency cap still holds.
                let operators = if facts.trusted_publishers {
                    format!(
                        "\n                aws:PrincipalArn: !If [HasTrustedPublishers, !Ref {TRUSTED_PUBLISHERS_PARAMETER}, !Ref AWS::NoValue]"
                    )
                } else {
                    String::new()
                };
                queue_with_policy(
                    out,
                    q,
                    &format!(
                        r#"          - Sid: RuleSendsItsEvents
            Effect: Allow
            Principal:
              Service: events.amazonaws.com
            Action: sqs:SendMessage
            Resource: !GetAtt {q}.Arn
            Condition:
              ArnEquals:
                aws:SourceArn: {source}
          - Sid: OnlyTheRuleSends
            Effect: Deny
            Principal: "*"
            Action: sqs:SendMessage
            Resource: !GetAtt {q}.Arn
            Condition:
              ArnNotEquals:
                aws:SourceArn: {source}{operators}
"#
                    ),
                    &properties,
                );
            }
        }
        let (threshold, what) = match self.kind {
            FeedKind::Buffer => (
                BUFFER_AGE_ALARM_SECONDS,
                "its buffer's oldest event has waited over an hour: the consumer is behind (or capped too low)",
            ),
            _ => (
                QUEUE_RETENTION_SECONDS / 4 * 3,
                "its source queue's oldest message is past three quarters of the retention: the function is behind or failing",
            ),
        };
        let metric = Metric {
            threshold,
            ..oldest_message_metric(q, QUEUE_RETENTION_SECONDS)
        };
        loss_alarm(out, &format!("{q}AgeAlarm"), name, &metric, what);
    }
}
