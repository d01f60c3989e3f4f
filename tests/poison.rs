//! Payloads the JSON decoder refuses are poison, on the real stack: each is put on the bus
//! with the SDK (as the stock `aws` CLI would), and `inventory`, whose kit decodes the
//! payload itself, dead-letters it at once with its reason and the payload whole, which
//! `eventrail dlq show` then prints. Run by `cargo xtask test` against LocalStack.
//!
//! The failure queues are shared with the other end-to-end tests: each test finds its own
//! record by a fresh correlation id, which the payload carries in every case.

use std::time::Instant;

use eventrail_observe::Stack;
use eventrail_tests::{FLOW_DEADLINE, fresh_sample, stack};
use serde_json::Value;

/// Puts an `OrderPlaced` whose `detail.data.order.note` is `note` (raw JSON text, which may
/// be anything the bus accepts); returns the correlation id it carries.
async fn put_with_note(stack: &Stack, note: &str) -> String {
    let (event, correlation_id) = fresh_sample("order-placed.json");
    let mut detail = event.detail.clone();
    detail["data"]["order"]["note"] = "NOTE".into();
    let detail = detail.to_string().replace("\"NOTE\"", note);
    put_detail(stack, &event.source, &event.detail_type, detail).await;
    correlation_id
}

async fn put_detail(stack: &Stack, source: &str, detail_type: &str, detail: String) {
    let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .event_bus_name(stack.outputs.bus_name().unwrap())
        .source(source)
        .detail_type(detail_type)
        .detail(detail)
        .build();
    let output = stack
        .clients
        .events
        .put_events()
        .entries(entry)
        .send()
        .await
        .unwrap();
    assert_eq!(output.failed_entry_count(), 0, "{output:?}");
}

/// Whether a `dlq show --json` record is about the event that carries `correlation_id`: by
/// the letter's fields, or in the payload kept as delivered.
fn concerns(record: &Value, correlation_id: &str) -> bool {
    record["correlation_id"] == correlation_id
        || record["event_raw"]["data"]
            .as_str()
            .is_some_and(|raw| raw.contains(correlation_id))
}

/// Waits for inventory's record of the event carrying `correlation_id` (`dlq show --json`,
/// each line read as deep as the tools read), and returns it with the text `dlq show` prints
/// for it.
fn wait_for_dead_letter(stack: &Stack, correlation_id: &str) -> (Value, String) {
    let started = Instant::now();
    loop {
        let (ok, stdout, stderr) = eventrail_tests::eventrail_on(
            stack,
            &["dlq", "show", "inventory", "--json", "--max", "1000"],
        );
        let found = stdout
            .lines()
            .filter_map(|l| eventrail_observe::json::parse(l).ok())
            .find(|r| concerns(r, correlation_id));
        // The queue is shared: another test's peek hides messages for a moment, so the
        // text view is asked again until it shows the record too.
        if let Some(record) = found {
            let message_id = record["message_id"].as_str().unwrap_or_default().to_owned();
            let (_, text, _) = eventrail_tests::eventrail_on(
                stack,
                &["dlq", "show", "inventory", "--max", "1000"],
            );
            if let Some(block) = text.split("── ").find(|b| b.starts_with(&message_id)) {
                return (record, block.to_owned());
            }
        }
        assert!(
            started.elapsed() < FLOW_DEADLINE,
            "no record of {correlation_id} in inventory's failure queue after {} s (success: \
             {ok}):\n{stdout}{stderr}",
            FLOW_DEADLINE.as_secs()
        );
        std::thread::sleep(std::time::Duration::from_secs(2));
    }
}

/// The record is a poison dead letter, dead-lettered at once (one attempt), with a reason
/// containing one of `reasons`, and `dlq show` prints its event (not `event: none`).
fn assert_poison(record: &Value, shown: &str, reasons: &[&str], correlation_id: &str) {
    assert_eq!(record["kind"], "poison", "{record}");
    assert_eq!(record["attempts"], 1, "{record}");
    let reason = record["reason"].as_str().unwrap_or_default();
    assert!(
        reasons.iter().any(|r| reason.contains(r)),
        "reason {reason:?}, expected one of {reasons:?}"
    );
    assert!(
        shown.contains("   event:\n") && shown.contains(correlation_id),
        "dlq show prints the event:\n{shown}"
    );
    assert!(!shown.contains("event:    none"), "{shown}");
}

#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn an_event_nested_200_levels_deep_is_a_poison_dead_letter_shown_with_its_event() {
    let stack = stack().await;
    let note = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    let correlation_id = put_with_note(&stack, &note).await;
    let (record, shown) = wait_for_dead_letter(&stack, &correlation_id);
    assert_poison(
        &record,
        &shown,
        &["deeper than 128 levels"],
        &correlation_id,
    );
    // The tools decode it (the function's decoder stops at 128 levels): it is an event again,
    // whole, which redrive can put back.
    let event = &record["event"];
    assert_eq!(
        event.pointer("/detail/metadata/correlation_id"),
        Some(&Value::from(correlation_id.as_str()))
    );
    let mut note = &event["detail"]["data"]["order"]["note"];
    for _ in 0..200 {
        note = &note[0];
    }
    assert_eq!(note, 1, "nested 200 levels, as put");
}

#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn an_event_with_a_lone_surrogate_is_a_poison_dead_letter_shown_as_delivered() {
    let stack = stack().await;
    let correlation_id = put_with_note(&stack, r#""\ud800""#).await;
    let (record, shown) = wait_for_dead_letter(&stack, &correlation_id);
    assert_poison(&record, &shown, &["lone UTF-16 surrogate"], &correlation_id);
    assert!(
        record["event_raw"]["data"]
            .as_str()
            .is_some_and(|raw| raw.contains(r"\ud800")),
        "kept as delivered: {record}"
    );
}

#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn an_event_with_a_number_out_of_range_is_a_poison_dead_letter_shown_as_delivered() {
    let stack = stack().await;
    let correlation_id = put_with_note(&stack, "1e400").await;
    let (record, shown) = wait_for_dead_letter(&stack, &correlation_id);
    // LocalStack's bus (Python) reads 1e400 as infinity and delivers it as `Infinity`, which
    // is not JSON; AWS delivers the number as put.
    assert_poison(
        &record,
        &shown,
        &["number out of range", "not valid JSON"],
        &correlation_id,
    );
    assert!(
        record["event_raw"]["data"].as_str().is_some(),
        "kept as delivered: {record}"
    );
}

/// The bus refuses a `detail` that is not an object (MalformedDetail), so what reaches a
/// function as "not an object" is a part of the event: `data` here.
#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn an_event_whose_data_is_not_an_object_is_a_poison_dead_letter_shown_with_its_event() {
    let stack = stack().await;
    let (event, correlation_id) = fresh_sample("order-placed.json");
    let mut detail = event.detail.clone();
    detail["data"] = Value::from(vec![1, 2]);
    put_detail(
        &stack,
        &event.source,
        &event.detail_type,
        detail.to_string(),
    )
    .await;
    let (record, shown) = wait_for_dead_letter(&stack, &correlation_id);
    assert_poison(&record, &shown, &["detail.data"], &correlation_id);
    assert_eq!(record["event"]["detail"]["data"], Value::from(vec![1, 2]));
}
