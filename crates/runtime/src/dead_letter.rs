//! Where poison events go: the function's dead-letter queue, with the reason. The record's
//! format is the contract's ([`eventrail_contract::dead_letter`]); this module writes it.

use std::future::Future;

pub use eventrail_contract::dead_letter::{
    DeadLetter, INLINE_DEAD_LETTER_BYTES, RawEncoding, RawEvent, RawEventError, StoredEvent,
    StoredFormat, stored_event_key,
};

use crate::lazy::LazyClient;

/// What the dead-letter queue's client is called in errors.
pub(crate) const SQS_CLIENT: &str = "the SQS client for the dead-letter queue";
/// What the failed-events bucket's client is called in errors.
pub(crate) const S3_CLIENT: &str = "the S3 client for the failed-events bucket";

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

    /// The queue's name, as the dead letter's span names it (`send <queue>`).
    fn queue_name(&self) -> &str {
        "dead-letter-queue"
    }
}

/// [`DeadLetterSink`] over an SQS queue, with an S3 bucket for events too large for a message.
#[derive(Debug, Clone)]
pub struct SqsDeadLetterQueue {
    client: LazyClient<aws_sdk_sqs::Client>,
    queue_url: String,
    store: Option<(LazyClient<aws_sdk_s3::Client>, String)>,
    /// Key prefix in the bucket; `None`: the function's name and a slash.
    key_prefix: Option<String>,
}

impl SqsDeadLetterQueue {
    /// A sink sending to `queue_url`.
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self::with_lazy_client(LazyClient::ready(SQS_CLIENT, client), queue_url)
    }

    /// A sink sending to `queue_url` with an SQS client built on the first dead letter (what
    /// `run_consumer` does: a poison event is the rare path, so the cold start does not pay
    /// for the client). A client that cannot be built fails that letter with the reason.
    pub fn with_lazy_client(
        client: LazyClient<aws_sdk_sqs::Client>,
        queue_url: impl Into<String>,
    ) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
            store: None,
            key_prefix: None,
        }
    }

    /// Events of letters over [`INLINE_DEAD_LETTER_BYTES`] are stored in `bucket`.
    pub fn with_event_store(self, client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        self.with_lazy_event_store(LazyClient::ready(S3_CLIENT, client), bucket)
    }

    /// As [`SqsDeadLetterQueue::with_event_store`], with an S3 client built on the first
    /// letter that needs it (what `run_consumer` does: most functions never store an event,
    /// so their cold start does not pay for the client). A client that cannot be built fails
    /// that letter with the reason, as a failed upload does.
    pub fn with_lazy_event_store(
        mut self,
        client: LazyClient<aws_sdk_s3::Client>,
        bucket: impl Into<String>,
    ) -> Self {
        self.store = Some((client, bucket.into()));
        self
    }

    /// Stored events go under `prefix` (what the template sets in
    /// `EVENTRAIL_FAILED_EVENTS_PREFIX`, the only prefix the function's role may write); `None`
    /// keeps the default, the letter's function name and a slash.
    pub fn with_event_key_prefix(mut self, prefix: Option<String>) -> Self {
        self.key_prefix = prefix;
        self
    }

    /// Moves the letter's event to the bucket; the letter then carries the pointer.
    async fn store_event(
        &self,
        letter: &DeadLetter,
        fail: impl Fn(String) -> DeadLetterError,
    ) -> Result<DeadLetter, DeadLetterError> {
        let Some((s3, bucket)) = &self.store else {
            return Err(fail(format!(
                "the dead letter is over {INLINE_DEAD_LETTER_BYTES} bytes and no bucket is \
                 configured for large failed events ({}); the invocation fails so Lambda's \
                 failure record keeps the event",
                crate::config::FAILED_EVENTS_BUCKET_VAR
            )));
        };
        let (body, format, content_type) = match &letter.event_raw {
            Some(raw) => (
                raw.to_bytes().map_err(|e| fail(e.to_string()))?,
                Some(StoredFormat::Raw),
                "application/octet-stream",
            ),
            None => (
                serde_json::to_vec(&letter.event).map_err(|e| fail(e.to_string()))?,
                None,
                "application/json",
            ),
        };
        let prefix = self.key_prefix.clone().unwrap_or_else(|| {
            let function = letter.function.rsplit('/').next().unwrap_or_default();
            eventrail_contract::declaration::failed_events_prefix(function)
        });
        let key = stored_event_key(&prefix, letter.event_id.as_deref(), &letter.failed_at);
        let bytes = body.len();
        let s3 = s3.get().map_err(|e| {
            fail(format!(
                "storing the event in s3://{bucket}/{key}: {e}; the invocation fails so \
                 Lambda's failure record keeps the event"
            ))
        })?;
        s3.put_object()
            .bucket(bucket)
            .key(&key)
            .content_type(content_type)
            .body(body.into())
            .send()
            .await
            .map_err(|e| {
                fail(format!(
                    "storing the event in s3://{bucket}/{key}: {}",
                    aws_sdk_s3::error::DisplayErrorContext(e)
                ))
            })?;
        let mut pointer = letter.clone();
        pointer.event = serde_json::Value::Null;
        pointer.event_raw = None;
        pointer.event_stored_at = Some(StoredEvent {
            bucket: bucket.clone(),
            key,
            bytes,
            format,
        });
        Ok(pointer)
    }
}

