//! Where poison events go: the function's dead-letter queue, with the reason.

use std::future::Future;

use serde::{Deserialize, Serialize};

/// The message sent to the dead-letter queue for a poison event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Always `poison`: the event can never be processed, so it was not retried.
    pub kind: String,
    /// The function that gave up on the event.
    pub function: String,
    /// Why, naming the field where possible.
    pub reason: String,
    /// The EventBridge id of the event, when it could be read.
    pub event_id: Option<String>,
    /// The flow's correlation id, when it could be read.
    pub correlation_id: Option<String>,
    /// When the function gave up (RFC 3339).
    pub failed_at: String,
    /// The original event, exactly as delivered.
    pub event: serde_json::Value,
}

/// Sending a dead letter failed; the invocation must then fail so nothing is lost.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not send event {event_id} to the dead-letter queue: {message}")]
pub struct DeadLetterError {
    /// The event.
    pub event_id: String,
    /// The cause.
    pub message: String,
}

/// A dead-letter destination (SQS in Lambda; a fake in tests).
pub trait DeadLetterSink: Send + Sync {
    /// Stores `letter`; returns the message id.
    fn send(
        &self,
        letter: &DeadLetter,
    ) -> impl Future<Output = Result<String, DeadLetterError>> + Send;
}

/// [`DeadLetterSink`] over an SQS queue.
#[derive(Debug, Clone)]
pub struct SqsDeadLetterQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsDeadLetterQueue {
    /// A sink sending to `queue_url`.
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

impl DeadLetterSink for SqsDeadLetterQueue {
    async fn send(&self, letter: &DeadLetter) -> Result<String, DeadLetterError> {
        use aws_sdk_sqs::types::MessageAttributeValue;
        let event_id = letter
            .event_id
            .clone()
            .unwrap_or_else(|| "<unknown>".to_owned());
        let fail = |message: String| DeadLetterError {
            event_id: event_id.clone(),
            message,
        };
        let body = serde_json::to_string(letter).map_err(|e| fail(e.to_string()))?;
        let attribute = |value: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| fail(e.to_string()))
        };
        let output = self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .message_attributes("kind", attribute(&letter.kind)?)
            .message_attributes("function", attribute(&letter.function)?)
            .send()
            .await
            .map_err(|e| fail(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))?;
        Ok(output.message_id().unwrap_or_default().to_owned())
    }
}
