use std::sync::Mutex;

use events::{OrderPlaced, StockReserved};

use eventrail_runtime::dead_letter::*;
use eventrail_runtime::publisher::*;
use eventrail_runtime::*;
use serde_json::Value;

/// Records what would go to EventBridge; fails entries whose detail-type is in `reject`.
#[derive(Default)]
pub(crate) struct FakeBus {
    pub(crate) sent: Mutex<Vec<OutgoingEvent>>,
    pub(crate) reject: Vec<&'static str>,
    /// The error code for rejected entries (`MalformedDetail` when empty).
    pub(crate) code: &'static str,
}

impl PutEventsApi for &FakeBus {
    async fn put_events(
        &self,
        _bus: &str,
        entries: &[OutgoingEvent],
    ) -> Result<Vec<EntryOutcome>, TransportError> {
        let mut sent = self.sent.lock().unwrap();
        Ok(entries
            .iter()
            .map(|e| {
                sent.push(e.clone());
                if self.reject.contains(&e.detail_type.as_str()) {
                    EntryOutcome {
                        event_id: None,
                        error_code: Some(if self.code.is_empty() {
                            "MalformedDetail".into()
                        } else {
                            self.code.into()
                        }),
                        error_message: Some("nope".into()),
                    }
                } else {
                    EntryOutcome {
                        event_id: Some(format!("evt-{}", sent.len())),
                        ..Default::default()
                    }
                }
            })
            .collect())
    }
}

#[derive(Default)]
pub(crate) struct FakeDeadLetters {
    pub(crate) letters: Mutex<Vec<DeadLetter>>,
    pub(crate) broken: bool,
}

impl DeadLetterSink for &FakeDeadLetters {
    async fn send(&self, letter: &DeadLetter) -> Result<String, DeadLetterError> {
        if self.broken {
            return Err(DeadLetterError {
                event_id: letter.event_id.clone().unwrap_or_default(),
                message: "queue does not exist".into(),
            });
        }
        self.letters.lock().unwrap().push(letter.clone());
        Ok("msg-1".into())
    }
}

pub(crate) fn sample(name: &str) -> Value {
    let path = format!("{}/../events/samples/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A tiny inventory-like handler: reserve, or fail retryably on SKU `BOOM`, or call it poison on `POISON`.
pub(crate) async fn reserve(event: Incoming<OrderPlaced>) -> Result<Emitted, HandlerError> {
    let order = event.data.order;
    if order.items.iter().any(|i| i.sku == "BOOM") {
        return Err(HandlerError::retryable("warehouse API timed out"));
    }
    if order.items.iter().any(|i| i.sku == "POISON") {
        return Err(HandlerError::poison(
            "data.order.items: SKU POISON is not sellable",
        ));
    }
    let reservation_id = format!("res-{}", order.order_id);
    Ok(Emitted::one(StockReserved {
        order,
        reservation_id,
    }))
}

fn consumer<'a>(
    bus: &'a FakeBus,
    dlq: &'a FakeDeadLetters,
) -> Consumer<OrderPlaced, impl Handler<OrderPlaced>, &'a FakeBus, &'a FakeDeadLetters> {
    Consumer::new(
        reserve,
        Some(Publisher::new(bus, "bus")),
        Some(dlq),
        "inventory",
    )
}

#[tokio::test]
async fn emitted_events_inherit_correlation_and_point_at_their_cause() {
    let (bus, dlq) = (FakeBus::default(), FakeDeadLetters::default());
    let raw = sample("order-placed.json");
    let outcome = consumer(&bus, &dlq).process(raw.clone()).await.unwrap();
    let Outcome::Handled {
        event_id, emitted, ..
    } = outcome
    else {
        panic!("expected handled, got {outcome:?}")
    };
    assert_eq!(event_id, raw["id"]);
    assert_eq!(emitted.len(), 1);
    let sent = bus.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].source, "eventrail.inventory");
    assert_eq!(sent[0].detail_type, "StockReserved");
    let detail: Value = serde_json::from_str(&sent[0].detail).unwrap();
    let incoming_meta = &raw["detail"]["metadata"];
    assert_eq!(
        detail["metadata"]["correlation_id"],
        incoming_meta["correlation_id"]
    );
    assert_eq!(detail["metadata"]["causation_id"], raw["id"]);
    assert_eq!(detail["metadata"]["schema_version"], 1);
    // Deterministic idempotency key: the same incoming event yields the same key.
    let key = detail["metadata"]["idempotency_key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(Value::from(key.clone()), incoming_meta["idempotency_key"]);
    consumer(&bus, &dlq).process(raw).await.unwrap();
    assert_eq!(bus.sent.lock().unwrap()[1].idempotency_key, key);
    assert!(dlq.letters.lock().unwrap().is_empty());
}

