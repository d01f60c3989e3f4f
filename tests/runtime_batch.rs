//! The runtime kit over SQS batches: a buffered consumer (`delivery = "queue"`, bodies are
//! EventBridge events) and a queue trigger (`queue = ...`, bodies are the handler's input).
//! Poison records go to the dead-letter queue with their reason and are not reported; a
//! handler failure is reported, exactly that record; on the last receive the kit writes the
//! dead letter itself and reports nothing.

use std::pin::Pin;
use std::sync::{Arc, Mutex};

use aws_lambda_events::sqs::SqsEvent;
use eventrail_runtime::Publisher;
use eventrail_runtime::idempotency::{Idempotency, MemoryStore};
use eventrail_runtime::prelude::*;
use eventrail_runtime::{
    BatchReport, BufferedConsumer, Consumer, Handler, QueueConsumer, RecordOutcome,
};
use events::{OrderPlaced, PlaceOrder, StockReserved};
use serde_json::{Value, json};

use crate::runtime_consumer::{FakeBus, FakeDeadLetters, reserve, sample};

const MAX_RECEIVES: u32 = 3;

/// An `OrderPlaced` as EventBridge delivers it, with its own id and order id; `sku` replaces
/// the first item's (`BOOM` makes the test handler fail, retryably).
fn order_placed(n: usize, sku: &str) -> Value {
    let mut event = sample("order-placed.json");
    event["id"] = json!(format!("evt-{n}"));
    event["detail"]["metadata"]["idempotency_key"] = json!(format!("key-{n}"));
    event["detail"]["data"]["order"]["order_id"] = json!(format!("ord-{n}"));
    event["detail"]["data"]["order"]["items"][0]["sku"] = json!(sku);
    event
}

/// An SQS record: `body` as text, received `receives` times.
fn record(id: &str, body: &str, receives: u32) -> Value {
    json!({
        "messageId": id,
        "receiptHandle": format!("rh-{id}"),
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": receives.to_string(),
            "SentTimestamp": "1765076400000"
        },
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:eventrail-dev-notifier-buffer",
        "awsRegion": "us-east-1"
    })
}

fn batch(records: Vec<Value>) -> SqsEvent {
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

/// Ten records: one poison (a field missing), one the handler fails on (`m-7`), eight good.
fn ten_with_one_poison_and_one_failure(receives_of_failure: u32) -> SqsEvent {
    let records = (0..10)
        .map(|n| {
            let id = format!("m-{n}");
            match n {
                3 => {
                    let mut poison = order_placed(n, "SKU-TEA-001");
                    let order = poison["detail"]["data"]["order"].as_object_mut().unwrap();
                    order.remove("customer_email");
                    record(&id, &poison.to_string(), 1)
                }
                7 => record(
                    &id,
                    &order_placed(n, "BOOM").to_string(),
                    receives_of_failure,
                ),
                _ => record(&id, &order_placed(n, "SKU-TEA-001").to_string(), 1),
            }
        })
        .collect();
    batch(records)
}

fn buffered<'a>(
    bus: &'a FakeBus,
    dlq: &'a FakeDeadLetters,
) -> BufferedConsumer<OrderPlaced, impl Handler<OrderPlaced>, &'a FakeBus, &'a FakeDeadLetters> {
    let consumer = Consumer::new(
        reserve,
        Some(Publisher::new(bus, "bus")),
        Some(dlq),
        "inventory",
    );
    BufferedConsumer::new(consumer, MAX_RECEIVES)
}

fn reasons(dlq: &FakeDeadLetters) -> Vec<(Option<String>, String)> {
    dlq.letters
        .lock()
        .unwrap()
        .iter()
        .map(|l| (l.event_id.clone(), l.reason.clone()))
        .collect()
}

