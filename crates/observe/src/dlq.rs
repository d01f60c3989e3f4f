//! Looking into the failure queues without taking anything out: message counts, the oldest
//! message's age, and the records themselves (peeked: received, then made visible again).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{Value, json};

use crate::aws::{self, RawMessage};
use crate::error::{Result, aws as aws_error};
use crate::failure::{FailureKind, FailureRecord};
use crate::outputs::FailureQueue;

/// How long peeked messages stay hidden before they are released (they are released at once
/// when the peek ends; this only bounds a peek that is interrupted).
const PEEK_VISIBILITY_SECONDS: i32 = 30;
/// How many messages `summarize` looks at to find the oldest one.
const OLDEST_SCAN: usize = 100;

/// One failure queue at a glance.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueSummary {
    /// The queue and its function.
    pub queue: FailureQueue,
    /// Messages waiting (`ApproximateNumberOfMessages`).
    pub messages: u64,
    /// Messages being read by someone right now (`ApproximateNumberOfMessagesNotVisible`).
    pub in_flight: u64,
    /// The age of the oldest message seen (all of them when `oldest_exact`).
    pub oldest_age: Option<Duration>,
    /// True when every waiting message was looked at for `oldest_age`.
    pub oldest_exact: bool,
}

/// A failure record with what SQS knows about its message.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetterMessage {
    /// The decoded record.
    pub record: FailureRecord,
    /// When the message was sent to the queue (ms since the epoch).
    pub sent_at_ms: Option<u64>,
    /// How many times the message was received.
    pub receive_count: Option<u32>,
    /// Why the event its claim check points at was not read back (refused: outside the
    /// stack's failed-events bucket or the function's prefix; or the read failed).
    pub stored_event_problem: Option<String>,
}

/// Where a peek reads back the events of claim checks: `s3`, only from the stack's
/// failed-events bucket (`bucket`) under the queue's function's prefix
/// ([`crate::stored::check_claim`]).
#[derive(Debug, Clone, Copy)]
pub struct StoredEvents<'a> {
    /// The S3 client.
    pub s3: &'a aws_sdk_s3::Client,
    /// The stack's failed-events bucket (output `FailedEventsBucketName`).
    pub bucket: Option<&'a str>,
}

impl DeadLetterMessage {
    /// Decodes a message of `queue`.
    pub fn decode(queue: &FailureQueue, message: &RawMessage) -> Self {
        Self {
            record: FailureRecord {
                queue_function: queue.function.clone(),
                layer: queue.layer,
                message_id: message.message_id.clone(),
                kind: FailureKind::decode(&message.body, &message.attributes),
            },
            sent_at_ms: message.sent_at_ms,
            receive_count: message.receive_count,
            stored_event_problem: None,
        }
    }

    /// How long the message has been in the queue.
    pub fn age(&self, now: SystemTime) -> Option<Duration> {
        let sent = UNIX_EPOCH + Duration::from_millis(self.sent_at_ms?);
        Some(now.duration_since(sent).unwrap_or_default())
    }

    /// One JSON object: the record's kind, reason, error type, attempts, age and the
    /// original event.
    pub fn to_json(&self, now: SystemTime) -> Value {
        let record = &self.record;
        json!({
            "message_id": record.message_id,
            "function": record.queue_function,
            "queue": record.layer.describe(),
            "kind": record.kind_name(),
            "error_type": record.error_type(),
            "reason": record.reason(),
            "attempts": record.attempts(),
            "age_seconds": self.age(now).map(|a| a.as_secs()),
            "event_id": record.event_id(),
            "correlation_id": record.correlation_id(),
            "event": record.original_event().ok(),
            "event_raw": record.poison().and_then(|l| l.event_raw.as_ref()),
            "stored_event_problem": self.stored_event_problem,
        })
    }
}

