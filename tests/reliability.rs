//! "Nothing lost" on the real stack: failed events too large for a queue message are kept
//! whole. Run by `cargo xtask test` against LocalStack (see tests/e2e.rs for the setup).
//!
//! LocalStack 4.13.1's PutEvents still enforces the old 256 KB request limit (AWS allows
//! 1 MB entries since January 2026), so the large event reaches the function the way
//! EventBridge hands it over: an asynchronous invocation with the EventBridge envelope.

use eventrail_observe::FailureKind;
use eventrail_tests::{Expected, Placed, finish, fresh_sample, stack};
use serde_json::{Value, json};

#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn a_900_kb_poison_event_is_kept_whole_through_its_dead_letter() {
    let stack = stack().await;
    let mut watch = stack.watch().await.unwrap();
    let (event, correlation_id) = fresh_sample("order-placed.json");
    watch.follow(correlation_id.clone());
    // Poison: a field OrderPlaced does not have, holding ~900 KB of text with characters JSON
    // must escape (a reason that echoed it would be larger than the event).
    let mut detail = event.detail.clone();
    detail["data"]["gift_note"] = Value::String("\"<\\>\"".repeat(900 * 1024 / 6));
    let event_id = format!("big-{correlation_id}");
    let raw = json!({
        "version": "0",
        "id": event_id,
        "detail-type": event.detail_type,
        "source": event.source,
        "account": "000000000000",
        "time": "2026-01-01T00:00:00Z",
        "region": stack.clients.region,
        "resources": [],
        "detail": detail,
    });
    let sent_bytes = raw.to_string().len();
    assert!(sent_bytes > 900 * 1024, "the event is {sent_bytes} bytes");
    stack.invoke_async("inventory", &raw).await.unwrap();

    let placed = Placed {
        title: "900 KB poison event".to_owned(),
        correlation_id,
        // Not put on the bus, so nothing is tapped: only inventory's dead letter.
        expected: Expected {
            edges: Vec::new(),
            outbox: Vec::new(),
            handler_failures: Vec::new(),
            poison: vec![("inventory".to_owned(), "OrderPlaced".to_owned())],
        },
        accepted: None,
    };
    let reports = finish(&mut watch, std::slice::from_ref(&placed)).await;
    let report = &reports[0];
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    let FailureKind::Poison(letter) = &report.failures[0].kind else {
        panic!("not a poison dead letter: {:?}", report.failures[0]);
    };
    assert_eq!(letter.event_id.as_deref(), Some(event_id.as_str()));
    assert!(
        letter.reason.contains("gift_note") && !letter.reason.contains("<\\\\>"),
        "the reason names the field and never echoes its value: {}",
        letter.reason
    );
    assert!(letter.reason.len() < 4096, "bounded reason");
    assert!(
        letter.event.is_null(),
        "the letter does not carry the event"
    );
    let stored = letter
        .event_stored_at
        .as_ref()
        .expect("the letter points at the stored event");
    assert_eq!(
        Some(stored.bucket.as_str()),
        stack.outputs.get("FailedEventsBucketName").ok()
    );
    assert!(
        stored.key.contains(&event_id),
        "keyed by event id: {}",
        stored.key
    );

    // Read back the way `eventrail dlq show` and `redrive` do.
    let s3 = eventrail_observe::stored::s3_client(&stack.clients.sdk_config);
    let kept = eventrail_observe::stored::read_stored_event(&s3, &stored.bucket, &stored.key)
        .await
        .unwrap();
    assert_eq!(kept, raw, "the stored event is the event, whole");
    assert_eq!(stored.bytes, serde_json::to_vec(&kept).unwrap().len());
    watch.close().await.unwrap();
}