#[tokio::test]
async fn a_batch_of_ten_reports_only_the_failed_record_and_dead_letters_the_poison_one() {
    let (bus, dlq) = (FakeBus::default(), FakeDeadLetters::default());
    let report = buffered(&bus, &dlq)
        .process_batch(&ten_with_one_poison_and_one_failure(1), None)
        .await;
    assert_eq!(report.failed_ids(), vec!["m-7"], "{report:?}");
    assert_eq!(report.response().batch_item_failures.len(), 1);
    assert_eq!(
        report.response().batch_item_failures[0].item_identifier,
        "m-7"
    );
    let letters = dlq.letters.lock().unwrap().clone();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].kind, "poison");
    assert_eq!(letters[0].event_id.as_deref(), Some("evt-3"));
    assert_eq!(letters[0].detail_type.as_deref(), Some("OrderPlaced"));
    assert!(
        letters[0].reason.contains("customer_email"),
        "the reason names the field: {}",
        letters[0].reason
    );
    assert_eq!(letters[0].event["id"], "evt-3", "the event travels whole");
    assert!(matches!(
        &report.records[3],
        RecordOutcome::DeadLettered {
            last_receive: false,
            ..
        }
    ));
    let sent = bus.sent.lock().unwrap();
    assert_eq!(sent.len(), 8, "the eight good records, each once");
    assert!(sent.iter().all(|e| e.detail_type == "StockReserved"));
}

#[tokio::test]
async fn on_its_last_receive_a_failed_record_is_dead_lettered_with_the_handlers_reason() {
    let (bus, dlq) = (FakeBus::default(), FakeDeadLetters::default());
    let report = buffered(&bus, &dlq)
        .process_batch(&ten_with_one_poison_and_one_failure(MAX_RECEIVES), None)
        .await;
    assert!(report.failed_ids().is_empty(), "{report:?}");
    let reasons = reasons(&dlq);
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    let (event_id, reason) = &reasons[1];
    assert_eq!(event_id.as_deref(), Some("evt-7"));
    assert!(
        reason.contains("warehouse API timed out") && reason.contains("receive 3"),
        "{reason}"
    );
    assert!(matches!(
        &report.records[7],
        RecordOutcome::DeadLettered {
            last_receive: true,
            ..
        }
    ));
}

#[tokio::test]
async fn before_its_last_receive_a_failed_record_is_not_dead_lettered() {
    let (bus, dlq) = (FakeBus::default(), FakeDeadLetters::default());
    let report = buffered(&bus, &dlq)
        .process_batch(&ten_with_one_poison_and_one_failure(MAX_RECEIVES - 1), None)
        .await;
    assert_eq!(report.failed_ids(), vec!["m-7"]);
    assert_eq!(reasons(&dlq).len(), 1, "only the poison one");
}

#[tokio::test]
async fn a_poison_record_whose_dead_letter_fails_is_reported_so_nothing_is_lost() {
    let bus = FakeBus::default();
    let dlq = FakeDeadLetters {
        broken: true,
        ..FakeDeadLetters::default()
    };
    let report = buffered(&bus, &dlq)
        .process_batch(&ten_with_one_poison_and_one_failure(1), None)
        .await;
    assert_eq!(report.failed_ids(), vec!["m-3", "m-7"]);
}

#[tokio::test]
async fn a_body_that_is_not_an_event_is_poison_with_its_reason() {
    let (bus, dlq) = (FakeBus::default(), FakeDeadLetters::default());
    let report = buffered(&bus, &dlq)
        .process_batch(&batch(vec![record("m-0", "not json", 1)]), None)
        .await;
    assert!(report.failed_ids().is_empty());
    let letters = dlq.letters.lock().unwrap().clone();
    assert_eq!(letters.len(), 1);
    assert!(
        letters[0].reason.contains("not valid JSON"),
        "{}",
        letters[0].reason
    );
    assert_eq!(letters[0].event_raw.as_ref().unwrap().data, "not json");
}

