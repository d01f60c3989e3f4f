//! End-to-end tests: the real stack (infra/template.yaml, the release Lambda binaries) on a
//! real LocalStack, run by `cargo xtask test`, which starts LocalStack, deploys once and sets
//! `EVENTRAIL_ENDPOINT` and `EVENTRAIL_STACK_OUTPUTS`. Without them every test fails and
//! says so; none passes without LocalStack.
//!
//! Each test creates its own tap (a catch-all rule on the bus to an SQS queue), uses fresh
//! order ids, and follows only its own correlation ids, so tests run in parallel. Failure
//! queues and the outbox are shared: a watch takes only its flows' messages.
//! Nothing asserts on time; waits have generous deadlines, and after a flow reaches its
//! expected outcome the watch lets it settle so that unexpected extra events are caught.
//!
//! Delivery guarantee under test (also in the README): delivery is at least once. An event
//! may reach a function more than once (EventBridge retries, Lambda retries, replays,
//! redrives). Every event a function emits in reaction carries an idempotency key derived
//! from its cause's key, so a redelivery re-emits events with the same keys and the same
//! data (same reservation, payment id, tracking number); nothing new is reserved, charged or
//! shipped. The customer-facing effect, the outbox message, is written with the causing
//! event's idempotency key as SQS FIFO deduplication id, so the customer is notified once per
//! key as long as the duplicate arrives within SQS's 5-minute deduplication window; a
//! duplicate arriving later notifies again (consumers of the outbox deduplicate on the key).
//! Events on the bus themselves can be duplicated: downstream consumers deduplicate on
//! `detail.metadata.idempotency_key`, not on the EventBridge id.
//!
//! LocalStack 4.13.1 gaps met here (worked around in the harness, never in assertions):
//! - StartReplay fails with `str.replace() takes no keyword arguments` once the archive holds
//!   an event (archived event times are strings; the archive's time filter and the replay's
//!   re-put treat them as datetimes). The supervisor installs the init hook
//!   infra/localstack-init/ready.d/eventrail_replay_fix.py, which fixes both places; without
//!   it `archive_excludes_replays_and_a_replay_redelivers` fails naming the bug.
//! - Its CloudFormation has no `AWS::Events::Archive` provider and skips the archive
//!   silently; the deploy creates it through the EventBridge API (eventrail-local).
//! - Replayed events get new event ids (they keep `time` and gain `replay-name`), so the
//!   tests match replayed copies by idempotency key, not by id.
//! - StartReplay ignores `Destination.FilterArns`; infra/localstack-init/ready.d/
//!   eventrail_replay_filter.py honours it. The replay test uses no filter, so it replays only
//!   a window no other test publishes in.
//! - Rule-target DeadLetterConfig and RetryPolicy are ignored; infra/localstack-init/ready.d/
//!   eventrail_delivery.py honours them (tests/delivery.rs), so a delivery dead-letter queue
//!   holds what could not be delivered, as on AWS; these tests expect nothing there.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use eventrail_observe::{BusEvent, FailureKind};
use eventrail_tests::{
    FLOW_DEADLINE, Placed, assert_exact, expected, expected_poison, finish, place, place_order,
    poison_event, routes, stack, summaries,
};
use events::scenarios::{Scenario, new_order_id};
use serde_json::json;

/// Places one order of `scenario` and checks its whole flow.
async fn scenario_produces_its_exact_chain(scenario: Scenario) {
    let stack = stack().await;
    let mut watch = stack.watch().await.unwrap();
    let placed = place(&stack, &mut watch, scenario).await;
    let reports = finish(&mut watch, std::slice::from_ref(&placed)).await;
    assert_exact(&placed, &reports[0]);

    // Correlation is constant: every event about this order, whatever flow the tap put
    // it in, carries the order's correlation id.
    let order_id = placed
        .accepted
        .as_ref()
        .map(|a| a.order_id.clone())
        .unwrap_or_default();
    for event in watch.tap().events() {
        let data = event.data();
        let about = data
            .pointer("/order/order_id")
            .or_else(|| data.get("order_id"))
            .and_then(serde_json::Value::as_str);
        if about == Some(order_id.as_str()) {
            assert_eq!(
                event.correlation_id.as_deref(),
                Some(placed.correlation_id.as_str()),
                "{} {} about {order_id} left the flow",
                event.detail_type,
                event.id
            );
        }
    }
    // Each causation id points at the event of the documented cause type.
    for event in reports[0].flow.events() {
        let cause = reports[0]
            .flow
            .parent_of(event)
            .map(|p| p.detail_type.as_str());
        let documented = expected(scenario)
            .edges
            .iter()
            .any(|(c, t)| c.as_deref() == cause && *t == event.detail_type);
        assert!(documented, "{} caused by {cause:?}", event.detail_type);
    }
    watch.close().await.unwrap();
}