/// Counts and the oldest message's age of `queue`. The age comes from peeking at up to 100
/// messages (SQS has no attribute for it; CloudWatch's `ApproximateAgeOfOldestMessage` is
/// minutes late).
pub async fn summarize(sqs: &aws_sdk_sqs::Client, queue: &FailureQueue) -> Result<QueueSummary> {
    let output = sqs
        .get_queue_attributes()
        .queue_url(&queue.url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .map_err(aws_error("sqs:GetQueueAttributes", &queue.url))?;
    let count = |name: QueueAttributeName| {
        output
            .attributes()
            .and_then(|a| a.get(&name))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let messages = count(QueueAttributeName::ApproximateNumberOfMessages);
    let in_flight = count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible);
    let (mut oldest_age, mut oldest_exact) = (None, true);
    if messages > 0 {
        let peeked = peek(sqs, queue, OLDEST_SCAN).await?;
        let now = SystemTime::now();
        oldest_age = peeked.iter().filter_map(|m| m.age(now)).max();
        oldest_exact = (peeked.len() as u64) >= messages;
    }
    Ok(QueueSummary {
        queue: queue.clone(),
        messages,
        in_flight,
        oldest_age,
        oldest_exact,
    })
}

/// Puts what a message's claim check points at back into its dead letter, when
/// [`crate::stored::check_claim`] allows the place; else why not.
async fn read_back(
    stored: StoredEvents<'_>,
    queue: &FailureQueue,
    message: &mut RawMessage,
) -> Result<(), String> {
    let Ok(body) = crate::json::parse(&message.body) else {
        return Ok(());
    };
    let Some((bucket, key)) = crate::stored::stored_event_location(&body) else {
        return Ok(());
    };
    crate::stored::check_claim(stored.bucket, &queue.function, &bucket, &key)?;
    crate::stored::inline_stored_events(stored.s3, std::slice::from_mut(message))
        .await
        .map_err(|e| {
            format!("its event is stored at s3://{bucket}/{key} and could not be read: {e}")
        })
}

/// Up to `max` records of `queue`, oldest first as far as SQS tells; every message is made
/// visible again before this returns, so nothing is taken out.
pub async fn peek(
    sqs: &aws_sdk_sqs::Client,
    queue: &FailureQueue,
    max: usize,
) -> Result<Vec<DeadLetterMessage>> {
    peek_with_stored_events(sqs, None, queue, max).await
}

/// [`peek`], reading back the events that dead letters keep in the failed-events bucket
/// (claim checks) as `stored` allows. A claim check refused or not readable does not end the
/// peek: its record says why ([`DeadLetterMessage::stored_event_problem`]).
pub async fn peek_with_stored_events(
    sqs: &aws_sdk_sqs::Client,
    stored: Option<StoredEvents<'_>>,
    queue: &FailureQueue,
    max: usize,
) -> Result<Vec<DeadLetterMessage>> {
    let mut seen = Vec::new();
    let mut receipts = Vec::new();
    let mut result = Ok(());
    while seen.len() < max {
        match aws::receive(sqs, &queue.url, 0, PEEK_VISIBILITY_SECONDS).await {
            Ok(batch) if batch.is_empty() => break,
            Ok(batch) => {
                for mut message in batch {
                    receipts.push(message.receipt_handle.clone());
                    if seen.len() >= max {
                        continue;
                    }
                    let problem = match stored {
                        Some(stored) => read_back(stored, queue, &mut message).await.err(),
                        None => None,
                    };
                    seen.push(DeadLetterMessage {
                        stored_event_problem: problem,
                        ..DeadLetterMessage::decode(queue, &message)
                    });
                }
            }
            Err(error) => {
                result = Err(error);
                break;
            }
        }
    }
    let released = aws::release(sqs, &queue.url, &receipts).await;
    result?;
    released?;
    seen.sort_by_key(|m| m.sent_at_ms);
    Ok(seen)
}

/// `3s`, `4m 05s`, `2h 03m`, `3d 04h`.
pub fn human_age(age: Duration) -> String {
    let s = age.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {:02}h", s / 86400, (s % 86400) / 3600),
    }
}