#[tokio::test]
async fn undecodable_event_is_dead_lettered_at_once_with_its_reason() {
    let (bus, dlq) = (FakeBus::default(), FakeDeadLetters::default());
    let raw = sample("poison/order-placed-undecodable.json");
    let outcome = consumer(&bus, &dlq).process(raw.clone()).await.unwrap();
    assert!(
        matches!(
            outcome,
            Outcome::DeadLettered {
                message_id: Some(_),
                ..
            }
        ),
        "{outcome:?}"
    );
    let letters = dlq.letters.lock().unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].kind, "poison");
    assert_eq!(letters[0].function, "inventory");
    assert!(
        letters[0].reason.starts_with("detail.data.order"),
        "{}",
        letters[0].reason
    );
    assert_eq!(letters[0].event, raw, "the original event is kept whole");
    assert_eq!(letters[0].event_id.as_deref(), raw["id"].as_str());
    assert!(bus.sent.lock().unwrap().is_empty());
}

#[tokio::test]
async fn invalid_event_is_poison_and_the_reason_names_the_field() {
    let (bus, dlq) = (FakeBus::default(), FakeDeadLetters::default());
    let raw = sample("poison/order-placed-zero-quantity.json");
    let outcome = consumer(&bus, &dlq).process(raw).await.unwrap();
    let Outcome::DeadLettered { reason, .. } = outcome else {
        panic!("expected dead-lettered")
    };
    assert_eq!(
        reason,
        "detail.data.order.items[0].quantity: must be at least 1"
    );
    assert_eq!(
        dlq.letters.lock().unwrap()[0].correlation_id.as_deref(),
        Some("corr-ord-1001")
    );
}