#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn happy_path_is_reserved_paid_shipped_and_notified() {
    scenario_produces_its_exact_chain(Scenario::HappyPath).await;
}

#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn out_of_stock_order_is_not_reserved_and_customer_is_told() {
    scenario_produces_its_exact_chain(Scenario::OutOfStock).await;
}

#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn declined_card_fails_payment_and_customer_is_told() {
    scenario_produces_its_exact_chain(Scenario::CardDeclined).await;
}

#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn high_value_order_is_flagged_for_fraud_and_still_ships() {
    scenario_produces_its_exact_chain(Scenario::Fraudulent).await;
}

#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn order_to_unsupported_country_is_flagged_for_fraud() {
    scenario_produces_its_exact_chain(Scenario::UnsupportedCountry).await;
}

#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn gateway_down_order_stops_after_stock_is_reserved() {
    scenario_produces_its_exact_chain(Scenario::GatewayDown).await;
}

/// A handler that keeps failing: after Lambda's configured retries the original event is in
/// the function's on-failure queue, once.
#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn handler_failure_lands_in_the_on_failure_queue_after_the_configured_retries() {
    let stack = stack().await;
    let retries = stack.invoke_retry_attempts("payments").await.unwrap();
    let mut watch = stack.watch().await.unwrap();
    let placed = place(&stack, &mut watch, Scenario::GatewayDown).await;
    let reports = finish(&mut watch, std::slice::from_ref(&placed)).await;
    let report = &reports[0];
    let text = report.render(routes().as_ref());

    let reserved = report.flow.of_type("StockReserved");
    assert_eq!(reserved.len(), 1, "{text}");
    assert_eq!(report.failures.len(), 1, "exactly one record:\n{text}");
    let record = &report.failures[0];
    assert_eq!(record.queue_function, "payments", "{text}");
    assert_eq!(
        record.layer,
        eventrail_observe::FailureLayer::Function,
        "{text}"
    );
    let failure = record
        .handler_failure()
        .unwrap_or_else(|| panic!("not a Lambda on-failure record: {}", record.summary()));
    assert_eq!(failure.condition, "RetriesExhausted", "{text}");
    assert_eq!(
        failure.approximate_invoke_count,
        u64::from(retries) + 1,
        "the first attempt plus the {retries} configured retries:\n{text}"
    );
    assert!(
        failure
            .function_arn
            .contains(stack.outputs.function_name("payments").unwrap()),
        "{}",
        failure.function_arn
    );
    assert!(
        failure
            .error_message
            .as_deref()
            .is_some_and(|m| m.contains("payment gateway unavailable")),
        "{text}"
    );
    // The original event, exactly as EventBridge delivered it.
    assert_eq!(failure.event["id"], json!(reserved[0].id), "{text}");
    assert_eq!(failure.event["detail"], reserved[0].raw["detail"], "{text}");
    assert_eq!(failure.event["detail-type"], "StockReserved");
    watch.close().await.unwrap();
}