/// Idempotency works per record: the same event twice in a batch (a duplicate delivery) has
/// its effect once.
#[tokio::test]
async fn a_duplicate_in_one_batch_has_its_effect_once() {
    let (bus, dlq) = (FakeBus::default(), FakeDeadLetters::default());
    let effects = Arc::new(Mutex::new(Vec::new()));
    let idempotency = Arc::new(Idempotency::new(MemoryStore::default()));
    let handler = {
        let effects = Arc::clone(&effects);
        move |event: Incoming<OrderPlaced>| {
            let effects = Arc::clone(&effects);
            let idempotency = Arc::clone(&idempotency);
            async move {
                let order = event.data.order.clone();
                idempotency
                    .once(
                        &event.metadata.idempotency_key,
                        &event.raw_data,
                        event.deadline,
                        || async {
                            effects.lock().unwrap().push(order.order_id.clone());
                            Ok::<_, HandlerError>(())
                        },
                    )
                    .await
                    .map_err(HandlerError::from)?;
                Ok(Emitted::one(StockReserved {
                    reservation_id: format!("res-{}", order.order_id),
                    order,
                }))
            }
        }
    };
    let consumer = Consumer::new(
        handler,
        Some(Publisher::new(&bus, "bus")),
        Some(&dlq),
        "inventory",
    );
    let body = order_placed(1, "SKU-TEA-001").to_string();
    let report = BufferedConsumer::new(consumer, MAX_RECEIVES)
        .process_batch(
            &batch(vec![record("m-1", &body, 1), record("m-2", &body, 1)]),
            None,
        )
        .await;
    assert!(report.failed_ids().is_empty(), "{report:?}");
    assert_eq!(*effects.lock().unwrap(), vec!["ord-1".to_owned()]);
}

/// A queue trigger's handler: records the keys it publishes; fails on customer `cust-down`.
/// What the queue test handler's calls come to.
type Done = Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send>>;
/// The queue test handler.
type Intake = Box<dyn Fn(Message<PlaceOrder>, Context) -> Done + Send + Sync>;

fn queue_consumer<'a>(
    dlq: &'a FakeDeadLetters,
    published: &Arc<Mutex<Vec<(String, Value)>>>,
) -> QueueConsumer<Intake, PlaceOrder, &'a FakeDeadLetters> {
    let published = Arc::clone(published);
    let handler: Intake = Box::new(move |message: Message<PlaceOrder>, context: Context| {
        let published = Arc::clone(&published);
        Box::pin(async move {
            if message.body.order.customer_id == "cust-down" {
                return Err(HandlerError::retryable("the payment gateway is down"));
            }
            let sent = context
                .publish(&OrderPlaced {
                    order: message.body.order,
                })
                .await?;
            published.lock().unwrap().push((
                message.message_id,
                sent.detail["metadata"]["idempotency_key"].clone(),
            ));
            Ok(())
        }) as Done
    });
    QueueConsumer::new(
        handler,
        Some(dlq),
        "intake",
        "eventrail-dev-intake",
        MAX_RECEIVES,
    )
}