#[tokio::test]
async fn wrong_event_type_and_non_eventbridge_input_are_poison() {
    let (bus, dlq) = (FakeBus::default(), FakeDeadLetters::default());
    let outcome = consumer(&bus, &dlq)
        .process(sample("stock-reserved.json"))
        .await
        .unwrap();
    let Outcome::DeadLettered { reason, .. } = outcome else {
        panic!("expected dead-lettered")
    };
    assert!(
        reason.contains("this function consumes OrderPlaced"),
        "{reason}"
    );
    let outcome = consumer(&bus, &dlq)
        .process(serde_json::json!({"hello": "world"}))
        .await
        .unwrap();
    let Outcome::DeadLettered {
        reason, event_id, ..
    } = outcome
    else {
        panic!("expected dead-lettered")
    };
    assert!(reason.starts_with("not an EventBridge event"), "{reason}");
    assert_eq!(event_id, None);
    assert_eq!(dlq.letters.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn handler_poison_goes_to_the_dead_letter_queue() {
    let (bus, dlq) = (FakeBus::default(), FakeDeadLetters::default());
    let mut raw = sample("order-placed.json");
    raw["detail"]["data"]["order"]["items"][0]["sku"] = "POISON".into();
    let outcome = consumer(&bus, &dlq).process(raw).await.unwrap();
    assert!(matches!(outcome, Outcome::DeadLettered { .. }));
    assert!(dlq.letters.lock().unwrap()[0].reason.contains("SKU POISON"));
}

#[tokio::test]
async fn retryable_handler_error_is_returned_and_nothing_is_dead_lettered() {
    let (bus, dlq) = (FakeBus::default(), FakeDeadLetters::default());
    let mut raw = sample("order-placed.json");
    raw["detail"]["data"]["order"]["items"][0]["sku"] = "BOOM".into();
    let error = consumer(&bus, &dlq).process(raw.clone()).await.unwrap_err();
    match &error {
        ConsumerError::Handler { event_id, source } => {
            assert_eq!(Value::from(event_id.clone()), raw["id"]);
            assert_eq!(
                source,
                &HandlerError::Retryable("warehouse API timed out".into())
            );
        }
        other => panic!("expected a handler error, got {other:?}"),
    }
    assert!(
        dlq.letters.lock().unwrap().is_empty(),
        "retryable errors must not be dead-lettered"
    );
    assert!(bus.sent.lock().unwrap().is_empty());
    let diagnostic: lambda_runtime::Diagnostic = error.into();
    assert_eq!(diagnostic.error_type, "eventrail.RetryableHandlerError");
}

#[tokio::test]
async fn an_emitted_event_that_can_never_be_published_makes_its_cause_poison() {
    let bus = FakeBus {
        reject: vec!["StockReserved"],
        code: "MalformedDetail",
        ..Default::default()
    };
    let dlq = FakeDeadLetters::default();
    let outcome = consumer(&bus, &dlq)
        .process(sample("order-placed.json"))
        .await
        .unwrap();
    assert!(
        matches!(outcome, Outcome::DeadLettered { .. }),
        "{outcome:?}"
    );
    let letters = dlq.letters.lock().unwrap();
    assert_eq!(letters.len(), 1);
    assert!(
        letters[0].reason.contains("can never be published")
            && letters[0].reason.contains("MalformedDetail"),
        "{}",
        letters[0].reason
    );
}

#[tokio::test]
async fn an_event_without_an_id_is_poison_at_the_first_hop() {
    let (bus, dlq) = (FakeBus::default(), FakeDeadLetters::default());
    for id in [Value::Null, Value::String(String::new())] {
        let mut raw = sample("order-placed.json");
        raw["id"] = id;
        let outcome = consumer(&bus, &dlq).process(raw).await.unwrap();
        assert!(
            matches!(outcome, Outcome::DeadLettered { .. }),
            "{outcome:?}"
        );
    }
    let letters = dlq.letters.lock().unwrap();
    assert_eq!(letters.len(), 2);
    assert!(
        letters.iter().all(|l| l.reason.starts_with("id: ")),
        "{letters:?}"
    );
    assert!(
        bus.sent.lock().unwrap().is_empty(),
        "nothing emitted without a cause id"
    );
}

#[tokio::test]
async fn poison_reasons_name_the_field_but_never_quote_its_value() {
    let (bus, dlq) = (FakeBus::default(), FakeDeadLetters::default());
    let secret = "alice.secret@example.com";
    let mut wrong_type = sample("order-placed.json");
    wrong_type["detail"]["data"]["order"]["total_cents"] = Value::String(secret.into());
    let mut wrong_variant = sample("order-placed.json");
    wrong_variant["detail"]["data"]["order"]["items"] = Value::String(secret.into());
    for raw in [wrong_type, wrong_variant] {
        consumer(&bus, &dlq).process(raw).await.unwrap();
    }
    let letters = dlq.letters.lock().unwrap();
    assert_eq!(letters.len(), 2);
    for letter in letters.iter() {
        assert!(!letter.reason.contains(secret), "{}", letter.reason);
        assert!(
            letter.reason.starts_with("detail.data.order."),
            "{}",
            letter.reason
        );
    }
    assert!(
        letters[0].reason.contains("total_cents"),
        "{}",
        letters[0].reason
    );
}

#[test]
fn serde_messages_lose_their_values() {
    assert_eq!(
        without_values("invalid type: string \"x@y.z\", expected u64"),
        "invalid type: a string, expected u64"
    );
    assert_eq!(
        without_values("invalid value: integer `-5`, expected u32"),
        "invalid value: a integer, expected u32"
    );
    assert_eq!(
        without_values("unknown variant `Mallory`, expected `A` or `B`"),
        "unknown variant, expected `A` or `B`"
    );
    assert_eq!(without_values("missing field `sku`"), "missing field `sku`");
}

#[tokio::test]
async fn publish_failure_fails_the_invocation() {
    let bus = FakeBus {
        reject: vec!["StockReserved"],
        code: "ThrottlingException",
        ..Default::default()
    };
    let dlq = FakeDeadLetters::default();
    let error = consumer(&bus, &dlq)
        .process(sample("order-placed.json"))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ConsumerError::Publish { failures, .. } if failures.len() == 1),
        "{error:?}"
    );
    assert!(error.to_string().contains("StockReserved"));
}