/// A poison event is dead-lettered at once with its reason: one dead letter, no Lambda
/// on-failure record (the invocation succeeded, so Lambda did not retry), nothing emitted.
#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn poison_event_lands_in_the_dead_letter_queue_at_once_with_its_reason() {
    let stack = stack().await;
    let mut watch = stack.watch().await.unwrap();
    let mut flows = Vec::new();
    for (sample, reason) in [
        ("order-placed-zero-quantity.json", "quantity"),
        ("order-placed-undecodable.json", "detail.data.order"),
    ] {
        let (event, correlation_id) = poison_event(sample);
        watch.follow(correlation_id.clone());
        let event_id = stack.put_event(&event).await.unwrap();
        flows.push((
            Placed {
                title: format!("poison {sample}"),
                correlation_id,
                expected: expected_poison(),
                accepted: None,
            },
            event_id,
            reason,
        ));
    }
    let placed: Vec<Placed> = flows.iter().map(|(p, _, _)| p.clone()).collect();
    let reports = finish(&mut watch, &placed).await;
    for ((placed, event_id, reason), report) in flows.iter().zip(&reports) {
        assert_exact(placed, report);
        let text = report.render(routes().as_ref());
        assert_eq!(report.failures.len(), 1, "{text}");
        let letter = report.failures[0]
            .poison()
            .unwrap_or_else(|| panic!("not a poison letter:\n{text}"));
        assert_eq!(report.failures[0].queue_function, "inventory");
        assert_eq!(letter.kind, "poison");
        assert!(letter.function.contains("inventory"), "{}", letter.function);
        assert!(letter.reason.contains(reason), "reason {:?}", letter.reason);
        assert_eq!(letter.event_id.as_deref(), Some(event_id.as_str()));
        assert_eq!(
            letter.correlation_id.as_deref(),
            Some(placed.correlation_id.as_str())
        );
        let tapped = report.flow.get(event_id).unwrap();
        assert_eq!(
            letter.event["detail"], tapped.raw["detail"],
            "the original event"
        );
        assert_eq!(letter.event["id"], json!(event_id));
    }
    watch.close().await.unwrap();
}

/// A minute in the past that no other test publishes in, as (start of minute, an instant
/// inside it).
fn private_past_minute() -> (SystemTime, SystemTime) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    // Between about 2 and 20 hours ago, chosen at random: inside the archive's retention,
    // far from the events other tests are publishing now.
    let offset_minutes = 120
        + u64::from(uuid::Uuid::new_v4().as_bytes()[0]) * 4
        + u64::from(uuid::Uuid::new_v4().as_bytes()[1] % 4);
    let minute = (now / 60 - offset_minutes) * 60;
    (
        UNIX_EPOCH + Duration::from_secs(minute),
        UNIX_EPOCH + Duration::from_secs(minute + 30),
    )
}

