//! `notifications`: tells the customer about outcomes that concern them.
//!
//! A buffered consumer (`delivery = "queue"`): its rule sends the outcomes to its buffer queue,
//! which feeds it batches of up to 10, two invocations at most at once, so a burst of orders
//! never reaches the mail provider as a burst. The runtime runs the handler on each record and
//! reports only the records that failed; a poison one goes to the failure queue at once.
//!
//! On `StockUnavailable`, `PaymentFailed` and `OrderShipped` it writes one message to the
//! outbox, an SQS FIFO queue, once per idempotency key: the send runs inside
//! [`Idempotency::once`], whose records live in the function's DynamoDB table (its
//! declaration's `idempotency`), so a duplicate of an event, whenever it arrives within the
//! records' time-to-live, gets the stored result and sends nothing. The message's SQS
//! deduplication id is derived from the key and the event id ([`deduplication_id`]): SQS drops
//! a retry of the same delivery within its 5-minute window (e.g. the buffer delivering a
//! record again after an attempt that crashed after sending, or whose record could not be
//! marked completed), and the idempotency record covers every other duplicate. The record
//! keeps the SQS message id of the send ([`Sent`]), never the message: no personal data (the
//! customer's e-mail) in the idempotency table.

use std::future::Future;

use eventrail_runtime::config;
use eventrail_runtime::idempotency::dynamodb::DynamoDbStore;
use eventrail_runtime::idempotency::{self, Idempotency, IdempotencyStore, MemoryStore};
use eventrail_runtime::prelude::*;
pub use events::OutboxMessage;
use events::{OrderShipped, PaymentFailed, StockUnavailable};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Outbox queue URL.
pub const OUTBOX_URL_VAR: &str = "EVENTRAIL_OUTBOX_URL";

// `Consumed`: one variant per event of the declaration's `consumes` (StockUnavailable,
// PaymentFailed, OrderShipped), generated from it by the build script.
eventrail_runtime::consumed!();

