//! `notifications`: tells the customer about outcomes that concern them.
//!
//! On `StockUnavailable`, `PaymentFailed` and `OrderShipped` it writes one message to the
//! outbox, an SQS FIFO queue, once per idempotency key: the send runs inside
//! [`Idempotency::once`], whose records live in the function's DynamoDB table (its
//! declaration's `idempotency`), so a duplicate of an event, whenever it arrives within the
//! records' time-to-live, gets the stored result and sends nothing. The message's SQS
//! deduplication id is derived from the key and the event id ([`deduplication_id`]): SQS drops
//! a retry of the same delivery within its 5-minute window (e.g. Lambda retrying an attempt
//! that crashed after sending), and the idempotency record covers every other duplicate.

use std::future::Future;

use eventrail_runtime::idempotency::{Idempotency, IdempotencyStore};
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

/// The SQS deduplication id of the message about event `event_id` with idempotency key
/// `idempotency_key`: a SHA-256 (hex) of both, so it is the same for every retry of one
/// delivery and differs for a redelivery under a new event id (a replay, a re-emitted cause),
/// which the idempotency record deduplicates instead.
pub fn deduplication_id(idempotency_key: &str, event_id: &str) -> String {
    eventrail_runtime::idempotency::payload_hash(&[idempotency_key, event_id])
        .unwrap_or_else(|_| idempotency_key.to_owned())
}

/// The idempotency key of the outbox send for an event with `idempotency_key`.
pub fn send_key(idempotency_key: &str) -> String {
    format!("outbox#{idempotency_key}")
}

/// Where messages go (SQS FIFO in Lambda; a fake in tests).
pub trait Outbox: Send + Sync {
    /// Sends `message` with SQS deduplication id `deduplication_id`; returns the SQS message
    /// id, or a reason to retry.
    fn send(
        &self,
        message: &OutboxMessage,
        deduplication_id: &str,
    ) -> impl Future<Output = Result<Option<String>, String>> + Send;
}

/// What the idempotency record keeps of a send: the message and its SQS id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    /// The message as sent the first time.
    pub message: OutboxMessage,
    /// SQS message id (absent in dry-run mode).
    pub message_id: Option<String>,
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
    async fn send(
        &self,
        message: &OutboxMessage,
        deduplication_id: &str,
    ) -> Result<Option<String>, String> {
        let body = serde_json::to_string(message).map_err(|e| e.to_string())?;
        let output = self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .message_group_id(&message.order_id)
            .message_deduplication_id(deduplication_id)
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
    async fn send(
        &self,
        _message: &OutboxMessage,
        _deduplication_id: &str,
    ) -> Result<Option<String>, String> {
        Ok(None)
    }
}

/// The function: composes and sends one message per event, once per idempotency key.
#[derive(Debug, Clone)]
pub struct Notifier<O, S> {
    outbox: O,
    idempotency: Idempotency<S>,
}

impl<O: Outbox, S: IdempotencyStore> Notifier<O, S> {
    /// A notifier writing to `outbox`, recording its sends with `idempotency`.
    pub fn new(outbox: O, idempotency: Idempotency<S>) -> Self {
        Self {
            outbox,
            idempotency,
        }
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
        let deduplication_id = deduplication_id(&event.metadata.idempotency_key, &event.id);
        let done = self
            .idempotency
            .once(
                &send_key(&event.metadata.idempotency_key),
                &event.data,
                event.deadline,
                || async {
                    let message_id = self
                        .outbox
                        .send(&message, &deduplication_id)
                        .await
                        .map_err(HandlerError::Retryable)?;
                    Ok::<_, HandlerError>(Sent {
                        message: message.clone(),
                        message_id,
                    })
                },
            )
            .await?;
        let replayed = done.replayed();
        let sent = done.into_value();
        // Ids and the outcome only: the message itself holds the customer's email.
        tracing::info!(
            replayed,
            message_id = sent.message_id.as_deref().unwrap_or(""),
            "outbox send"
        );
        Ok(Emitted::none().with_effect(json!({
            "outbox": sent.message,
            "message_id": sent.message_id,
            "replayed": replayed,
        })))
    }
}

impl<O: Outbox, S: IdempotencyStore> eventrail_runtime::Handler<CustomerOutcome>
    for Notifier<O, S>
{
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
    use eventrail_runtime::idempotency::MemoryStore;

    #[derive(Default)]
    struct FakeOutbox {
        sent: Mutex<Vec<(OutboxMessage, String)>>,
    }

    impl Outbox for &FakeOutbox {
        async fn send(
            &self,
            message: &OutboxMessage,
            deduplication_id: &str,
        ) -> Result<Option<String>, String> {
            let mut sent = self.sent.lock().unwrap();
            sent.push((message.clone(), deduplication_id.to_owned()));
            Ok(Some(format!("m-{}", sent.len())))
        }
    }

    fn notifier(outbox: &FakeOutbox) -> Notifier<&FakeOutbox, MemoryStore> {
        Notifier::new(outbox, Idempotency::new(MemoryStore::new()))
    }

    #[tokio::test]
    async fn each_customer_outcome_writes_one_message_keyed_by_the_event() {
        let outbox = FakeOutbox::default();
        let function = eventrail_runtime::test_function!(notifier(&outbox));
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
            let (sent, deduplication) = outbox.sent.lock().unwrap().last().cloned().unwrap();
            assert_eq!(sent.kind, kind);
            assert_eq!(
                deduplication,
                deduplication_id(&sent.idempotency_key, &sent.event_id)
            );
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
    async fn a_redelivery_under_a_new_event_id_notifies_once() {
        let outbox = FakeOutbox::default();
        let function = eventrail_runtime::test_function!(notifier(&outbox));
        let raw = function.sample("order-shipped.json");
        let first = function.run(raw.clone()).await.unwrap();
        // A replay or a re-emitted cause: same key and data, new EventBridge id, so SQS's
        // deduplication id differs and only the idempotency record stops a second message.
        let mut again = raw.clone();
        again["id"] = "a-later-delivery".into();
        let second = function.run(again).await.unwrap();
        assert_eq!(outbox.sent.lock().unwrap().len(), 1);
        let (
            Outcome::Handled { effects: ran, .. },
            Outcome::Handled {
                effects: replayed, ..
            },
        ) = (first, second)
        else {
            panic!("both deliveries must be handled");
        };
        assert_eq!(ran[0]["replayed"], false);
        assert_eq!(replayed[0]["replayed"], true);
        assert_eq!(replayed[0]["message_id"], "m-1");
        assert_eq!(replayed[0]["outbox"], ran[0]["outbox"]);
    }

    #[tokio::test]
    async fn the_same_key_with_other_data_is_poison() {
        let outbox = FakeOutbox::default();
        let function = eventrail_runtime::test_function!(notifier(&outbox));
        let raw = function.sample("order-shipped.json");
        function.run(raw.clone()).await.unwrap();
        let mut changed = raw.clone();
        changed["detail"]["data"]["tracking_number"] = "OTHER-123".into();
        let outcome = function.run(changed).await.unwrap();
        let Outcome::DeadLettered { reason, .. } = outcome else {
            panic!("expected poison, got {outcome:?}");
        };
        assert!(reason.contains("payload differs"), "{reason}");
        assert_eq!(outbox.sent.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn other_events_are_poison() {
        let outbox = FakeOutbox::default();
        let function = eventrail_runtime::test_function!(notifier(&outbox));
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