#[tokio::test]
async fn a_dead_letter_that_cannot_be_sent_fails_the_invocation_instead_of_losing_the_event() {
    let bus = FakeBus::default();
    let dlq = FakeDeadLetters {
        broken: true,
        ..Default::default()
    };
    let error = consumer(&bus, &dlq)
        .process(sample("poison/order-placed-zero-quantity.json"))
        .await
        .unwrap_err();
    assert!(matches!(error, ConsumerError::DeadLetter(_)));
}

#[tokio::test]
async fn dry_run_reports_instead_of_sending() {
    let consumer: Consumer<OrderPlaced, _, &FakeBus, &FakeDeadLetters> =
        Consumer::new(reserve, None, None, "inventory");
    let outcome = consumer.process(sample("order-placed.json")).await.unwrap();
    let Outcome::Handled {
        emitted, dry_run, ..
    } = outcome
    else {
        panic!("expected handled")
    };
    assert!(dry_run);
    assert_eq!(emitted[0].detail_type, "StockReserved");
    assert_eq!(emitted[0].event_id, None);
    assert_eq!(emitted[0].detail["data"]["reservation_id"], "res-ord-1001");
    let outcome = consumer
        .process(sample("poison/order-placed-zero-quantity.json"))
        .await
        .unwrap();
    assert!(matches!(
        outcome,
        Outcome::DeadLettered {
            dry_run: true,
            message_id: None,
            ..
        }
    ));
}

#[test]
fn outcome_serialises_with_a_tag() {
    let outcome = Outcome::DeadLettered {
        event_id: Some("e".into()),
        reason: "r".into(),
        message_id: None,
        dry_run: true,
    };
    let json = serde_json::to_value(outcome).unwrap();
    assert_eq!(json["outcome"], "dead-lettered");
}