/// Writes the message for `outcome`.
pub fn compose(
    outcome: &Consumed,
    event_id: &str,
    correlation_id: &str,
    idempotency_key: &str,
) -> OutboxMessage {
    let (order_id, to, kind, subject, body) = match outcome {
        Consumed::StockUnavailable(e) => (
            &e.order_id,
            &e.customer_email,
            "stock-unavailable",
            format!("Order {}: items out of stock", e.order_id),
            format!(
                "Sorry, we could not reserve {}. You have not been charged.",
                e.unavailable_skus.join(", ")
            ),
        ),
        Consumed::PaymentFailed(e) => (
            &e.order_id,
            &e.customer_email,
            "payment-failed",
            format!("Order {}: payment failed", e.order_id),
            format!(
                "Your payment of {} cents did not go through: {}.",
                e.amount_cents, e.reason
            ),
        ),
        Consumed::OrderShipped(e) => (
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
    let pair = json!([idempotency_key, event_id]).to_string();
    eventrail_runtime::idempotency::sha256_hex(pair.as_bytes())
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

/// What the idempotency record keeps of a send: the SQS message id only. The message holds
/// the customer's e-mail, which the idempotency table must not (it outlives the outbox by
/// the records' time-to-live, and is read by anyone who can read the table); the message can
/// be found in the outbox by this id. (Records written with the whole message still decode:
/// the extra field is ignored.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
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
    pub async fn notify(&self, event: Incoming<Consumed>) -> Result<Emitted, HandlerError> {
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
                // The data as received: fields `Consumed` ignores count too.
                &event.raw_data,
                event.deadline,
                || async {
                    let message_id = self
                        .outbox
                        .send(&message, &deduplication_id)
                        .await
                        .map_err(HandlerError::retryable)?;
                    Ok::<_, HandlerError>(Sent { message_id })
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
        // The message is reported only when it was sent now; a replay has only the id.
        Ok(Emitted::none().with_effect(json!({
            "outbox": (!replayed).then_some(&message),
            "message_id": sent.message_id,
            "replayed": replayed,
        })))
    }
}

impl<O: Outbox, S: IdempotencyStore> eventrail_runtime::Handler<Consumed> for Notifier<O, S> {
    fn handle(
        &self,
        event: Incoming<Consumed>,
    ) -> impl Future<Output = Result<Emitted, HandlerError>> + Send {
        self.notify(event)
    }
}

/// The notifier the function runs, built once at init: the SQS outbox and the DynamoDB
/// records in Lambda, nothing sent and records in memory in dry-run mode.
pub enum Live {
    /// In Lambda.
    Aws(Notifier<SqsOutbox, DynamoDbStore>),
    /// Dry run (`EVENTRAIL_DRY_RUN`).
    DryRun(Notifier<DryRunOutbox, MemoryStore>),
}

impl State for Live {
    async fn init(init: &Init) -> Result<Self, BoxError> {
        let ttl = idempotency::ttl_from_env()?;
        let Some(sdk) = init.sdk().await else {
            let idempotency = Idempotency::new(MemoryStore::new()).with_ttl(ttl);
            return Ok(Self::DryRun(Notifier::new(DryRunOutbox, idempotency)));
        };
        let queue_url = config::require_var(
            OUTBOX_URL_VAR,
            "the SQS FIFO outbox queue customer messages go to",
        )?;
        // Each SDK client's construction parses its crate's endpoint tables (BENCHMARKS.md,
        // section 7): the SQS client is built on a thread of its own beside the DynamoDB one.
        let sqs = {
            let sdk = sdk.clone();
            std::thread::spawn(move || aws_sdk_sqs::Client::new(&sdk))
        };
        let idempotency = Idempotency::new(DynamoDbStore::from_env(&sdk)?).with_ttl(ttl);
        let sqs = sqs
            .join()
            .map_err(|_| "building the SQS client failed (its thread panicked)")?;
        Ok(Self::Aws(Notifier::new(
            SqsOutbox::new(sqs, queue_url),
            idempotency,
        )))
    }
}

/// The function's handler: one message per customer outcome, once per idempotency key.
pub async fn handle(event: Incoming<Consumed>, live: &Live) -> Result<Emitted, HandlerError> {
    match live {
        Live::Aws(notifier) => notifier.notify(event).await,
        Live::DryRun(notifier) => notifier.notify(event).await,
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
        assert_eq!(replayed[0]["outbox"], serde_json::Value::Null);
        assert_eq!(ran[0]["outbox"]["kind"], "order-shipped");
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
    async fn the_record_keeps_the_message_id_not_the_customer_s_e_mail() {
        let outbox = FakeOutbox::default();
        let store = std::sync::Arc::new(MemoryStore::new());
        let function = eventrail_runtime::test_function!(Notifier::new(
            &outbox,
            Idempotency::new(std::sync::Arc::clone(&store))
        ));
        let raw = function.sample("order-shipped.json");
        let email = raw["detail"]["data"]["customer_email"]
            .as_str()
            .unwrap()
            .to_owned();
        function.run(raw.clone()).await.unwrap();
        let key = send_key(
            raw["detail"]["metadata"]["idempotency_key"]
                .as_str()
                .unwrap(),
        );
        let record = store.record(&key).unwrap();
        let stored = record.result.unwrap();
        assert!(!stored.contains(&email), "personal data stored: {stored}");
        let sent: Sent = serde_json::from_str(&stored).unwrap();
        assert_eq!(sent.message_id.as_deref(), Some("m-1"));
        // A record written before (with the whole message) still replays its id.
        let legacy = json!({ "message": outbox.sent.lock().unwrap()[0].0, "message_id": "m-0" });
        let old: Sent = serde_json::from_value(legacy).unwrap();
        assert_eq!(old.message_id.as_deref(), Some("m-0"));
    }

    #[tokio::test]
    async fn the_payload_hash_is_of_the_data_as_received() {
        let outbox = FakeOutbox::default();
        let store = std::sync::Arc::new(MemoryStore::new());
        let function = eventrail_runtime::test_function!(Notifier::new(
            &outbox,
            Idempotency::new(std::sync::Arc::clone(&store))
        ));
        let raw = function.sample("payment-failed.json");
        function.run(raw.clone()).await.unwrap();
        let key = send_key(
            raw["detail"]["metadata"]["idempotency_key"]
                .as_str()
                .unwrap(),
        );
        let record = store.record(&key).unwrap();
        // `detail.data` as delivered, not `Consumed` written back out.
        assert_eq!(
            record.payload_hash,
            eventrail_runtime::idempotency::payload_hash(&raw["detail"]["data"])
        );
        // The same data spelled otherwise (an integral amount as a float) is a duplicate.
        let mut respelled = raw.clone();
        let amount = raw["detail"]["data"]["amount_cents"].as_u64().unwrap();
        respelled["detail"]["data"]["amount_cents"] = json!(amount as f64);
        respelled["id"] = "another-delivery".into();
        let canonical_same =
            eventrail_runtime::idempotency::payload_hash(&respelled["detail"]["data"]);
        assert_eq!(canonical_same, record.payload_hash);
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
