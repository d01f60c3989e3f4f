//! AWS clients pointed at LocalStack (or any endpoint), and the SQS reading primitives.

use std::collections::BTreeMap;

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};

use crate::error::{Result, aws};

/// Default region when neither the outputs file nor the environment names one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// The clients the observer uses, built once.
#[derive(Debug, Clone)]
pub struct Clients {
    /// EventBridge.
    pub events: aws_sdk_eventbridge::Client,
    /// SQS.
    pub sqs: aws_sdk_sqs::Client,
    /// Lambda.
    pub lambda: aws_sdk_lambda::Client,
    /// The endpoint they talk to.
    pub endpoint: String,
    /// The region.
    pub region: String,
    /// The SDK configuration the clients were built from (to build more clients alike).
    pub sdk_config: aws_config::SdkConfig,
}

impl Clients {
    /// Clients for `endpoint` in `region`. Credentials come from `AWS_ACCESS_KEY_ID` /
    /// `AWS_SECRET_ACCESS_KEY` when set, else LocalStack's `test`/`test`; nothing is read
    /// from `~/.aws`, so a developer's real profile is never used against LocalStack.
    pub async fn connect(endpoint: &str, region: &str) -> Self {
        let key = std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_else(|_| "test".to_owned());
        let secret = std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|_| "test".to_owned());
        let credentials =
            aws_sdk_sqs::config::Credentials::new(key, secret, None, None, "eventrail-observe");
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(eventrail_runtime::http_client())
            .endpoint_url(endpoint)
            .region(aws_config::Region::new(region.to_owned()))
            .credentials_provider(credentials)
            .load()
            .await;
        Self::from_sdk_config(config)
    }

    /// Clients built from an SDK configuration (the standard chain: profile, region,
    /// `AWS_ENDPOINT_URL`, credentials), as the operating commands use it on AWS and
    /// LocalStack alike.
    pub fn from_sdk_config(config: aws_config::SdkConfig) -> Self {
        Self {
            events: aws_sdk_eventbridge::Client::new(&config),
            sqs: aws_sdk_sqs::Client::new(&config),
            lambda: aws_sdk_lambda::Client::new(&config),
            endpoint: config.endpoint_url().unwrap_or_default().to_owned(),
            region: config
                .region()
                .map(|r| r.as_ref().to_owned())
                .unwrap_or_default(),
            sdk_config: config,
        }
    }
}

/// The region to use: `preferred`, else `AWS_REGION`, `AWS_DEFAULT_REGION`, else us-east-1.
pub fn region_or_default(preferred: Option<&str>) -> String {
    preferred
        .map(str::to_owned)
        .or_else(|| std::env::var("AWS_REGION").ok())
        .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| DEFAULT_REGION.to_owned())
}

/// One received SQS message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    /// Message id.
    pub message_id: String,
    /// Receipt handle (to delete or release it).
    pub receipt_handle: String,
    /// Body.
    pub body: String,
    /// String message attributes.
    pub attributes: BTreeMap<String, String>,
    /// `MessageDeduplicationId` (FIFO queues).
    pub deduplication_id: Option<String>,
    /// `MessageGroupId` (FIFO queues).
    pub group_id: Option<String>,
    /// `SentTimestamp`: when the message was sent, in milliseconds since the epoch.
    pub sent_at_ms: Option<u64>,
    /// `ApproximateReceiveCount`: how many times it was received (this time included).
    pub receive_count: Option<u32>,
}