/// The archive keeps published events and not replayed ones; a replay of a time window
/// re-delivers that window's events to the rules.
///
/// The test publishes its own `OrderPlaced` with a `Time` in a private minute of the past
/// and replays only that minute to every rule: any wider window would re-deliver the events
/// of tests running in parallel. The first replay
/// must re-deliver the event (marked with `replay-name`) to the tap and to inventory's rule
/// (a new StockReserved caused by the replayed event, same idempotency key as the first);
/// the second replay of the same window must deliver exactly one copy again, which proves
/// the first replay's copy was not archived. The outbox stays at one message: the re-run
/// of the flow carries the same idempotency keys.
#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn archive_excludes_replays_and_a_replay_redelivers() {
    let stack = stack().await;
    let mut watch = stack.watch().await.unwrap();
    let (minute_start, at) = private_past_minute();
    let order_id = new_order_id();
    let command = Scenario::HappyPath.command(&order_id);
    let correlation_id = format!("corr-replay-{order_id}");
    let key = format!("k-replay-{order_id}");
    let detail = json!({
        "metadata": {"schema_version": 1, "correlation_id": correlation_id,
                     "causation_id": null, "idempotency_key": key},
        "data": {"order": command.order},
    });
    watch.follow(correlation_id.clone());
    let original_id = stack
        .put_event(&BusEvent {
            source: "eventrail.orders".into(),
            detail_type: "OrderPlaced".into(),
            detail,
            time: Some(at),
        })
        .await
        .unwrap();
    let original = Placed {
        title: format!("order {order_id} · published at a past time for the replay"),
        correlation_id: correlation_id.clone(),
        expected: expected(Scenario::HappyPath),
        accepted: None,
    };
    let reports = finish(&mut watch, std::slice::from_ref(&original)).await;
    assert_exact(&original, &reports[0]);

    let window_end = minute_start + Duration::from_secs(59);
    let replay_name = |n: u32| format!("e2e-{}-{n}", &order_id[4..]);
    let replay = |name: String| {
        let stack = &stack;
        async move {
            match stack
                .replay(&name, minute_start, window_end, &[], FLOW_DEADLINE)
                .await
            {
                Ok(outcome) => outcome,
                Err(error) if error.to_string().contains("str.replace()") => panic!(
                    "StartReplay hit LocalStack 4.13.1's archive time bug (\"str.replace() takes \
                     no keyword arguments\": archived event times are strings, the archive \
                     filter treats them as datetimes). eventrail's LocalStack supervisor installs \
                     an init hook that fixes it; this LocalStack runs without that hook (started \
                     outside eventrail?). Error: {error}"
                ),
                Err(error) => panic!("{error}"),
            }
        }
    };

    // First replay: the event comes back, marked, and the rules run again.
    let first = replay(replay_name(1)).await;
    assert_eq!(first.state, "COMPLETED", "{first:?}");
    let first_name = replay_name(1);
    watch
        .wait_until(
            "the replayed OrderPlaced and the flow it re-runs",
            FLOW_DEADLINE,
            |watch| {
                let flow = watch.flow(&correlation_id);
                let replayed: Vec<_> = flow
                    .events()
                    .iter()
                    .filter(|e| e.replay_name.as_deref() == Some(first_name.as_str()))
                    .collect();
                replayed.iter().any(|r| {
                    flow.children_of(&r.id)
                        .iter()
                        .any(|c| c.detail_type == "StockReserved")
                }) && flow.of_type("OrderShipped").len() >= 2
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    eventrail_tests::settle(&mut watch).await;
    let report = watch.report(&correlation_id, "after the first replay");
    let text = report.render(routes().as_ref());
    assert_causally_sound_except_keys(&report.flow, &text);
    let replayed: Vec<_> = report
        .flow
        .events()
        .iter()
        .filter(|e| e.replay_name.is_some())
        .collect();
    assert_eq!(replayed.len(), 1, "one event in the window:\n{text}");
    assert_eq!(replayed[0].detail_type, "OrderPlaced");
    assert_eq!(replayed[0].idempotency_key.as_deref(), Some(key.as_str()));
    assert_eq!(
        replayed[0].raw["detail"],
        report.flow.get(&original_id).unwrap().raw["detail"],
        "the archive keeps the event as published"
    );
    // Re-run of the flow: same idempotency keys and data per type, one outbox message.
    for detail_type in ["StockReserved", "PaymentCaptured", "OrderShipped"] {
        let events = report.flow.of_type(detail_type);
        assert_eq!(events.len(), 2, "{detail_type}:\n{text}");
        assert_eq!(
            events[0].idempotency_key, events[1].idempotency_key,
            "{text}"
        );
        assert_eq!(events[0].data(), events[1].data(), "{text}");
    }
    assert_eq!(report.messages.len(), 1, "deduplicated outbox:\n{text}");
    assert!(
        report.failures.is_empty(),
        "{}",
        summaries(&report.failures)
    );

    // Second replay of the same window: exactly one copy again (the first replay's copy
    // was not archived).
    let second = replay(replay_name(2)).await;
    assert_eq!(second.state, "COMPLETED", "{second:?}");
    let second_name = replay_name(2);
    watch
        .wait_until("the second replay's OrderPlaced", FLOW_DEADLINE, |watch| {
            watch
                .flow(&correlation_id)
                .events()
                .iter()
                .any(|e| e.replay_name.as_deref() == Some(second_name.as_str()))
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    eventrail_tests::settle(&mut watch).await;
    let flow = watch.flow(&correlation_id);
    let copies: Vec<_> = flow
        .events()
        .iter()
        .filter(|e| e.replay_name.as_deref() == Some(second_name.as_str()))
        .collect();
    assert_eq!(
        copies.len(),
        1,
        "replayed events must not be archived again:\n{}",
        watch
            .report(&correlation_id, "after the second replay")
            .render(None)
    );
    assert_eq!(copies[0].idempotency_key.as_deref(), Some(key.as_str()));
    watch.close().await.unwrap();
}

/// Like `eventrail_tests::assert_causally_sound`, for a flow that legitimately repeats idempotency keys
/// (re-deliveries re-emit events with the same keys).
fn assert_causally_sound_except_keys(flow: &eventrail_observe::Flow, text: &str) {
    assert!(flow.problems().is_empty(), "{:?}\n{text}", flow.problems());
    for event in flow.events() {
        assert_eq!(
            event.correlation_id.as_deref(),
            Some(flow.correlation_id.as_str())
        );
    }
}

/// Delivering the same event twice (the same EventBridge event, same id, to the same
/// function, as EventBridge's at-least-once delivery does: asynchronously to inventory, into
/// its buffer queue to notifications, a buffered consumer) re-emits events with the same
/// idempotency keys and data, and does not notify the customer twice.
#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn delivering_the_same_event_twice_does_not_duplicate_downstream_effects() {
    let stack = stack().await;
    let mut watch = stack.watch().await.unwrap();
    let placed = place(&stack, &mut watch, Scenario::HappyPath).await;
    let reports = finish(&mut watch, std::slice::from_ref(&placed)).await;
    assert_exact(&placed, &reports[0]);
    let first = reports[0].flow.clone();
    let order_placed = first.of_type("OrderPlaced")[0].raw.clone();
    let order_shipped = first.of_type("OrderShipped")[0].raw.clone();

    // Redeliver OrderPlaced to inventory (re-runs the chain) and OrderShipped to
    // notifications, twice each.
    for _ in 0..2 {
        stack
            .invoke_async("inventory", &order_placed)
            .await
            .unwrap();
        crate::triggers::send_to_buffer(&stack, "notifications", &order_shipped);
    }
    let correlation_id = placed.correlation_id.clone();
    watch
        .wait_until(
            "the redelivered OrderPlaced to re-run the chain twice",
            FLOW_DEADLINE,
            |watch| watch.flow(&correlation_id).of_type("OrderShipped").len() >= 3,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    eventrail_tests::settle(&mut watch).await;
    let report = watch.report(&correlation_id, placed.title.clone());
    let text = report.render(routes().as_ref());
    assert_causally_sound_except_keys(&report.flow, &text);

    // One OrderPlaced (redelivery is not a new event), three of each downstream type, all
    // caused by that OrderPlaced's chain, with one key and one payload per type.
    assert_eq!(report.flow.of_type("OrderPlaced").len(), 1, "{text}");
    for detail_type in ["StockReserved", "PaymentCaptured", "OrderShipped"] {
        let events = report.flow.of_type(detail_type);
        assert_eq!(events.len(), 3, "{detail_type}:\n{text}");
        let keys: BTreeSet<_> = events.iter().map(|e| e.idempotency_key.clone()).collect();
        assert_eq!(keys.len(), 1, "{detail_type} keys differ:\n{text}");
        let payloads: BTreeSet<String> = events.iter().map(|e| e.data().to_string()).collect();
        assert_eq!(payloads.len(), 1, "{detail_type} payloads differ:\n{text}");
    }
    for reserved in report.flow.of_type("StockReserved") {
        assert_eq!(
            reserved.causation_id.as_deref(),
            Some(order_placed["id"].as_str().unwrap_or_default()),
            "{text}"
        );
    }
    // Five deliveries of OrderShipped-with-that-key reached notifications (3 from the
    // chain, 2 straight into its buffer); the customer got one message.
    assert_eq!(report.messages.len(), 1, "{text}");
    assert!(
        report.failures.is_empty(),
        "{}",
        summaries(&report.failures)
    );
    assert!(
        report.flow.of_type("FraudSuspected").is_empty()
            && report.flow.of_type("PaymentFailed").is_empty(),
        "{text}"
    );
    watch.close().await.unwrap();
}

/// Effects once per idempotency key, beyond SQS's 5-minute deduplication window: an
/// `OrderShipped` that was already notified is delivered to notifications again, under new
/// event ids. The outbox's deduplication id is derived from the key *and* the event id, so
/// SQS does not drop these sends, exactly as it would not drop a duplicate arriving after its
/// window; only notifications' idempotency record (its DynamoDB table, on LocalStack served
/// by moto) stops a second message. Once straight into notifications' buffer queue (a
/// buffered consumer takes no direct invokes), once through the bus (a new EventBridge id, as
/// a replay or redrive would give); each time its log says the send was replayed, with the
/// first send's message id, and the outbox holds one message, the first one.
#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn a_redelivery_after_the_fifo_window_notifies_once() {
    let stack = stack().await;
    let mut watch = stack.watch().await.unwrap();
    let placed = place(&stack, &mut watch, Scenario::HappyPath).await;
    let reports = finish(&mut watch, std::slice::from_ref(&placed)).await;
    assert_exact(&placed, &reports[0]);
    assert_eq!(reports[0].messages.len(), 1, "the first delivery notifies");
    let first_message = reports[0].messages[0].clone();
    let shipped = reports[0].flow.of_type("OrderShipped")[0].clone();
    let stack_name = stack.outputs.stack_name.clone().unwrap_or_default();
    let endpoint = std::env::var("EVENTRAIL_ENDPOINT").unwrap_or_default();
    // notifications' log lines about the delivery of `event_id`: handled, nothing sent, the
    // stored result of the first send.
    let assert_replayed = |event_id: String| {
        let group = format!("/aws/lambda/{stack_name}-notifications");
        let endpoint = endpoint.clone();
        let first = first_message.message_id.clone();
        async move {
            let logs =
                eventrail_tests::function_log_lines(&endpoint, &group, &event_id, FLOW_DEADLINE)
                    .await;
            let sends: Vec<&String> = logs
                .iter()
                .filter(|line| line.contains("outbox send"))
                .collect();
            assert!(
                !sends.is_empty(),
                "notifications logged no handling of the redelivered {event_id}: {logs:#?}"
            );
            assert!(
                sends
                    .iter()
                    .all(|line| line.contains("\"replayed\":true") && line.contains(&first)),
                "the redelivery must be replayed with the first send's message id {first}, not \
                 sent: {logs:#?}"
            );
        }
    };

    // 1. Into its buffer queue, the same event under a new id.
    let mut again = shipped.raw.clone();
    let again_id = format!("redelivered-{}", uuid::Uuid::new_v4());
    again["id"] = json!(again_id);
    crate::triggers::send_to_buffer(&stack, "notifications", &again);
    assert_replayed(again_id).await;

    // 2. Put on the bus again: EventBridge gives it a new id and the rule delivers it.
    let redelivered_id = stack
        .put_event(&BusEvent {
            source: shipped.source.clone(),
            detail_type: shipped.detail_type.clone(),
            detail: shipped.raw["detail"].clone(),
            time: None,
        })
        .await
        .unwrap();
    assert_replayed(redelivered_id).await;
    eventrail_tests::settle(&mut watch).await;
    let report = watch.report(&placed.correlation_id, placed.title.clone());
    let text = report.render(routes().as_ref());
    assert_eq!(report.flow.of_type("OrderShipped").len(), 2, "{text}");
    assert_eq!(report.messages.len(), 1, "one notification:\n{text}");
    assert_eq!(
        report.messages[0].message_id, first_message.message_id,
        "{text}"
    );
    assert!(
        report.failures.is_empty(),
        "{}",
        summaries(&report.failures)
    );
    watch.close().await.unwrap();
}

/// Nothing is lost: many orders of every scenario at once, plus poison events; every
/// resulting event, outbox message and failure is accounted for, and nothing else appears.
#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn nothing_is_lost_across_many_concurrent_orders() {
    const PER_SCENARIO: usize = 4;
    let stack = stack().await;
    let mut watch = stack.watch().await.unwrap();

    let mut tasks = tokio::task::JoinSet::new();
    for scenario in Scenario::ALL {
        for _ in 0..PER_SCENARIO {
            let stack = stack.clone();
            tasks.spawn(async move {
                let order_id = new_order_id();
                let accepted = place_order(&stack, &scenario.command(&order_id)).await;
                Placed {
                    title: format!("order {order_id} · {}", scenario.label()),
                    correlation_id: accepted.correlation_id.clone(),
                    expected: expected(scenario),
                    accepted: Some(accepted),
                }
            });
        }
    }
    let mut placed = Vec::new();
    while let Some(result) = tasks.join_next().await {
        let flow = result.unwrap();
        watch.follow(flow.correlation_id.clone());
        placed.push(flow);
    }
    for sample in [
        "order-placed-zero-quantity.json",
        "order-placed-undecodable.json",
    ] {
        let (event, correlation_id) = poison_event(sample);
        watch.follow(correlation_id.clone());
        stack.put_event(&event).await.unwrap();
        placed.push(Placed {
            title: format!("poison {sample}"),
            correlation_id,
            expected: expected_poison(),
            accepted: None,
        });
    }

    let reports = finish(&mut watch, &placed).await;
    let mut expected_events = 0;
    let mut expected_outbox = 0;
    let mut expected_failures = 0;
    for (flow, report) in placed.iter().zip(&reports) {
        assert_exact(flow, report);
        expected_events += flow.expected.edges.len();
        expected_outbox += flow.expected.outbox.len();
        expected_failures += flow.expected.handler_failures.len() + flow.expected.poison.len();
    }
    // The totals, across every flow this test started.
    let ours = watch.followed_events();
    assert_eq!(ours.len(), expected_events, "events on the bus");
    assert_eq!(watch.messages().len(), expected_outbox, "outbox messages");
    assert_eq!(
        watch.failures().len(),
        expected_failures,
        "failure queue messages:\n{}",
        summaries(watch.failures())
    );
    assert!(
        watch
            .failures()
            .iter()
            .all(|r| !matches!(r.kind, FailureKind::Unrecognised { .. })),
        "{}",
        summaries(watch.failures())
    );
    assert!(
        watch.tap().undecodable().is_empty(),
        "{:?}",
        watch.tap().undecodable()
    );
    assert!(watch.unreadable_messages().is_empty());
    watch.close().await.unwrap();
}

/// The functions the test command built and deployed are fixed-address executables (the
/// shared build script, `crates/build/lambda/build.rs`): the dynamic loader has no relocations of
/// theirs to apply at a cold start (BENCHMARKS.md, section 7).
#[test]
#[ignore = "needs LocalStack: cargo xtask test"]
fn the_deployed_functions_are_fixed_address_executables() {
    let template =
        eventrail_model::Template::load(eventrail_tests::repo().join("infra/template.yaml"))
            .expect("the repository's template");
    let binaries: Vec<String> = template
        .functions()
        .iter()
        .filter_map(|f| f.binary.clone())
        .collect();
    assert!(
        !binaries.is_empty(),
        "the template names no function binary"
    );
    for binary in binaries {
        let built = eventrail_tests::target_dir().join("debug").join(&binary);
        assert!(
            eventrail_tests::is_position_dependent(&built),
            "{} is position-independent: functions/{binary}/Cargo.toml should name the shared \
             build script (build = \"../../crates/build/lambda/build.rs\")",
            built.display()
        );
    }
}

/// The environment check itself: a missing variable names `cargo xtask test`.
#[test]
fn missing_environment_says_to_run_cargo_xtask_test() {
    let error = eventrail_observe::ObserveError::MissingEnvironment {
        variable: eventrail_observe::ENDPOINT_VAR,
    }
    .to_string();
    assert!(error.contains("cargo xtask test"), "{error}");
}

/// Adding a function the way a user does, then running it for real: in a scratch copy of the
/// repository, `eventrail new function gift-wrap --consumes OrderPlaced` (no file touched by
/// hand), deployed to LocalStack as a second stack with its own bus; a valid `OrderPlaced`
/// put on that bus is handled by gift-wrap (its log line names the event), and a poison one
/// lands in gift-wrap's own failure queue with the reason.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn a_scaffolded_function_is_deployed_and_handles_events_from_the_bus() {
    use eventrail_local::deploy::{Build, DeployOptions, deploy};
    use eventrail_observe::{Stack, StackOutputs};

    let endpoint = std::env::var("EVENTRAIL_ENDPOINT")
        .expect("EVENTRAIL_ENDPOINT is not set: run `cargo xtask test`");
    let scratch =
        std::env::temp_dir().join(format!("eventrail-e2e-scaffold-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let copy = scratch.join("repo");
    eventrail_tests::copy_repository(&copy);
    let out = eventrail_tests::eventrail(&[
        "new".as_ref(),
        "function".as_ref(),
        "gift-wrap".as_ref(),
        "--consumes".as_ref(),
        "OrderPlaced".as_ref(),
        "--root".as_ref(),
        copy.as_os_str(),
    ]);
    assert!(
        out.status.success(),
        "eventrail new function: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The copy builds only what it adds: gift-wrap. The seven functions it shares with this
    // repository, unchanged, run as the zips the test command built for its own stack.
    let copies_target = eventrail_tests::copies_target_dir();
    eventrail_local::zips::build_local_zips(
        &copy,
        &copies_target,
        &["gift-wrap".into()],
        eventrail_local::Progress::Shown,
    )
    .unwrap_or_else(|e| panic!("building gift-wrap in the copy: {e}"));
    // The scaffold gave it the build script every function has: a fixed-address executable.
    let built = copies_target.join("debug/gift-wrap");
    assert!(
        eventrail_tests::is_position_dependent(&built),
        "{} is a position-independent executable: the shared build script the scaffold \
         names (crates/build/lambda/build.rs) did not apply",
        built.display()
    );
    let template = eventrail_model::Template::load(copy.join("infra/template.yaml"))
        .expect("the copy's template");
    for binary in template
        .functions()
        .iter()
        .filter_map(|f| f.binary.as_deref())
    {
        if binary == "gift-wrap" {
            continue;
        }
        let zip = |target: &std::path::Path| {
            target
                .join(eventrail_local::zips::LOCAL_ZIPS_DIR)
                .join(binary)
                .join("bootstrap.zip")
        };
        let (built, to) = (zip(&eventrail_tests::target_dir()), zip(&copies_target));
        std::fs::create_dir_all(to.parent().expect("a zip's folder"))
            .unwrap_or_else(|e| panic!("{}: {e}", to.display()));
        std::fs::copy(&built, &to).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (the stack's deploy by `cargo xtask test` builds it)",
                built.display()
            )
        });
    }

    let stack_name = "eventrail-scaffold";
    let options = DeployOptions {
        stack_name: Some(stack_name.to_owned()),
        parameter_overrides: [("BusName".to_owned(), stack_name.to_owned())].into(),
        target_dir: Some(copies_target),
        build: Build::LastBuild,
        ..DeployOptions::local(&copy)
    };
    // A local (dev-profile) build needs no tool from .eventrail.
    let installed = eventrail_local::Installed {
        localstack_python: std::path::PathBuf::new(),
        tools_bin: std::path::PathBuf::new(),
    };
    let deployed = deploy(&copy, &endpoint, &installed, &options)
        .await
        .unwrap_or_else(|e| panic!("deploying the scaffolded copy: {e}"));
    assert!(
        deployed.outputs.contains_key("GiftWrapFailureQueueUrl"),
        "{:?}",
        deployed.outputs.keys()
    );

    let project = eventrail_model::Project::load(&copy).expect("the copy is a project");
    let outputs = StackOutputs {
        stack_name: Some(stack_name.to_owned()),
        endpoint: Some(endpoint.clone()),
        ..StackOutputs::from_map(deployed.outputs.clone())
    }
    .with_project(&project)
    .expect("the copy's declarations");
    let stack = Stack::connect(&endpoint, outputs).await;
    let mut watch = stack.watch().await.expect("a tap on the scaffold bus");

    let (valid, _) = eventrail_tests::fresh_sample("order-placed.json");
    let valid_id = stack
        .put_event(&valid)
        .await
        .expect("put a valid OrderPlaced");
    let (poison, poison_correlation) =
        eventrail_tests::poison_event("order-placed-zero-quantity.json");
    let poison_id = stack
        .put_event(&poison)
        .await
        .expect("put a poison OrderPlaced");
    watch.follow(poison_correlation.clone());
    watch
        .wait_until("gift-wrap's dead letter", FLOW_DEADLINE, |w| {
            w.failures_for(&poison_correlation)
                .iter()
                .any(|r| r.queue_function == "gift-wrap")
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let failures = watch.failures_for(&poison_correlation);
    let letter = failures
        .iter()
        .find(|r| r.queue_function == "gift-wrap")
        .expect("gift-wrap's record");
    assert!(letter.is_poison(), "{}", letter.summary());
    assert_eq!(
        letter.event_id(),
        Some(poison_id.as_str()),
        "{}",
        letter.summary()
    );
    assert!(
        letter.summary().contains("quantity"),
        "{}",
        letter.summary()
    );

    // The valid event was handled: gift-wrap's log group holds a line naming it.
    let logs = eventrail_tests::function_log_lines(
        &endpoint,
        &format!("/aws/lambda/{stack_name}-gift-wrap"),
        &valid_id,
        FLOW_DEADLINE,
    )
    .await;
    assert!(
        logs.iter().any(|line| line.contains("handled")),
        "gift-wrap logged nothing about {valid_id}: {logs:#?}"
    );
    assert!(
        !watch
            .failures()
            .iter()
            .any(|r| r.event_id() == Some(valid_id.as_str())),
        "the valid event failed somewhere"
    );
    watch.close().await.expect("remove the tap");
    let _ = std::fs::remove_dir_all(&scratch);
}
