//! `notifications`: tells the customer about outcomes that concern them.
//!
//! On `StockUnavailable`, `PaymentFailed` and `OrderShipped` it writes one message to the
//! outbox, an SQS FIFO queue. The message's deduplication id is the incoming event's
//! idempotency key, so a redelivered or replayed event (within SQS's 5-minute deduplication
//! window) does not notify the customer twice.

use std::future::Future;

use eventrail_runtime::{Emitted, HandlerError, Incoming};
pub use events::OutboxMessage;
use events::{Event, OrderShipped, PaymentFailed, StockUnavailable, Validate, ValidationError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Outbox queue URL.
pub const OUTBOX_URL_VAR: &str = "EVENTRAIL_OUTBOX_URL";

/// The events this function consumes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum CustomerOutcome {
    /// Nothing was reserved.
    StockUnavailable(StockUnavailable),
    /// The card was declined.
    PaymentFailed(PaymentFailed),
    /// The parcel is on its way.
    OrderShipped(OrderShipped),
}

impl Event for CustomerOutcome {
    const SOURCE: &'static str = "eventrail.*";
    const DETAIL_TYPE: &'static str = "StockUnavailable|PaymentFailed|OrderShipped";
    const VERSION: u32 = 1;

    fn accepts(source: &str, detail_type: &str) -> bool {
        StockUnavailable::accepts(source, detail_type)
            || PaymentFailed::accepts(source, detail_type)
            || OrderShipped::accepts(source, detail_type)
    }
}

impl Validate for CustomerOutcome {
    fn validate(&self) -> Result<(), ValidationError> {
        match self {
            Self::StockUnavailable(e) => e.validate(),
            Self::PaymentFailed(e) => e.validate(),
            Self::OrderShipped(e) => e.validate(),
        }
    }
}

impl CustomerOutcome {
    fn detail_type(&self) -> &'static str {
        match self {
            Self::StockUnavailable(_) => StockUnavailable::DETAIL_TYPE,
            Self::PaymentFailed(_) => PaymentFailed::DETAIL_TYPE,
            Self::OrderShipped(_) => OrderShipped::DETAIL_TYPE,
        }
    }
}

/// Writes the message for `outcome`.
pub fn compose(
    outcome: &CustomerOutcome,
    event_id: &str,
    correlation_id: &str,
    idempotency_key: &str,
) -> OutboxMessage {
    let (order_id, to, kind, subject, body) = match outcome {
        CustomerOutcome::StockUnavailable(e) => (
            &e.order_id,
            &e.customer_email,
            "stock-unavailable",
            format!("Order {}: items out of stock", e.order_id),
            format!(
                "Sorry, we could not reserve {}. You have not been charged.",
                e.unavailable_skus.join(", ")
            ),
        ),
        CustomerOutcome::PaymentFailed(e) => (
            &e.order_id,
            &e.customer_email,
            "payment-failed",
            format!("Order {}: payment failed", e.order_id),
            format!(
                "Your payment of {} cents did not go through: {}.",
                e.amount_cents, e.reason
            ),
        ),
        CustomerOutcome::OrderShipped(e) => (
            &e.order_id,
            &e.customer_email,
            "order-shipped",
            format!("Order {} has shipped", e.order_id),
            format!(
                "{} is carrying your parcel; tracking number {}.",
                e.carrier, e.tracking_number
            ),
        ),
    };
    OutboxMessage {
        order_id: order_id.clone(),
        to: to.clone(),
        kind: kind.to_owned(),
        subject,
        body,
        correlation_id: correlation_id.to_owned(),
        event_id: event_id.to_owned(),
        idempotency_key: idempotency_key.to_owned(),
    }
}

/// Where messages go (SQS FIFO in Lambda; a fake in tests).
pub trait Outbox: Send + Sync {
    /// Sends `message`; returns the SQS message id, or a reason to retry.
    fn send(
        &self,
        message: &OutboxMessage,
    ) -> impl Future<Output = Result<Option<String>, String>> + Send;
}