impl DeadLetterSink for SqsDeadLetterQueue {
    fn queue_name(&self) -> &str {
        self.queue_url.rsplit('/').next().unwrap_or(&self.queue_url)
    }

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
        let mut body = serde_json::to_string(letter).map_err(|e| fail(e.to_string()))?;
        if body.len() > INLINE_DEAD_LETTER_BYTES {
            let pointer = Box::pin(self.store_event(letter, &fail)).await?;
            tracing::info!(
                bytes = body.len(),
                "dead letter too large for a queue message; its event was stored in the failed-events bucket"
            );
            body = serde_json::to_string(&pointer).map_err(|e| fail(e.to_string()))?;
        }
        let attribute = |value: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| fail(e.to_string()))
        };
        let client = self.client.get().map_err(|e| {
            fail(format!(
                "{e}; the invocation fails so Lambda's failure record keeps the event"
            ))
        })?;
        let output = client
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sqs_client() -> aws_sdk_sqs::Client {
        let config = aws_sdk_sqs::Config::builder()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .region(aws_sdk_sqs::config::Region::new("us-east-1"))
            .build();
        aws_sdk_sqs::Client::from_conf(config)
    }

    fn large_letter() -> DeadLetter {
        DeadLetter {
            kind: "poison".to_owned(),
            function: "planner".to_owned(),
            reason: "detail.data: missing field `sku`".to_owned(),
            event_id: Some("e-1".to_owned()),
            correlation_id: None,
            detail_type: Some("TaskCreated".to_owned()),
            failed_at: "2026-11-27T19:00:00Z".to_owned(),
            event: serde_json::json!({ "padding": "x".repeat(INLINE_DEAD_LETTER_BYTES) }),
            event_raw: None,
            event_stored_at: None,
        }
    }

    /// The S3 client is built on the first letter that needs it; when it cannot be built, that
    /// letter fails with the reason (and the invocation with it), nothing is sent half-way.
    #[tokio::test]
    async fn an_s3_client_that_cannot_be_built_fails_the_letter_with_the_reason() {
        let s3 = LazyClient::new(S3_CLIENT, || -> aws_sdk_s3::Client {
            panic!("invalid client configuration: no region")
        });
        let queue = SqsDeadLetterQueue::new(sqs_client(), "http://127.0.0.1:1/000000000000/dlq")
            .with_lazy_event_store(s3.clone(), "failed-events");
        let error = queue.send(&large_letter()).await.unwrap_err();
        assert_eq!(error.event_id, "e-1");
        assert!(
            error
                .message
                .contains("s3://failed-events/planner/e-1.json")
                && error
                    .message
                    .contains("building the S3 client for the failed-events bucket failed")
                && error
                    .message
                    .contains("invalid client configuration: no region"),
            "{}",
            error.message
        );
        assert!(!s3.is_built());
    }

    /// The key is under the prefix the template gives the function (its declared name), not
    /// under the name Lambda gives it (`<stack>-planner`): the role may write there only.
    #[tokio::test]
    async fn a_stored_event_goes_under_the_configured_prefix_not_the_lambda_name() {
        let s3 = LazyClient::new(S3_CLIENT, || -> aws_sdk_s3::Client {
            panic!("no client in this test")
        });
        let mut letter = large_letter();
        letter.function = "eventrail-dev-planner".to_owned();
        let queue = SqsDeadLetterQueue::new(sqs_client(), "http://127.0.0.1:1/000000000000/dlq")
            .with_lazy_event_store(s3.clone(), "failed-events")
            .with_event_key_prefix(Some("planner/".to_owned()));
        let error = queue.send(&letter).await.unwrap_err();
        assert!(
            error
                .message
                .contains("s3://failed-events/planner/e-1.json:"),
            "{}",
            error.message
        );
        let unconfigured = SqsDeadLetterQueue::new(sqs_client(), "http://127.0.0.1:1/q")
            .with_lazy_event_store(s3, "failed-events");
        let error = unconfigured.send(&letter).await.unwrap_err();
        assert!(
            error
                .message
                .contains("s3://failed-events/eventrail-dev-planner/e-1.json:"),
            "{}",
            error.message
        );
    }

    #[tokio::test]
    async fn an_sqs_client_that_cannot_be_built_fails_the_letter_with_the_reason() {
        let sqs = LazyClient::new(SQS_CLIENT, || -> aws_sdk_sqs::Client {
            panic!("invalid client configuration: no sleep implementation")
        });
        let queue = SqsDeadLetterQueue::with_lazy_client(sqs.clone(), "http://127.0.0.1:1/q");
        let mut letter = large_letter();
        letter.event = serde_json::json!({ "small": true });
        let error = queue.send(&letter).await.unwrap_err();
        assert_eq!(error.event_id, "e-1");
        assert!(
            error
                .message
                .contains("building the SQS client for the dead-letter queue failed")
                && error.message.contains("no sleep implementation"),
            "{}",
            error.message
        );
        assert!(!sqs.is_built());
    }
}
