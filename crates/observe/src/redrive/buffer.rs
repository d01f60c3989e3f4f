//! Functions an SQS queue feeds: a buffered consumer (`delivery = "queue"`: its rule sends to
//! a buffer queue) and a queue-triggered function (`queue = ...`). Their failure queue is the
//! feeding queue's redrive target, so it holds two kinds of record: the runtime's dead letter
//! (with its reason) and the message itself, moved there by SQS after the last receive (no
//! reason recorded). A redrive sends their events back into the feeding queue, never to the
//! function directly, so the event source mapping's concurrency cap still holds.

use aws_sdk_sqs::types::QueueAttributeName;

use eventrail_contract::{Declaration, Delivery, Trigger};

use crate::error::{Result, aws as aws_error};
use crate::failure::{FailureKind, FailureRecord};
use crate::outputs::FailureLayer;

/// Where the records of a function's failure queue are sent back.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SendBack {
    /// An asynchronous invoke of the function: a consumer its rule invokes directly.
    #[default]
    Invoke,
    /// `sqs:SendMessage` of the original EventBridge event into the buffer queue: a buffered
    /// consumer, whose event source mapping then delivers it within its concurrency cap.
    BufferQueue {
        /// The buffer queue's URL (output `<Function>BufferQueueUrl`).
        url: String,
    },
    /// `sqs:SendMessage` of the original message body into the function's source queue: a
    /// queue-triggered function.
    SourceQueue {
        /// The source queue's URL (output `<Function>SourceQueueUrl`).
        url: String,
    },
}

impl SendBack {
    /// What feeds the function the records go back to.
    pub fn feed(&self) -> Feed {
        match self {
            SendBack::Invoke => Feed::Direct,
            SendBack::BufferQueue { .. } => Feed::Buffer,
            SendBack::SourceQueue { .. } => Feed::Source,
        }
    }

    /// Where a record goes, for people.
    pub fn describe(&self, function_name: &str) -> String {
        match self {
            SendBack::Invoke => format!("function {function_name}"),
            SendBack::BufferQueue { url } => format!("buffer queue {url}"),
            SendBack::SourceQueue { url } => format!("source queue {url}"),
        }
    }
}

/// What feeds a function, as its failure queue's records tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    /// A rule invokes it directly, or callers do: no SQS redrive policy.
    Direct,
    /// A buffer queue: SQS moves the rule's events (EventBridge events) itself.
    Buffer,
    /// A source queue: SQS moves the producers' messages (any body) itself.
    Source,
}

impl Feed {
    /// What feeds the function `declaration` declares.
    pub fn of(declaration: &Declaration) -> Self {
        match declaration.trigger() {
            Trigger::Rule {
                delivery: Delivery::Queue,
            } => Feed::Buffer,
            Trigger::Queue(_) => Feed::Source,
            _ => Feed::Direct,
        }
    }
}

/// Whether `record` is a message SQS moved to an SQS-fed function's failure queue by itself
/// (its redrive policy, after the last receive): the bare event or message, with no reason
/// recorded. The runtime writes its own dead letter on the last receive, so such a record
/// means the function did not answer at all then (a timeout, a crash).
pub fn redriven_by_sqs(record: &FailureRecord, feed: Feed) -> bool {
    let bare_event = matches!(
        &record.kind,
        FailureKind::DeliveryFailure(failure)
            if failure.error_code.is_none() && failure.error_message.is_none()
    );
    record.layer == FailureLayer::Function
        && match feed {
            Feed::Direct => false,
            Feed::Buffer => bare_event,
            Feed::Source => bare_event || matches!(record.kind, FailureKind::Unrecognised { .. }),
        }
}

/// The record's kind for people and reports: `sqs-redriven` for [`redriven_by_sqs`], else
/// [`FailureRecord::kind_name`].
pub fn kind_name(record: &FailureRecord, feed: Feed) -> &'static str {
    if redriven_by_sqs(record, feed) {
        "sqs-redriven"
    } else {
        record.kind_name()
    }
}

/// The reason shown for a record [`redriven_by_sqs`]: `max_receive_count` is the declared
/// receives before the redrive (`max-receive-count`).
pub fn sqs_redrive_reason(max_receive_count: u32) -> String {
    format!(
        "redriven by SQS after {max_receive_count} receive{}, no reason recorded (the function \
         did not answer on its last receive: a timeout or a crash; see its logs)",
        if max_receive_count == 1 { "" } else { "s" }
    )
}

/// A feeding queue's depth: messages waiting and in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueDepth {
    /// `ApproximateNumberOfMessages`.
    pub messages: u64,
    /// `ApproximateNumberOfMessagesNotVisible`: being handled right now.
    pub in_flight: u64,
}

/// The depth of a feeding queue, from its attributes only: receiving its messages to look at
/// them would count as receives and move them towards the failure queue.
pub async fn depth(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<QueueDepth> {
    let output = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .map_err(aws_error("sqs:GetQueueAttributes", url))?;
    let count = |name: QueueAttributeName| {
        output
            .attributes()
            .and_then(|a| a.get(&name))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(QueueDepth {
        messages: count(QueueAttributeName::ApproximateNumberOfMessages),
        in_flight: count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn record(layer: FailureLayer, body: &str, attributes: &[(&str, &str)]) -> FailureRecord {
        let attributes: BTreeMap<String, String> = attributes
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        FailureRecord {
            queue_function: "mailer".into(),
            layer,
            message_id: "m1".into(),
            kind: FailureKind::decode(body, &attributes),
        }
    }

    const EVENT: &str = r#"{"id":"e1","source":"app.upstream","detail-type":"Thing","detail":{}}"#;

    #[test]
    fn a_bare_event_in_a_failure_queue_was_redriven_by_sqs() {
        let bare = record(FailureLayer::Function, EVENT, &[]);
        assert!(redriven_by_sqs(&bare, Feed::Buffer));
        assert_eq!(kind_name(&bare, Feed::Buffer), "sqs-redriven");
        assert_eq!(kind_name(&bare, Feed::Source), "sqs-redriven");
        // A consumer invoked directly has no redrive policy: the same body is something else.
        assert_eq!(kind_name(&bare, Feed::Direct), "delivery-failure");
        // In the delivery dead-letter queue, or with EventBridge's error attributes, it is a
        // delivery failure; a runtime dead letter is poison.
        let delivered = record(FailureLayer::Delivery, EVENT, &[]);
        assert_eq!(kind_name(&delivered, Feed::Buffer), "delivery-failure");
        let with_error = record(FailureLayer::Function, EVENT, &[("ERROR_CODE", "X")]);
        assert!(!redriven_by_sqs(&with_error, Feed::Buffer));
        // A source queue's message may be anything.
        let text = record(FailureLayer::Function, "row 17;sku-1;4", &[]);
        assert_eq!(kind_name(&text, Feed::Source), "sqs-redriven");
        assert_eq!(kind_name(&text, Feed::Buffer), "unrecognised");
        let letter = format!(
            r#"{{"kind":"poison","function":"mailer","reason":"bad","failed_at":"2026-11-20T10:00:00Z","event":{EVENT}}}"#
        );
        let poison = record(FailureLayer::Function, &letter, &[]);
        assert_eq!(kind_name(&poison, Feed::Buffer), "poison");
        assert_eq!(
            Feed::of(
                &serde_json::from_str(r#"{"consumes": ["Thing"], "delivery": "queue"}"#).unwrap()
            ),
            Feed::Buffer
        );
        assert_eq!(
            sqs_redrive_reason(3).split(',').next(),
            Some("redriven by SQS after 3 receives")
        );
    }
}
