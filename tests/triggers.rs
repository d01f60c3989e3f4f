//! End-to-end tests of the shop's triggers on the stack `cargo xtask test` deployed on
//! LocalStack (its `[stack]` lane): `orders`' HTTP front door (`http = "POST /orders"`, a REST
//! API), `stock-count`'s schedule (`schedule = "rate(1 day)"`, every minute on the local stack)
//! and `notifications`' buffer (`delivery = "queue"`: rule -> SQS -> the function, 10 a batch).
//!
//! Isolation from the tests running beside them, as in `e2e.rs`: fresh order ids and
//! correlation ids, a tap of each test's own, and the shared queues read through a watch that
//! takes only its own flows' messages. Nothing asserts on time; waits have deadlines.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use eventrail_contract::names::{FunctionOutputs, REST_API_ID_OUTPUT, REST_API_STAGE_OUTPUT};
use eventrail_observe::{ObservedEvent, Stack, Watch};
use eventrail_tests::{
    FLOW_DEADLINE, Placed, assert_exact, expected, finish, fresh_sample, settle, stack, summaries,
};
use events::scenarios::{Scenario, new_order_id};
use serde_json::{Value, json};

/// How long the schedule may take to fire by itself: its local rate is a minute
/// (samconfig's `StockCountSchedule`), plus the plugin's poll and the flow to the tap.
const SCHEDULE_DEADLINE: Duration = Duration::from_secs(150);

/// What a case does to a good command to spoil it.
type Spoil = fn(&mut Value);

/// An HTTP answer: status and body.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!(
                "HTTP {}: the body is not JSON ({e}): {}",
                self.status, self.body
            )
        })
    }
}

/// The URL LocalStack serves the REST API's `path` on:
/// `<endpoint>/restapis/<id>/<stage>/_user_request_<path>`.
fn rest_api_url(stack: &Stack, path: &str) -> String {
    let endpoint = std::env::var("EVENTRAIL_ENDPOINT")
        .unwrap_or_else(|_| panic!("EVENTRAIL_ENDPOINT is not set: run `cargo xtask test`"));
    let id = stack
        .outputs
        .get(REST_API_ID_OUTPUT)
        .unwrap_or_else(|e| panic!("{e}"));
    let stage = stack
        .outputs
        .get(REST_API_STAGE_OUTPUT)
        .unwrap_or_else(|e| panic!("{e}"));
    eventrail_local::local_rest_api_url(&endpoint, id, stage, path)
}

/// Sends `method url` with `body` (as JSON) and returns the answer, whatever its status.
async fn request(method: &'static str, url: String, body: Option<String>) -> Answer {
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .build()
            .into();
        let sent = match (method, body) {
            ("POST", Some(body)) => agent
                .post(&url)
                .header("content-type", "application/json")
                .send(body),
            ("GET", None) => agent.get(&url).call(),
            other => panic!("no such request in these tests: {other:?}"),
        };
        let mut response = sent.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .read_to_string()
            .unwrap_or_else(|e| panic!("{method} {url}: reading the body: {e}"));
        Answer { status, body }
    })
    .await
    .unwrap_or_else(|e| panic!("the request's thread: {e}"))
}

/// POSTs `body` to `/orders`.
async fn post_order(stack: &Stack, body: String) -> Answer {
    request("POST", rest_api_url(stack, "/orders"), Some(body)).await
}

