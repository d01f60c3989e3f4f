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
