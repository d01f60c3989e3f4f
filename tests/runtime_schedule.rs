//! The runtime kit's scheduled functions: what a firing publishes derives its keys from the
//! function and the scheduled time, so a retried or doubled firing of one time emits the same
//! keys, and another time other keys; bad input is an error naming the field.

use eventrail_runtime::prelude::*;
use eventrail_runtime::schedule::{ScheduleError, ScheduledOutcome, fire};
use eventrail_runtime::{Origin, PublishError};
use events::{Order, OrderPlaced};
use serde_json::{Value, json};

fn order(id: &str) -> Order {
    let path = format!(
        "{}/../events/samples/commands/place-order.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let command: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut order: Order = serde_json::from_value(command["order"].clone()).unwrap();
    order.order_id = id.to_owned();
    order
}

/// A nightly job: publishes two events per firing (the second keyed by name).
async fn nightly(scheduled: Scheduled, context: Context) -> Result<(), HandlerError> {
    assert!(scheduled.attempt >= 1);
    context
        .publish(&OrderPlaced {
            order: order("ord-a"),
        })
        .await?;
    context
        .publish_keyed(
            &OrderPlaced {
                order: order("ord-b"),
            },
            "ord-b",
        )
        .await?;
    Ok(())
}

fn input(time: &str, execution: &str, attempt: &str) -> Value {
    json!({
        "scheduledTime": time,
        "executionId": execution,
        "scheduleArn": "arn:aws:scheduler:us-east-1:000000000000:schedule/default/nightly",
        "attempt": attempt,
    })
}

async fn firing(payload: Value) -> Result<ScheduledOutcome, ScheduleError> {
    let context = Context::dry_run(Origin::request("nightly", "unused"));
    fire(&nightly, &payload, "nightly", context).await
}

fn keys(outcome: &ScheduledOutcome) -> Vec<Value> {
    outcome
        .emitted
        .iter()
        .map(|e| e.detail["metadata"]["idempotency_key"].clone())
        .collect()
}

#[tokio::test]
async fn two_firings_of_one_scheduled_time_emit_the_same_keys_and_another_time_other_keys() {
    let first = firing(input("2026-12-07T03:00:00Z", "exec-1", "1"))
        .await
        .unwrap();
    // Scheduler's retry of that firing (another attempt), a doubled firing (another execution),
    // and the same time written otherwise.
    let retry = firing(input("2026-12-07T03:00:00Z", "exec-1", "2"))
        .await
        .unwrap();
    let doubled = firing(input("2026-12-07T03:00:00.000+00:00", "exec-2", "1"))
        .await
        .unwrap();
    assert_eq!(first.emitted.len(), 2);
    assert_eq!(keys(&first), keys(&retry));
    assert_eq!(keys(&first), keys(&doubled));
    assert_eq!(first.correlation_id, doubled.correlation_id);
    assert_eq!(
        first.emitted[0].detail["metadata"]["correlation_id"],
        first.correlation_id.as_str()
    );
    assert_ne!(keys(&first)[0], keys(&first)[1]);
    let next_day = firing(input("2026-12-08T03:00:00Z", "exec-3", "1"))
        .await
        .unwrap();
    for (today, tomorrow) in keys(&first).iter().zip(keys(&next_day)) {
        assert_ne!(today, &tomorrow);
    }
    assert_ne!(first.correlation_id, next_day.correlation_id);
    assert_eq!(first.scheduled_time, "2026-12-07T03:00:00Z");
}

#[tokio::test]
async fn the_testing_helper_builds_an_input_the_kit_takes() {
    let outcome = firing(eventrail_runtime::testing::scheduled_invocation(
        "2026-12-07T03:00:00Z",
    ))
    .await
    .unwrap();
    assert_eq!(outcome.emitted.len(), 2);
    assert!(outcome.dry_run);
}

#[tokio::test]
async fn another_function_firing_at_the_same_time_has_other_keys() {
    let context = Context::dry_run(Origin::request("x", "y"));
    let other = fire(
        &nightly,
        &input("2026-12-07T03:00:00Z", "e", "1"),
        "weekly",
        context,
    )
    .await
    .unwrap();
    let ours = firing(input("2026-12-07T03:00:00Z", "e", "1"))
        .await
        .unwrap();
    assert_ne!(keys(&ours), keys(&other));
}

#[tokio::test]
async fn bad_input_is_an_error_naming_the_field() {
    let error = |payload: Value| async move {
        match firing(payload).await {
            Err(ScheduleError::Input(error)) => error,
            other => panic!("expected an input error, got {other:?}"),
        }
    };
    assert_eq!(
        error(input("yesterday", "e", "1")).await.field,
        "scheduledTime"
    );
    assert_eq!(
        error(input("2026-12-07T03:00:00Z", "e", "first"))
            .await
            .field,
        "attempt"
    );
    assert_eq!(
        error(json!({"executionId": "e"})).await.field,
        "scheduledTime"
    );
    assert_eq!(
        error(json!({"scheduledTime": 7})).await.field,
        "scheduledTime"
    );
}

#[tokio::test]
async fn a_failed_firing_is_an_error_lambda_retries() {
    async fn failing(_: Scheduled, _: Context) -> Result<(), HandlerError> {
        Err(HandlerError::retryable("the warehouse API is down"))
    }
    let context = Context::dry_run(Origin::request("x", "y"));
    let error = fire(
        &failing,
        &input("2026-12-07T03:00:00Z", "e", "1"),
        "nightly",
        context,
    )
    .await
    .unwrap_err();
    assert!(
        error.to_string().contains("2026-12-07T03:00:00Z")
            && error.to_string().contains("the warehouse API is down"),
        "{error}"
    );
}

#[tokio::test]
async fn a_permanent_publish_error_is_poison() {
    let error: HandlerError = PublishError::Undeclared {
        detail_type: "OrderPlaced".into(),
        declared: "StockCounted".into(),
    }
    .into();
    assert!(matches!(error, HandlerError::Poison(_)), "{error}");
}