/// The order ids the tapped events are about.
fn order_ids(events: &[ObservedEvent]) -> BTreeSet<String> {
    events
        .iter()
        .filter_map(|event| {
            let data = event.data();
            data.pointer("/order/order_id")
                .or_else(|| data.get("order_id"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect()
}

/// An order POSTed over HTTP is placed and flows through to the outbox, exactly as a
/// directly invoked one: the answer is 202 with the order id and the flow's correlation id,
/// and the flow is the happy path's, outbox message included.
#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn an_order_posted_over_http_flows_through_to_the_outbox() {
    let stack = stack().await;
    let mut watch = stack.watch().await.unwrap();
    let order_id = new_order_id();
    let command = Scenario::HappyPath.command(&order_id);
    let answer = post_order(&stack, serde_json::to_string(&command).unwrap()).await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    let accepted: events::OrderAccepted = serde_json::from_str(&answer.body)
        .unwrap_or_else(|e| panic!("the answer is not an OrderAccepted ({e}): {}", answer.body));
    assert_eq!(accepted.order_id, order_id);
    assert!(accepted.event_id.is_some(), "{}", answer.body);
    watch.follow(accepted.correlation_id.clone());
    let placed = Placed {
        title: format!("order {order_id} · POST /orders"),
        correlation_id: accepted.correlation_id.clone(),
        expected: expected(Scenario::HappyPath),
        accepted: Some(accepted),
    };
    let reports = finish(&mut watch, std::slice::from_ref(&placed)).await;
    assert_exact(&placed, &reports[0]);
    assert_eq!(reports[0].messages.len(), 1, "the outbox message");
    watch.close().await.unwrap();
}

/// Bad bodies get a 400 whose JSON body names the field (`{"error", "field"}`), a method the
/// route does not declare gets a 4xx, and none of them publishes anything: after a good order
/// POSTed last has gone through, the tap holds no event about the refused orders.
#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn bad_bodies_get_400_naming_the_field_and_publish_nothing() {
    let stack = stack().await;
    let mut watch = stack.watch().await.unwrap();
    let command =
        |order_id: &str| serde_json::to_value(Scenario::HappyPath.command(order_id)).unwrap();
    let mut refused = Vec::new();

    // Not JSON: the body stops half-way.
    let broken_id = new_order_id();
    let answer = post_order(
        &stack,
        format!(r#"{{"order": {{"order_id": "{broken_id}", "#),
    )
    .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    let body = answer.json();
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    refused.push(broken_id);

    // A missing field, a field of the wrong type, a field that fails validation.
    let cases: [(&str, Spoil, &str); 3] = [
        (
            "no customer_email",
            |c| {
                c["order"]
                    .as_object_mut()
                    .map(|o| o.remove("customer_email"));
            },
            "customer_email",
        ),
        (
            "customer_id is a number",
            |c| c["order"]["customer_id"] = json!(5),
            "order.customer_id",
        ),
        (
            "a quantity of 0",
            |c| c["order"]["items"][0]["quantity"] = json!(0),
            "order.items[0].quantity",
        ),
    ];
    for (case, spoil, field) in cases {
        let order_id = new_order_id();
        let mut body = command(&order_id);
        spoil(&mut body);
        let answer = post_order(&stack, body.to_string()).await;
        assert_eq!(answer.status, 400, "{case}: {}", answer.body);
        let answer = answer.json();
        let named = format!(
            "{} {}",
            answer["field"].as_str().unwrap_or_default(),
            answer["error"].as_str().unwrap_or_default()
        );
        assert!(
            named.contains(field),
            "{case}: the answer does not name {field}: {answer}"
        );
        refused.push(order_id);
    }

    // A method the route does not declare.
    let answer = request("GET", rest_api_url(&stack, "/orders"), None).await;
    assert!(
        (400..500).contains(&answer.status),
        "GET /orders: {} {}",
        answer.status,
        answer.body
    );

    // Last, a good order: once its flow is through, anything the refused ones published
    // would be on the tap too.
    let order_id = new_order_id();
    let answer = post_order(&stack, command(&order_id).to_string()).await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    let accepted: events::OrderAccepted = serde_json::from_str(&answer.body)
        .unwrap_or_else(|e| panic!("the answer is not an OrderAccepted ({e}): {}", answer.body));
    watch.follow(accepted.correlation_id.clone());
    let placed = Placed {
        title: format!("order {order_id} · POST /orders after the refused ones"),
        correlation_id: accepted.correlation_id.clone(),
        expected: expected(Scenario::HappyPath),
        accepted: Some(accepted),
    };
    let reports = finish(&mut watch, std::slice::from_ref(&placed)).await;
    assert_exact(&placed, &reports[0]);
    let about = order_ids(watch.tap().events());
    assert!(
        about.contains(&order_id),
        "the good order's events were tapped"
    );
    for refused in &refused {
        assert!(
            !about.contains(refused),
            "order {refused} was refused with a 400, yet an event about it was published"
        );
    }
    watch.close().await.unwrap();
}

/// The StockCounted events tapped so far, by scheduled time.
fn stock_counts(watch: &Watch) -> BTreeMap<String, Vec<ObservedEvent>> {
    let mut counts: BTreeMap<String, Vec<ObservedEvent>> = BTreeMap::new();
    for event in watch.tap().events() {
        if event.detail_type != "StockCounted" {
            continue;
        }
        let time = event.data()["scheduled_time"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        counts.entry(time).or_default().push(event.clone());
    }
    counts
}

/// `eventrail local fire stock-count` runs the scheduled function now: fired twice for one
/// private scheduled time in the past (`--at`, as a retried or doubled firing of that time),
/// it emits StockCounted for that time both times, with the same idempotency key and the same
/// count. And the schedule fires by itself within its rate (a minute on the local stack): a
/// StockCounted for a time of its own arrives too, which no command caused.
#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn local_fire_produces_stock_counted_and_the_schedule_fires_by_itself() {
    let stack = stack().await;
    let mut watch = stack.watch().await.unwrap();
    let started = chrono::Utc::now();
    let at = private_past_minute(started);
    let mut fired_ids = Vec::new();
    for _ in 0..2 {
        let (ok, stdout, stderr) = eventrail_tests::eventrail_on(
            &stack,
            &["local", "fire", "stock-count", "--at", &at, "--json"],
        );
        assert!(
            ok,
            "eventrail local fire stock-count --at {at}:\n{stdout}{stderr}"
        );
        let fired: Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("`local fire --json` printed no JSON ({e}):\n{stdout}"));
        assert_eq!(fired["payload"]["scheduledTime"], json!(at), "{fired:#}");
        let emitted = fired["answer"]["emitted"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(emitted.len(), 1, "one StockCounted per firing: {fired:#}");
        assert_eq!(emitted[0]["detail_type"], "StockCounted", "{fired:#}");
        let id = emitted[0]["event_id"]
            .as_str()
            .unwrap_or_else(|| panic!("the firing names no event id: {fired:#}"))
            .to_owned();
        fired_ids.push(id);
    }
    watch
        .wait_until(
            &format!("both fired StockCounted of {at} on the bus"),
            FLOW_DEADLINE,
            |w| {
                let tapped = stock_counts(w);
                fired_ids.iter().all(|id| {
                    tapped
                        .get(&at)
                        .is_some_and(|events| events.iter().any(|e| e.id == *id))
                })
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let by_itself = |time: &String| {
        chrono::DateTime::parse_from_rfc3339(time)
            .is_ok_and(|t| t >= started - chrono::Duration::minutes(1))
    };
    watch
        .wait_until(
            "a StockCounted the schedule caused by itself (a scheduled time from now on)",
            SCHEDULE_DEADLINE,
            |w| stock_counts(w).keys().any(by_itself),
        )
        .await
        .unwrap_or_else(|e| {
            panic!(
                "{e}\nthe schedule did not fire within {} s; StockCounted seen for: {:?}",
                SCHEDULE_DEADLINE.as_secs(),
                stock_counts(&watch).keys().collect::<Vec<_>>()
            )
        });
    // However many times a scheduled time fired, its StockCounted carry one key and one count.
    for (time, events) in stock_counts(&watch) {
        let keys: BTreeSet<_> = events.iter().map(|e| e.idempotency_key.clone()).collect();
        let data: BTreeSet<String> = events.iter().map(|e| e.data().to_string()).collect();
        assert!(
            keys.len() == 1 && keys.iter().all(Option::is_some) && data.len() == 1,
            "the StockCounted of {time} differ: keys {keys:?}, data {data:?}"
        );
        assert!(events.iter().all(|e| e.source == "eventrail.stock-count"));
    }
    assert!(stock_counts(&watch)[&at].len() >= 2, "both firings of {at}");
    watch.close().await.unwrap();
}

/// A minute between about 2 and 20 hours before `now`, chosen at random (as `e2e.rs` picks
/// its replay window): a scheduled time no schedule and no other test fires.
fn private_past_minute(now: chrono::DateTime<chrono::Utc>) -> String {
    let bytes = uuid::Uuid::new_v4();
    let offset = 120 + i64::from(bytes.as_bytes()[0]) * 4 + i64::from(bytes.as_bytes()[1] % 4);
    let minute = now.timestamp() / 60 - offset;
    chrono::DateTime::from_timestamp(minute * 60, 0)
        .unwrap_or(now)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A buffered consumer reports only the item that failed. Ten customer outcomes put on the
/// bus in one call reach notifications through its buffer queue (batches of up to 10); one
/// of them is poison (an OrderShipped without a tracking number). The poison one lands in
/// notifications' failure queue, once, as a dead letter with its reason; the nine others are
/// each sent to the outbox once, and handled once (no redelivery of a batch: its log has one
/// `outbox send` per event, none replayed), and the buffer drains.
#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn a_poison_item_in_a_buffered_batch_fails_alone() {
    let stack = stack().await;
    let mut watch = stack.watch().await.unwrap();
    let mut envelopes = Vec::new();
    let mut correlations = Vec::new();
    for index in 0..10 {
        let (mut event, correlation_id) = fresh_sample("order-shipped.json");
        event.detail["data"]["order_id"] = json!(new_order_id());
        if index == 6 {
            event.detail["data"]["tracking_number"] = json!("");
        }
        watch.follow(correlation_id.clone());
        correlations.push(correlation_id);
        envelopes.push(json!({
            "source": event.source,
            "detail-type": event.detail_type,
            "detail": event.detail,
        }));
    }
    let poison_correlation = correlations[6].clone();
    let put = stack.put_envelopes(&envelopes).await.unwrap();
    let ids: Vec<String> = put
        .into_iter()
        .map(|entry| entry.unwrap_or_else(|e| panic!("PutEvents refused an entry: {e}")))
        .collect();
    let valid: Vec<(String, String)> = correlations
        .iter()
        .cloned()
        .zip(ids.iter().cloned())
        .filter(|(correlation, _)| *correlation != poison_correlation)
        .collect();

    watch
        .wait_until(
            "nine outbox messages and the poison item's dead letter",
            FLOW_DEADLINE,
            |w| {
                valid
                    .iter()
                    .all(|(correlation, _)| !w.messages_for(correlation).is_empty())
                    && !w.failures_for(&poison_correlation).is_empty()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    wait_for_the_buffer_to_drain(&stack).await;
    settle(&mut watch).await;

    // The poison item: one dead letter, with its reason, in notifications' failure queue.
    let failures = watch.failures_for(&poison_correlation);
    assert_eq!(failures.len(), 1, "{}", summaries(watch.failures()));
    let letter = failures[0]
        .poison()
        .unwrap_or_else(|| panic!("not a dead letter with a reason: {}", failures[0].summary()));
    assert_eq!(failures[0].queue_function, "notifications");
    assert!(
        letter.reason.contains("tracking_number"),
        "{}",
        letter.reason
    );
    assert_eq!(letter.event_id.as_deref(), Some(ids[6].as_str()));
    // Nothing else failed.
    assert_eq!(watch.failures().len(), 1, "{}", summaries(watch.failures()));

    // The nine others: one outbox message each, about their event.
    for (correlation, event_id) in &valid {
        let messages = watch.messages_for(correlation);
        assert_eq!(messages.len(), 1, "{correlation}: {messages:#?}");
        assert_eq!(&messages[0].body.event_id, event_id);
    }
    assert!(watch.messages_for(&poison_correlation).is_empty());

    // Handled once each: one `outbox send` in notifications' log per event, sent now.
    let stack_name = stack.outputs.stack_name.clone().unwrap_or_default();
    let endpoint = std::env::var("EVENTRAIL_ENDPOINT").unwrap_or_default();
    for (_, event_id) in &valid {
        let lines = eventrail_tests::function_log_lines(
            &endpoint,
            &format!("/aws/lambda/{stack_name}-notifications"),
            event_id,
            FLOW_DEADLINE,
        )
        .await;
        let sends: Vec<&String> = lines.iter().filter(|l| l.contains("outbox send")).collect();
        assert_eq!(
            sends.len(),
            1,
            "{event_id} handled {} times: {lines:#?}",
            sends.len()
        );
        assert!(sends[0].contains("\"replayed\":false"), "{}", sends[0]);
    }
    watch.close().await.unwrap();
}

/// The URL of the buffer queue of the buffered consumer `function` (`notifications`).
pub(crate) fn buffer_queue_url(stack: &Stack, function: &str) -> String {
    let logical_id = eventrail_contract::declaration::logical_id(function);
    let outputs = FunctionOutputs {
        logical_id: &logical_id,
    };
    stack
        .outputs
        .get(&outputs.buffer_queue_url())
        .unwrap_or_else(|e| panic!("{e}"))
        .to_owned()
}

/// Sends `event` (an EventBridge event as its rule delivers it) into the buffer queue of the
/// buffered consumer `function`, as the rule does: how a buffered consumer gets an event
/// delivered again (it takes no direct invokes: it reads SQS batches).
pub(crate) fn send_to_buffer(stack: &Stack, function: &str, event: &Value) {
    let url = buffer_queue_url(stack, function);
    let body = event.to_string();
    let output = eventrail_tests::stock_aws(
        eventrail_tests::AwsCaller::AccountRoot,
        &[
            "sqs",
            "send-message",
            "--queue-url",
            &url,
            "--message-body",
            &body,
        ],
    );
    assert!(
        output.status.success(),
        "sqs send-message to {url}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Waits until notifications' buffer queue holds nothing, visible or in flight: a record
/// reported failed would still be there, waiting for its redelivery.
async fn wait_for_the_buffer_to_drain(stack: &Stack) {
    let url = buffer_queue_url(stack, "notifications");
    let started = std::time::Instant::now();
    loop {
        let output = eventrail_tests::stock_aws(
            eventrail_tests::AwsCaller::AccountRoot,
            &[
                "sqs",
                "get-queue-attributes",
                "--queue-url",
                &url,
                "--attribute-names",
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
            ],
        );
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let answer: Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
        let count = |name: &str| {
            answer["Attributes"][name]
                .as_str()
                .and_then(|n| n.parse::<u64>().ok())
        };
        let (visible, in_flight) = (
            count("ApproximateNumberOfMessages"),
            count("ApproximateNumberOfMessagesNotVisible"),
        );
        if visible == Some(0) && in_flight == Some(0) {
            return;
        }
        assert!(
            started.elapsed() < FLOW_DEADLINE,
            "notifications' buffer still holds {visible:?} visible and {in_flight:?} in-flight \
             messages after {} s",
            FLOW_DEADLINE.as_secs()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