/// The order-placed sample as the bytes Lambda delivers, with `data.order.note` replaced by
/// `note` (raw JSON text, which may be anything).
fn order_placed_with_note(note: &str) -> Vec<u8> {
    let mut raw = sample("order-placed.json");
    raw["detail"]["data"]["order"]["note"] = "NOTE".into();
    raw.to_string().replace("\"NOTE\"", note).into_bytes()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fields {
    Read,
    Unread,
}

/// The kit decodes the payload itself: every payload serde_json refuses is a poison dead
/// letter at once, with the reason, the envelope's fields, and the payload kept whole.
#[tokio::test]
async fn a_payload_that_does_not_decode_is_dead_lettered_whole_with_its_reason() {
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    // The envelope's fields are read from every payload that is JSON text at all.
    let cases = [
        (deep.as_str(), "deeper than 128 levels", Fields::Read),
        (r#""\ud800""#, "lone UTF-16 surrogate", Fields::Read),
        ("1e400", "number out of range", Fields::Read),
        ("Infinity", "not valid JSON", Fields::Unread),
    ];
    for (note, expected, fields) in cases {
        let (bus, dlq) = (FakeBus::default(), FakeDeadLetters::default());
        let payload = order_placed_with_note(note);
        let outcome = consumer(&bus, &dlq)
            .process_payload(&payload, None)
            .await
            .unwrap();
        let Outcome::DeadLettered {
            reason, event_id, ..
        } = outcome
        else {
            panic!("{expected}: expected dead-lettered, got {outcome:?}")
        };
        assert!(reason.contains(expected), "{expected}: {reason}");
        let letters = dlq.letters.lock().unwrap();
        let letter = &letters[0];
        assert_eq!(letter.kind, "poison");
        if fields == Fields::Read {
            assert_eq!(
                event_id.as_deref(),
                sample("order-placed.json")["id"].as_str()
            );
            assert_eq!(letter.detail_type.as_deref(), Some("OrderPlaced"));
            assert_eq!(letter.correlation_id.as_deref(), Some("corr-ord-1001"));
        } else {
            assert_eq!((event_id, &letter.detail_type), (None, &None));
        }
        assert_eq!(letter.event, Value::Null);
        let raw = letter.event_raw.as_ref().expect("the payload kept whole");
        assert_eq!(raw.encoding, RawEncoding::Text);
        assert_eq!(raw.to_bytes().unwrap(), payload, "{expected}");
        assert!(bus.sent.lock().unwrap().is_empty());
        // The letter travels as JSON that decodes back to the same letter.
        let body = serde_json::to_string(letter).unwrap();
        assert_eq!(&serde_json::from_str::<DeadLetter>(&body).unwrap(), letter);
    }
}

#[tokio::test]
async fn a_payload_that_is_not_an_object_is_dead_lettered_as_json() {
    for (payload, found) in [
        ("[1,2]", "an array"),
        ("\"hi\"", "a string"),
        ("7", "a number"),
    ] {
        let (bus, dlq) = (FakeBus::default(), FakeDeadLetters::default());
        let outcome = consumer(&bus, &dlq)
            .process_payload(payload.as_bytes(), None)
            .await
            .unwrap();
        let Outcome::DeadLettered { reason, .. } = outcome else {
            panic!("expected dead-lettered, got {outcome:?}")
        };
        assert!(
            reason.contains(&format!("not an object but {found}")),
            "{reason}"
        );
        let letters = dlq.letters.lock().unwrap();
        assert_eq!(
            letters[0].event,
            serde_json::from_str::<Value>(payload).unwrap()
        );
        assert_eq!(letters[0].event_raw, None);
    }
}

#[tokio::test]
async fn a_payload_that_is_not_utf8_is_kept_in_base64() {
    let (bus, dlq) = (FakeBus::default(), FakeDeadLetters::default());
    let payload = b"{\"id\":\"e-1\",\"x\":\"\xff\"}";
    let outcome = consumer(&bus, &dlq)
        .process_payload(payload, None)
        .await
        .unwrap();
    assert!(
        matches!(outcome, Outcome::DeadLettered { .. }),
        "{outcome:?}"
    );
    let letters = dlq.letters.lock().unwrap();
    let raw = letters[0].event_raw.as_ref().unwrap();
    assert_eq!(raw.encoding, RawEncoding::Base64);
    assert_eq!(raw.to_bytes().unwrap(), payload);
    assert!(
        letters[0].reason.contains("not UTF-8"),
        "{}",
        letters[0].reason
    );
}

/// A payload that decodes is handled as before.
#[tokio::test]
async fn a_payload_that_decodes_is_handled() {
    let (bus, dlq) = (FakeBus::default(), FakeDeadLetters::default());
    let payload = sample("order-placed.json").to_string();
    let outcome = consumer(&bus, &dlq)
        .process_payload(payload.as_bytes(), None)
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Handled { .. }), "{outcome:?}");
    assert!(dlq.letters.lock().unwrap().is_empty());
}

/// Metadata is open to additions (issue 27): an event carrying trace context, and a field this
/// build does not know, is handled, not poison (a producer ahead of its consumers mid-deploy).
#[tokio::test]
async fn metadata_with_trace_context_and_unknown_fields_is_handled() {
    let (bus, dlq) = (FakeBus::default(), FakeDeadLetters::default());
    let mut raw = sample("order-placed.json");
    let metadata = raw["detail"]["metadata"].as_object_mut().unwrap();
    metadata.insert(
        "traceparent".into(),
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into(),
    );
    metadata.insert("tracestate".into(), "eventrail=redrive".into());
    metadata.insert("added_later".into(), serde_json::json!({"any": "shape"}));
    let outcome = consumer(&bus, &dlq).process(raw).await.unwrap();
    assert!(
        matches!(outcome, Outcome::Handled { .. }),
        "expected handled, got {outcome:?}"
    );
    assert!(dlq.letters.lock().unwrap().is_empty());
    assert_eq!(bus.sent.lock().unwrap().len(), 1);
}
