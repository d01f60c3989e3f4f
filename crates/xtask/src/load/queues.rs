//! How many messages a queue holds (visible and in flight), for the failure queues before and
//! after the run and the buffer queues once it is over.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use aws_sdk_sqs::types::QueueAttributeName;

/// Messages in `queue_url`, visible and in flight (SQS's approximate counts).
pub async fn depth(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Result<u64> {
    let output = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .with_context(|| format!("sqs:GetQueueAttributes on {queue_url}"))?;
    let count = |name: QueueAttributeName| {
        output
            .attributes()
            .and_then(|a| a.get(&name))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(count(QueueAttributeName::ApproximateNumberOfMessages)
        + count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible))
}

/// Messages in `queue_url` once it empties or `patience` passes (a consumer deletes a batch
/// only after its invocation returned, a moment after the flow's last message).
pub async fn drained_depth(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    patience: Duration,
) -> Result<u64> {
    let until = Instant::now() + patience;
    loop {
        let messages = depth(sqs, queue_url).await?;
        if messages == 0 || Instant::now() >= until {
            return Ok(messages);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A message of the run found in a queue: the token it names and, in a failure queue, why
/// it failed (the record's reason).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The token.
    pub token: String,
    /// The failure record's reason (failure queues only).
    pub reason: Option<String>,
}

/// How long scanned messages stay hidden; they are released at once when the scan ends.
const SCAN_VISIBILITY_SECONDS: i32 = 30;

/// The run's tokens the messages of `queue_url` name (at most `limit` messages looked at),
/// without taking anything out: every message received is made visible again. `failure`
/// names the failure queue, whose records' reasons are read.
pub async fn find_tokens(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    failure: Option<&eventrail_observe::FailureQueue>,
    tokens: &std::collections::HashSet<String>,
    limit: usize,
) -> Result<Vec<Found>> {
    let mut found = Vec::new();
    let mut receipts = Vec::new();
    let mut result = Ok(());
    while receipts.len() < limit {
        match eventrail_observe::aws::receive(sqs, queue_url, 0, SCAN_VISIBILITY_SECONDS).await {
            Ok(batch) if batch.is_empty() => break,
            Ok(batch) => {
                for message in batch {
                    receipts.push(message.receipt_handle.clone());
                    let named = crate::load::correlate::tokens_in(&message.body, tokens);
                    if named.is_empty() {
                        continue;
                    }
                    let reason = failure.map(|queue| {
                        eventrail_observe::dlq::DeadLetterMessage::decode(queue, &message)
                            .record
                            .reason()
                    });
                    found.extend(named.into_iter().map(|token| Found {
                        token,
                        reason: reason.clone(),
                    }));
                }
            }
            Err(error) => {
                result = Err(anyhow::Error::new(error).context(format!("scanning {queue_url}")));
                break;
            }
        }
    }
    let released = eventrail_observe::aws::release(sqs, queue_url, &receipts)
        .await
        .with_context(|| format!("making the scanned messages of {queue_url} visible again"));
    result?;
    released?;
    Ok(found)
}
