//! What the runtime kit costs per event, against the least any Rust Lambda must do.
//!
//! - `consumer/process`: `Consumer::process` in dry-run mode on `order-placed.json`: decode the
//!   EventBridge envelope, check source/detail-type, decode and validate `Envelope<OrderPlaced>`,
//!   run the inventory-like handler, stamp metadata on the emitted event and serialise it.
//! - `baseline/decode`: the same sample decoded into `EventBridgeEvent<Envelope<OrderPlaced>>`
//!   with serde only (no validation, no handler, no emit): the floor.
//! - `publisher/publish_all_100`: 100 events through `Publisher::publish_all` against an
//!   in-memory PutEvents that accepts everything (chunking, size checks, result bookkeeping).

use std::hint::black_box;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use criterion::{Criterion, criterion_group, criterion_main};
use eventrail_runtime::dead_letter::{DeadLetter, DeadLetterError, DeadLetterSink};
use eventrail_runtime::publisher::{
    EntryOutcome, OutgoingEvent, Publisher, PutEventsApi, TransportError,
};
use eventrail_runtime::{Consumer, Emitted, HandlerError, Incoming};
use events::{Envelope, OrderPlaced, StockReserved};
use serde_json::Value;

struct NullBus;

impl PutEventsApi for NullBus {
    async fn put_events(
        &self,
        _bus: &str,
        entries: &[OutgoingEvent],
    ) -> Result<Vec<EntryOutcome>, TransportError> {
        Ok(entries
            .iter()
            .map(|_| EntryOutcome {
                event_id: Some("id".to_owned()),
                ..Default::default()
            })
            .collect())
    }
}

struct NullDeadLetters;

impl DeadLetterSink for NullDeadLetters {
    async fn send(&self, _letter: &DeadLetter) -> Result<String, DeadLetterError> {
        Ok(String::new())
    }
}

async fn reserve(event: Incoming<OrderPlaced>) -> Result<Emitted, HandlerError> {
    let order = event.data.order;
    let reservation_id = format!("res-{}", order.order_id);
    Ok(Emitted::one(StockReserved {
        order,
        reservation_id,
    }))
}

fn sample() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../events/samples/order-placed.json"
    );
    let text = std::fs::read_to_string(path).expect("sample");
    serde_json::from_str(&text).expect("sample JSON")
}

fn benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let raw = sample();

    let consumer: Consumer<OrderPlaced, _, NullBus, NullDeadLetters> =
        Consumer::new(reserve, None, None, "bench");
    c.bench_function("consumer/process", |b| {
        b.iter(|| runtime.block_on(consumer.process(black_box(raw.clone()))))
    });

    c.bench_function("baseline/decode", |b| {
        b.iter(|| {
            let event: EventBridgeEvent<Envelope<OrderPlaced>> =
                serde_json::from_value(black_box(raw.clone())).expect("decodes");
            black_box(event)
        })
    });

    let publisher = Publisher::new(NullBus, "bus");
    let events: Vec<OutgoingEvent> = (0..100)
        .map(|i| OutgoingEvent {
            source: "eventrail.bench".to_owned(),
            detail_type: "Bench".to_owned(),
            detail: format!("{{\"n\":{i}}}"),
            resources: Vec::new(),
            idempotency_key: i.to_string(),
        })
        .collect();
    c.bench_function("publisher/publish_all_100", |b| {
        b.iter(|| runtime.block_on(publisher.publish_all(black_box(events.clone()))))
    });
}

criterion_group!(runtime_benches, benches);
criterion_main!(runtime_benches);
