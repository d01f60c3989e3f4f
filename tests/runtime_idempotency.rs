//! Idempotency through the consumer: the hash is of `detail.data` as the invocation delivered
//! it ([`Incoming::raw_data`]), so a redelivery written differently is a duplicate.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use eventrail_runtime::dead_letter::*;
use eventrail_runtime::idempotency::{Idempotency, MemoryStore, payload_hash};
use eventrail_runtime::publisher::*;
use eventrail_runtime::*;
use events::OrderPlaced;
use serde_json::{Value, json};

struct NoBus;

impl PutEventsApi for NoBus {
    async fn put_events(
        &self,
        _bus: &str,
        _entries: &[OutgoingEvent],
    ) -> Result<Vec<EntryOutcome>, TransportError> {
        Err(TransportError::permanent("no bus in this test"))
    }
}

struct NoDeadLetters;

impl DeadLetterSink for NoDeadLetters {
    async fn send(&self, letter: &DeadLetter) -> Result<String, DeadLetterError> {
        Err(DeadLetterError {
            event_id: letter.event_id.clone().unwrap_or_default(),
            message: format!("unexpected dead letter: {}", letter.reason),
        })
    }
}

fn sample() -> Value {
    let path = format!(
        "{}/../events/samples/order-placed.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test]
async fn the_consumer_hands_the_raw_data_and_a_respelled_redelivery_is_a_duplicate() {
    let store = Arc::new(MemoryStore::new());
    let idempotency = Arc::new(Idempotency::new(Arc::clone(&store)));
    let runs = Arc::new(AtomicUsize::new(0));
    let handler = {
        let (idempotency, runs) = (Arc::clone(&idempotency), Arc::clone(&runs));
        move |event: Incoming<OrderPlaced>| {
            let (idempotency, runs) = (Arc::clone(&idempotency), Arc::clone(&runs));
            async move {
                let done = idempotency
                    .once(
                        &event.metadata.idempotency_key,
                        &event.raw_data,
                        event.deadline,
                        || async { Ok::<_, HandlerError>(runs.fetch_add(1, Ordering::SeqCst)) },
                    )
                    .await?;
                Ok(Emitted::none().with_effect(json!({ "replayed": done.replayed() })))
            }
        }
    };
    let consumer: Consumer<OrderPlaced, _, NoBus, NoDeadLetters> =
        Consumer::new(handler, None, None, "test");

    let raw = sample();
    let first = serde_json::to_vec(&raw).unwrap();
    consumer.process_payload(&first, None).await.unwrap();
    let key = raw["detail"]["metadata"]["idempotency_key"]
        .as_str()
        .unwrap();
    assert_eq!(
        store.record(key).unwrap().payload_hash,
        payload_hash(&raw["detail"]["data"])
    );

    // The same event, written out otherwise (indented, keys in another order, a character
    // escaped, under a new id): a duplicate.
    let mut again = raw.clone();
    again["id"] = json!("redelivered");
    let mut text = serde_json::to_string_pretty(&again).unwrap();
    let order_id = raw["detail"]["data"]["order"]["order_id"].as_str().unwrap();
    let escaped_first = format!(
        "\\u{:04x}{}",
        u32::from(order_id.chars().next().unwrap()),
        &order_id[1..]
    );
    text = text.replacen(
        &format!("\"{order_id}\""),
        &format!("\"{escaped_first}\""),
        1,
    );
    let outcome = consumer
        .process_payload(text.as_bytes(), None)
        .await
        .unwrap();
    let Outcome::Handled { effects, .. } = outcome else {
        panic!("expected handled, got {outcome:?}");
    };
    assert_eq!(effects[0]["replayed"], true);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}