/// Receives up to 10 messages, hiding them for `visibility_seconds`.
pub async fn receive(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    wait_seconds: i32,
    visibility_seconds: i32,
) -> Result<Vec<RawMessage>> {
    let output = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(wait_seconds)
        .visibility_timeout(visibility_seconds)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .send()
        .await
        .map_err(aws("sqs:ReceiveMessage", queue_url))?;
    Ok(output
        .messages()
        .iter()
        .map(|message| {
            let system = message.attributes();
            let system_value =
                |name: MessageSystemAttributeName| system.and_then(|a| a.get(&name)).cloned();
            RawMessage {
                message_id: message.message_id().unwrap_or_default().to_owned(),
                receipt_handle: message.receipt_handle().unwrap_or_default().to_owned(),
                body: message.body().unwrap_or_default().to_owned(),
                attributes: message
                    .message_attributes()
                    .map(|attributes| {
                        attributes
                            .iter()
                            .filter_map(|(k, v)| {
                                v.string_value().map(|s| (k.clone(), s.to_owned()))
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                deduplication_id: system_value(MessageSystemAttributeName::MessageDeduplicationId),
                group_id: system_value(MessageSystemAttributeName::MessageGroupId),
                sent_at_ms: system_value(MessageSystemAttributeName::SentTimestamp)
                    .and_then(|v| v.parse().ok()),
                receive_count: system_value(MessageSystemAttributeName::ApproximateReceiveCount)
                    .and_then(|v| v.parse().ok()),
            }
        })
        .collect())
}

/// Deletes messages by receipt handle.
pub async fn delete(sqs: &aws_sdk_sqs::Client, queue_url: &str, receipts: &[String]) -> Result<()> {
    for chunk in receipts.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, receipt)| {
                aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(receipt)
                    .build()
                    .map_err(aws("sqs:DeleteMessageBatch", queue_url))
            })
            .collect::<Result<Vec<_>>>()?;
        sqs.delete_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(aws("sqs:DeleteMessageBatch", queue_url))?;
    }
    Ok(())
}

/// Makes messages visible again at once (they belong to someone else).
pub async fn release(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    receipts: &[String],
) -> Result<()> {
    for chunk in receipts.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, receipt)| {
                aws_sdk_sqs::types::ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(receipt)
                    .visibility_timeout(0)
                    .build()
                    .map_err(aws("sqs:ChangeMessageVisibilityBatch", queue_url))
            })
            .collect::<Result<Vec<_>>>()?;
        sqs.change_message_visibility_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(aws("sqs:ChangeMessageVisibilityBatch", queue_url))?;
    }
    Ok(())
}

/// Takes the messages `claim` accepts out of a queue other readers share: claimed messages
/// are deleted and returned; the others stay hidden while the queue is being drained (so
/// the drain ends) and are made visible again before returning.
pub async fn drain_shared(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    claim: impl Fn(&RawMessage) -> bool,
) -> Result<Vec<RawMessage>> {
    // Bounded: a queue receiving faster than it can be read must not hold the caller forever.
    const MAX_RECEIVES: usize = 100;
    let mut claimed = Vec::new();
    let mut foreign = Vec::new();
    let mut result = Ok(());
    for _ in 0..MAX_RECEIVES {
        let batch = match receive(sqs, queue_url, 0, 30).await {
            Ok(batch) => batch,
            Err(error) => {
                result = Err(error);
                break;
            }
        };
        if batch.is_empty() {
            break;
        }
        let (mine, others): (Vec<_>, Vec<_>) = batch.into_iter().partition(|m| claim(m));
        foreign.extend(others.into_iter().map(|m| m.receipt_handle));
        if !mine.is_empty() {
            let receipts: Vec<String> = mine.iter().map(|m| m.receipt_handle.clone()).collect();
            if let Err(error) = delete(sqs, queue_url, &receipts).await {
                result = Err(error);
                break;
            }
            claimed.extend(mine);
        }
    }
    // Release even when receiving failed, so other readers are never starved.
    let released = release(sqs, queue_url, &foreign).await;
    result?;
    released?;
    Ok(claimed)
}

/// The ARN of a queue.
pub async fn queue_arn(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Result<String> {
    let output = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(aws("sqs:GetQueueAttributes", queue_url))?;
    output
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| crate::error::ObserveError::Decode {
            what: format!("the attributes of queue {queue_url}"),
            message: "no QueueArn".to_owned(),
        })
}