fn place_order(customer: &str) -> Value {
    let path = format!(
        "{}/../events/samples/commands/place-order.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut command: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    command["order"]["customer_id"] = json!(customer);
    command
}

#[tokio::test]
async fn a_queue_trigger_dead_letters_poison_bodies_and_reports_handler_failures() {
    let dlq = FakeDeadLetters::default();
    let published = Arc::new(Mutex::new(Vec::new()));
    let mut invalid = place_order("cust-1");
    invalid["order"]["customer_email"] = json!("nobody");
    let event = batch(vec![
        record("q-0", &place_order("cust-1").to_string(), 1),
        record("q-1", &invalid.to_string(), 1),
        record("q-2", &place_order("cust-down").to_string(), 1),
        record("q-3", "{", 1),
    ]);
    let report = queue_consumer(&dlq, &published)
        .process_batch(&event, None)
        .await;
    assert_eq!(report.failed_ids(), vec!["q-2"], "{report:?}");
    let reasons = reasons(&dlq);
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert_eq!(reasons[0].0.as_deref(), Some("q-1"));
    assert_eq!(
        reasons[0].1,
        "body.order.customer_email: must be an email address"
    );
    assert!(
        reasons[1].1.starts_with("body: not valid JSON"),
        "{}",
        reasons[1].1
    );
    assert_eq!(published.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_message_received_again_publishes_the_same_keys() {
    let dlq = FakeDeadLetters::default();
    let published = Arc::new(Mutex::new(Vec::new()));
    let consumer = queue_consumer(&dlq, &published);
    let body = place_order("cust-1").to_string();
    consumer
        .process_batch(&batch(vec![record("q-1", &body, 1)]), None)
        .await;
    consumer
        .process_batch(
            &batch(vec![record("q-1", &body, 2), record("q-9", &body, 1)]),
            None,
        )
        .await;
    let published = published.lock().unwrap().clone();
    assert_eq!(published.len(), 3);
    assert_eq!(published[0].1, published[1].1, "same message, same key");
    assert_ne!(
        published[0].1, published[2].1,
        "another message, another key"
    );
}

#[tokio::test]
async fn in_a_fifo_group_the_records_after_a_failure_are_reported_unprocessed() {
    let dlq = FakeDeadLetters::default();
    let published = Arc::new(Mutex::new(Vec::new()));
    let grouped = |id: &str, customer: &str, group: &str| {
        let mut record = record(id, &place_order(customer).to_string(), 1);
        record["attributes"]["MessageGroupId"] = json!(group);
        record
    };
    let event = batch(vec![
        grouped("f-0", "cust-down", "ord-a"),
        grouped("f-1", "cust-1", "ord-b"),
        grouped("f-2", "cust-1", "ord-a"),
    ]);
    let report = queue_consumer(&dlq, &published)
        .process_batch(&event, None)
        .await;
    assert_eq!(report.failed_ids(), vec!["f-0", "f-2"], "{report:?}");
    let processed: Vec<String> = published
        .lock()
        .unwrap()
        .iter()
        .map(|p| p.0.clone())
        .collect();
    assert_eq!(processed, vec!["f-1"], "f-2 must not overtake f-0");
}

#[test]
fn the_report_answers_only_failed_records() {
    let report = BatchReport {
        records: vec![
            RecordOutcome::Handled {
                message_id: "a".into(),
            },
            RecordOutcome::Failed {
                message_id: "b".into(),
                reason: "down".into(),
            },
            RecordOutcome::DeadLettered {
                message_id: "c".into(),
                reason: "poison".into(),
                last_receive: false,
            },
        ],
    };
    let answer = serde_json::to_value(report.response()).unwrap();
    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": "b"}]})
    );
}

/// The testing helpers a scaffolded function's tests use build a batch the kit takes.
#[tokio::test]
async fn the_testing_helpers_build_a_batch_the_consumer_takes() {
    use eventrail_runtime::testing::{sqs_batch, sqs_record};
    let (bus, dlq) = (FakeBus::default(), FakeDeadLetters::default());
    let good = order_placed(1, "SKU-TEA-001").to_string();
    let failing = order_placed(2, "BOOM").to_string();
    let report = buffered(&bus, &dlq)
        .process_batch(
            &sqs_batch(vec![
                sqs_record("a", &good, 1),
                sqs_record("b", &failing, 1),
            ]),
            None,
        )
        .await;
    assert_eq!(report.failed_ids(), vec!["b"]);
}

/// Records the invocation's deadline leaves no time for are reported, not started: the batch
/// answers before Lambda's timeout would throw the whole answer away.
#[tokio::test]
async fn records_past_the_deadline_are_reported_unprocessed() {
    let (bus, dlq) = (FakeBus::default(), FakeDeadLetters::default());
    let past = std::time::SystemTime::now() - std::time::Duration::from_secs(1);
    let report = buffered(&bus, &dlq)
        .process_batch(&ten_with_one_poison_and_one_failure(1), Some(past))
        .await;
    assert_eq!(report.failed_ids().len(), 10);
    assert!(bus.sent.lock().unwrap().is_empty());
    assert!(dlq.letters.lock().unwrap().is_empty());
}
