//! The redrive engine's view of AWS: receive, read a stored event, redeliver (invoke, put,
//! send to a queue), delete,
//! release ([`RedriveClient`]), and its implementation over the SDK clients.

use std::future::Future;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use serde_json::Value;

use crate::aws::{self, Clients, RawMessage};
use crate::bus;
use crate::error::{Result, aws as aws_error};
use crate::stored;

/// What the redrive engine needs from AWS.
pub trait RedriveClient {
    /// Receives up to 10 messages of `queue_url`, waiting up to `wait_seconds` for some (a
    /// long poll when above 0), hiding them for `visibility_seconds`. Bodies are as queued:
    /// claim checks are not followed here (the engine checks them first).
    fn receive(
        &self,
        queue_url: &str,
        wait_seconds: i32,
        visibility_seconds: i32,
    ) -> impl Future<Output = Result<Vec<RawMessage>>> + Send;
    /// Reads the event a claim check points at (`bucket`, `key`).
    fn read_stored(&self, bucket: &str, key: &str) -> impl Future<Output = Result<Value>> + Send;
    /// Invokes `function_name` asynchronously with `event`; Ok once Lambda accepted it.
    fn invoke_async(
        &self,
        function_name: &str,
        event: &Value,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Puts `event` (its source, detail-type and detail) on `bus_name`; Ok with the new
    /// event id once EventBridge accepted the entry.
    fn put_event(
        &self,
        bus_name: &str,
        event: &Value,
    ) -> impl Future<Output = Result<String>> + Send;
    /// Sends `body` to `queue_url` (a buffered consumer's buffer queue, a queue-triggered
    /// function's source queue); Ok once SQS accepted it.
    fn send_message(&self, queue_url: &str, body: &str) -> impl Future<Output = Result<()>> + Send;
    /// Deletes one message.
    fn delete(
        &self,
        queue_url: &str,
        receipt_handle: &str,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Makes messages visible again.
    fn release(
        &self,
        queue_url: &str,
        receipt_handles: &[String],
    ) -> impl Future<Output = Result<()>> + Send;
}

impl RedriveClient for Clients {
    async fn receive(
        &self,
        queue_url: &str,
        wait_seconds: i32,
        visibility_seconds: i32,
    ) -> Result<Vec<RawMessage>> {
        aws::receive(&self.sqs, queue_url, wait_seconds, visibility_seconds).await
    }

    async fn read_stored(&self, bucket: &str, key: &str) -> Result<Value> {
        let s3 = stored::s3_client(&self.sdk_config);
        stored::read_stored_event(&s3, bucket, key).await
    }

    async fn invoke_async(&self, function_name: &str, event: &Value) -> Result<()> {
        self.lambda
            .invoke()
            .function_name(function_name)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(event.to_string()))
            .send()
            .await
            .map_err(aws_error("lambda:Invoke (async)", function_name))?;
        Ok(())
    }

    async fn put_event(&self, bus_name: &str, event: &Value) -> Result<String> {
        bus::put_envelope(&self.events, bus_name, event).await
    }

    async fn send_message(&self, queue_url: &str, body: &str) -> Result<()> {
        self.sqs
            .send_message()
            .queue_url(queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(aws_error("sqs:SendMessage", queue_url))?;
        Ok(())
    }

    async fn delete(&self, queue_url: &str, receipt_handle: &str) -> Result<()> {
        self.sqs
            .delete_message()
            .queue_url(queue_url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map_err(aws_error("sqs:DeleteMessage", queue_url))?;
        Ok(())
    }

    async fn release(&self, queue_url: &str, receipt_handles: &[String]) -> Result<()> {
        aws::release(&self.sqs, queue_url, receipt_handles).await
    }
}