/// The outbox over an SQS FIFO queue.
#[derive(Debug, Clone)]
pub struct SqsOutbox {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsOutbox {
    /// An outbox writing to `queue_url`.
    pub fn new(client: aws_sdk_sqs::Client, queue_url: String) -> Self {
        Self { client, queue_url }
    }
}

impl Outbox for SqsOutbox {
    async fn send(&self, message: &OutboxMessage) -> Result<Option<String>, String> {
        let body = serde_json::to_string(message).map_err(|e| e.to_string())?;
        let output = self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .message_group_id(&message.order_id)
            .message_deduplication_id(&message.idempotency_key)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "outbox SendMessage failed: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(e)
                )
            })?;
        Ok(output.message_id().map(str::to_owned))
    }
}

/// Dry run: sends nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct DryRunOutbox;

impl Outbox for DryRunOutbox {
    async fn send(&self, _message: &OutboxMessage) -> Result<Option<String>, String> {
        Ok(None)
    }
}

/// The function: composes and sends one message per event.
#[derive(Debug, Clone)]
pub struct Notifier<O> {
    outbox: O,
}

impl<O: Outbox> Notifier<O> {
    /// A notifier writing to `outbox`.
    pub fn new(outbox: O) -> Self {
        Self { outbox }
    }

    /// Handles one event.
    pub async fn notify(&self, event: Incoming<CustomerOutcome>) -> Result<Emitted, HandlerError> {
        if event.data.detail_type() != event.detail_type {
            return Err(HandlerError::poison(format!(
                "detail.data: the payload is a {} but the event says {}",
                event.data.detail_type(),
                event.detail_type
            )));
        }
        let message = compose(
            &event.data,
            &event.id,
            &event.metadata.correlation_id,
            &event.metadata.idempotency_key,
        );
        let message_id = self
            .outbox
            .send(&message)
            .await
            .map_err(HandlerError::Retryable)?;
        Ok(Emitted::none().with_effect(json!({ "outbox": message, "message_id": message_id })))
    }
}

impl<O: Outbox> eventrail_runtime::Handler<CustomerOutcome> for Notifier<O> {
    fn handle(
        &self,
        event: Incoming<CustomerOutcome>,
    ) -> impl Future<Output = Result<Emitted, HandlerError>> + Send {
        self.notify(event)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use eventrail_runtime::Outcome;

    #[derive(Default)]
    struct FakeOutbox {
        sent: Mutex<Vec<OutboxMessage>>,
    }

    impl Outbox for &FakeOutbox {
        async fn send(&self, message: &OutboxMessage) -> Result<Option<String>, String> {
            self.sent.lock().unwrap().push(message.clone());
            Ok(Some("m-1".into()))
        }
    }

    #[tokio::test]
    async fn each_customer_outcome_writes_one_message_keyed_by_the_event() {
        let outbox = FakeOutbox::default();
        let function = eventrail_runtime::test_function!(Notifier::new(&outbox));
        for (name, kind) in [
            ("stock-unavailable.json", "stock-unavailable"),
            ("payment-failed.json", "payment-failed"),
            ("order-shipped.json", "order-shipped"),
        ] {
            let raw = function.sample(name);
            let outcome = function.run(raw.clone()).await.unwrap();
            assert!(
                matches!(outcome, Outcome::Handled { .. }),
                "{name}: {outcome:?}"
            );
            let sent = outbox.sent.lock().unwrap().last().cloned().unwrap();
            assert_eq!(sent.kind, kind);
            assert_eq!(
                sent.idempotency_key,
                raw["detail"]["metadata"]["idempotency_key"]
                    .as_str()
                    .unwrap()
            );
            assert_eq!(sent.event_id, raw["id"].as_str().unwrap());
        }
        assert_eq!(outbox.sent.lock().unwrap().len(), 3);
    }

    #[tokio::test]
    async fn other_events_are_poison() {
        let outbox = FakeOutbox::default();
        let function = eventrail_runtime::test_function!(Notifier::new(&outbox));
        let outcome = function.run_sample("order-placed.json").await.unwrap();
        assert!(matches!(outcome, Outcome::DeadLettered { .. }));
        // A payload that does not match its detail-type is poison too.
        let mut raw = function.sample("order-shipped.json");
        raw["detail-type"] = "PaymentFailed".into();
        raw["source"] = "eventrail.payments".into();
        let outcome = function.run(raw).await.unwrap();
        let Outcome::DeadLettered { reason, .. } = outcome else {
            panic!("expected poison")
        };
        assert!(reason.contains("the payload is a OrderShipped"), "{reason}");
        assert!(outbox.sent.lock().unwrap().is_empty());
    }
}
