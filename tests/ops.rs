//! End-to-end tests of the operating commands (`eventrail put`, `tail`, `dlq`, `replay`): the
//! real `eventrail` binary against the stack `cargo xtask test` deployed on LocalStack,
//! found the way users find it (samconfig's `local` environment, `EVENTRAIL_ENDPOINT`,
//! CloudFormation's outputs).
//!
//! Isolation from the other end-to-end tests running in parallel: every event here carries a
//! fresh correlation id, `tail` filters on it, `dlq` commands pick records by correlation or
//! event id, and the failure queues are shared (the records these tests leave are claimed by
//! correlation at the end). LocalStack ignores rule-target DLQs, so delivery dead letters are
//! only covered by the unit tests of the redrive engine. The replay tests replay a private
//! minute of the past (as `e2e.rs` does); eventrail's LocalStack hook makes a replay honour
//! its FilterArns, as on AWS (`infra/localstack-init/ready.d/eventrail_replay_filter.py`).

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use eventrail_observe::{BusEvent, Stack};
use eventrail_tests::{FLOW_DEADLINE, fresh_sample, place_order, stack};
use events::scenarios::{Scenario, new_order_id};
use serde_json::{Value, json};

fn command(stack: &Stack, args: &[&str]) -> Command {
    eventrail_tests::eventrail_command_on(stack, args)
}

fn run(stack: &Stack, args: &[&str]) -> (bool, String, String) {
    eventrail_tests::eventrail_on(stack, args)
}

/// `dlq show <function> --json` records, until one satisfies `pick` (or the deadline).
fn wait_for_record(stack: &Stack, function: &str, pick: impl Fn(&Value) -> bool) -> Value {
    let records = |stdout: &str| -> Vec<Value> {
        stdout
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    };
    let stdout = wait_for_stdout(
        stack,
        &["dlq", "show", function, "--json", "--max", "1000"],
        |stdout| records(stdout).iter().any(&pick),
    );
    records(&stdout)
        .into_iter()
        .find(|r| pick(r))
        .unwrap_or_else(|| panic!("no matching record in {function}'s queues:\n{stdout}"))
}

/// Runs `eventrail <args>` until it succeeds with a stdout `pick` accepts (within the flow
/// deadline); returns that stdout.
fn wait_for_stdout(stack: &Stack, args: &[&str], pick: impl Fn(&str) -> bool) -> String {
    let started = Instant::now();
    loop {
        let (ok, stdout, stderr) = run(stack, args);
        if ok && pick(&stdout) {
            return stdout;
        }
        assert!(
            started.elapsed() < FLOW_DEADLINE,
            "eventrail {args:?} after {} s (success: {ok}):\n{stdout}{stderr}",
            FLOW_DEADLINE.as_secs()
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn correlation_is(id: &str) -> impl Fn(&Value) -> bool + '_ {
    move |record| record["correlation_id"] == id
}

/// Takes the records of `correlation_id` out of the shared failure queues.
async fn claim_failures(stack: &Stack, correlation_id: &str, expected: usize) {
    let mut watch = stack.watch().await.unwrap();
    watch.follow(correlation_id.to_owned());
    watch
        .wait_until(
            "this test's records in the failure queues",
            FLOW_DEADLINE,
            |w| w.failures_for(correlation_id).len() >= expected,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    watch.close().await.unwrap();
}

/// Writes `value` to a fresh file under the target dir; returns its path.
fn scratch_file(name: &str, value: &Value) -> PathBuf {
    let dir = eventrail_tests::target_dir().join("ops-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}-{name}", new_order_id()));
    std::fs::write(&path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
    path
}

/// A sample as a full envelope with a fresh correlation id.
fn fresh_envelope(sample: &str) -> (Value, String) {
    let (event, correlation_id) = fresh_sample(sample);
    (
        json!({"source": event.source, "detail-type": event.detail_type, "detail": event.detail}),
        correlation_id,
    )
}

#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn put_refuses_a_bad_event_before_sending_and_sends_a_good_one() {
    let stack = stack().await;
    let (bad, correlation_id) = fresh_envelope("poison/order-placed-undecodable.json");
    let (mut good, _) = fresh_envelope("order-placed.json");
    good["detail"]["metadata"]["correlation_id"] = correlation_id.clone().into();
    let pattern = json!({"detail": {"metadata": {"correlation_id": [correlation_id]}}});
    let mut tap = eventrail_observe::Tap::create_with_pattern(
        &stack.clients,
        stack.outputs.bus_name().unwrap(),
        &pattern,
    )
    .await
    .unwrap();

    let bad_file = scratch_file("bad.json", &bad);
    let (ok, stdout, stderr) = run(&stack, &["put", bad_file.to_str().unwrap()]);
    assert!(!ok, "a bad event must be refused:\n{stdout}{stderr}");
    assert!(stderr.contains("refused, nothing was sent"), "{stderr}");
    assert!(stderr.contains("/data/order"), "names the field: {stderr}");

    let good_file = scratch_file("good.json", &good);
    let (ok, stdout, stderr) = run(&stack, &["put", good_file.to_str().unwrap()]);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains("OrderPlaced accepted, event id"),
        "{stdout}"
    );
    assert!(stdout.contains("reaches analytics, inventory"), "{stdout}");

    // The good event arrives; the bad one never does.
    let started = Instant::now();
    while !tap.events().iter().any(|e| e.detail_type == "OrderShipped") {
        assert!(started.elapsed() < FLOW_DEADLINE, "{:#?}", tap.events());
        tap.poll(2).await.unwrap();
    }
    let placed: Vec<_> = tap
        .events()
        .iter()
        .filter(|e| e.detail_type == "OrderPlaced")
        .collect();
    assert_eq!(placed.len(), 1, "{placed:#?}");
    assert!(placed[0].raw["detail"]["data"]["order"].is_object());
    tap.delete().await.unwrap();
}

/// Whether the tail's rule and queue still exist.
async fn tail_parts_exist(stack: &Stack, name: &str) -> (bool, bool) {
    let rules = stack
        .clients
        .events
        .list_rules()
        .event_bus_name(stack.outputs.bus_name().unwrap())
        .name_prefix(name)
        .send()
        .await
        .unwrap();
    let queue = stack
        .clients
        .sqs
        .get_queue_url()
        .queue_name(name)
        .send()
        .await;
    (!rules.rules().is_empty(), queue.is_ok())
}

/// A running `eventrail tail`, its stdout lines and its temporary tap's name.
struct RunningTail {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
    name: String,
}

fn start_tail(stack: &Stack, args: &[&str]) -> RunningTail {
    let mut child = command(stack, &[&["tail"], args].concat())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (out_tx, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = out_tx.send(line);
        }
    });
    let (err_tx, stderr) = mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = err_tx.send(line);
        }
    });
    // Wait until it listens; its first lines name the rule and queue.
    let mut seen = Vec::new();
    let name = loop {
        let line = stderr
            .recv_timeout(FLOW_DEADLINE)
            .unwrap_or_else(|_| panic!("tail did not start: {seen:#?}"));
        if let Some(rest) = line.strip_prefix("tail: rule and queue ") {
            break rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
        }
        seen.push(line);
    };
    assert!(name.starts_with("eventrail-tail-"), "{name}");
    RunningTail {
        child,
        lines,
        stderr,
        name,
    }
}

/// Waits for `child` to exit; kills it and fails when it does not within the deadline.
fn wait_exit(child: &mut Child, what: &str) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > FLOW_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not exit within {} s", FLOW_DEADLINE.as_secs());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn tail_shows_a_flow_and_removes_its_rule_and_queue_on_ctrl_c_and_after_a_kill() {
    let stack = stack().await;
    let (event, correlation_id) = fresh_sample("order-placed.json");
    let mut tail = start_tail(&stack, &["--json", "--correlation", &correlation_id]);
    assert_eq!(tail_parts_exist(&stack, &tail.name).await, (true, true));

    stack.put_event(&event).await.unwrap();
    let mut types = Vec::new();
    while !types.iter().any(|t| t == "OrderShipped") {
        let line = tail
            .lines
            .recv_timeout(FLOW_DEADLINE)
            .unwrap_or_else(|_| panic!("the flow did not show; seen {types:?}"));
        let event: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(
            event["detail"]["metadata"]["correlation_id"], correlation_id,
            "{line}"
        );
        types.push(event["detail-type"].as_str().unwrap_or_default().to_owned());
    }
    for expected in ["OrderPlaced", "StockReserved", "PaymentCaptured"] {
        assert!(types.iter().any(|t| t == expected), "{types:?}");
    }

    // Ctrl-C: the tail removes its rule and queue and exits cleanly.
    signal(&tail.child, "-INT");
    let status = wait_exit(&mut tail.child, "tail after Ctrl-C");
    let messages: Vec<String> = tail.stderr.try_iter().collect();
    assert!(status.success(), "{status}: {messages:#?}");
    assert!(
        messages
            .iter()
            .any(|m| m == &format!("tail: removed rule and queue {}", tail.name)),
        "{messages:#?}"
    );
    assert_eq!(tail_parts_exist(&stack, &tail.name).await, (false, false));

    // A killed tail cannot clean up; the next run removes what it left.
    let mut killed = start_tail(&stack, &["--correlation", &correlation_id]);
    signal(&killed.child, "-KILL");
    wait_exit(&mut killed.child, "a killed tail");
    assert_eq!(tail_parts_exist(&stack, &killed.name).await, (true, true));
    let mut next = start_tail(&stack, &["--correlation", &correlation_id]);
    assert_eq!(tail_parts_exist(&stack, &killed.name).await, (false, false));
    signal(&next.child, "-TERM");
    assert!(wait_exit(&mut next.child, "tail after SIGTERM").success());
    assert_eq!(tail_parts_exist(&stack, &next.name).await, (false, false));
}

#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn dlq_show_explains_a_poison_event_and_redrive_leaves_it_while_it_still_fails() {
    let stack = stack().await;
    // Zero quantity: passes the schema, fails the handler's validation (poison at once).
    let (zero, zero_correlation) = eventrail_tests::poison_event("order-placed-zero-quantity.json");
    // Not an order at all: fails the catalog too.
    let (bad, bad_correlation) = eventrail_tests::poison_event("order-placed-undecodable.json");
    stack.put_event(&zero).await.unwrap();
    let bad_id = stack.put_event(&bad).await.unwrap();

    let record = wait_for_record(&stack, "inventory", correlation_is(&zero_correlation));
    assert_eq!(record["kind"], "poison", "{record}");
    assert_eq!(record["queue"], "failure queue", "{record}");
    assert_eq!(record["attempts"], 1, "{record}");
    assert!(
        record["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("quantity"),
        "{record}"
    );
    assert_eq!(
        record["event"]["detail"], zero.detail,
        "the original event: {record}"
    );

    let record = wait_for_record(&stack, "inventory", correlation_is(&bad_correlation));
    assert_eq!(record["kind"], "poison", "{record}");
    assert_eq!(record["event_id"], bad_id.as_str(), "{record}");

    // Human output names the kind and reason too. (A test reading the shared queue at the
    // same moment hides its messages from this one until it lets them go: both wait.)
    wait_for_stdout(
        &stack,
        &["dlq", "show", "inventory", "--max", "1000"],
        |out| out.contains(&bad_id),
    );
    let stdout = wait_for_stdout(
        &stack,
        &["dlq", "redrive", "inventory", "--id", &bad_id],
        |out| !out.contains("0 redriven, 0 left"),
    );
    assert!(stdout.contains("0 redriven, 1 left, 0 failed"), "{stdout}");
    assert!(
        stdout.contains("still fails the current catalog"),
        "{stdout}"
    );
    // Still there.
    wait_for_record(&stack, "inventory", correlation_is(&bad_correlation));

    claim_failures(&stack, &zero_correlation, 1).await;
    claim_failures(&stack, &bad_correlation, 1).await;
}

/// Sets `PAYMENT_GATEWAY_RECOVERED` on the payments function (keeping its other variables)
/// and waits until the update is done, and then until LocalStack's previous version of the
/// function stops reading its asynchronous invocations (see [`OLD_POLLER_WINDOW`]).
pub(crate) async fn gateway_recovered_for(stack: &Stack, order_ids: Option<&str>) {
    let name = stack.outputs.function_name("payments").unwrap();
    let lambda = &stack.clients.lambda;
    let current = lambda
        .get_function_configuration()
        .function_name(name)
        .send()
        .await
        .unwrap();
    let mut variables = current
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default();
    match order_ids {
        Some(ids) => variables.insert("PAYMENT_GATEWAY_RECOVERED".into(), ids.into()),
        None => variables.remove("PAYMENT_GATEWAY_RECOVERED"),
    };
    lambda
        .update_function_configuration()
        .function_name(name)
        .environment(
            aws_sdk_lambda::types::Environment::builder()
                .set_variables(Some(variables))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let started = Instant::now();
    loop {
        let state = lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
            .unwrap();
        let done = state
            .last_update_status()
            .is_none_or(|s| s.as_str() == "Successful");
        if done {
            break;
        }
        assert!(started.elapsed() < FLOW_DEADLINE, "{state:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(OLD_POLLER_WINDOW).await;
}

/// How long LocalStack 4.13.1 keeps reading a function's asynchronous invocations with the
/// version an update replaced, once the update reports `Successful`. The new version's
/// poller starts on the same internal queue at once; the old one is told to stop from a
/// background task and notices between long polls of up to 2 s. An invocation the old poller
/// receives in that window is dropped unprocessed and stays hidden for the function's timeout
/// plus 60 s (`Poller.run` in `lambda_/invocation/event_manager.py`): the redrive right after
/// the gateway came back was handled 71 s late, which made its test the test command's last
/// 70 s. On AWS an update never drops an invocation.
const OLD_POLLER_WINDOW: Duration = Duration::from_secs(3);

#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn redrive_after_the_gateway_is_back_ships_the_order_once() {
    let stack = stack().await;
    let mut watch = stack.watch().await.unwrap();
    let order_id = new_order_id();
    let accepted = place_order(&stack, &Scenario::GatewayDown.command(&order_id)).await;
    let correlation_id = accepted.correlation_id.clone();

    // After Lambda's retries, payments' failure queue holds the original StockReserved.
    let record = wait_for_record(&stack, "payments", correlation_is(&correlation_id));
    let retries = stack.invoke_retry_attempts("payments").await.unwrap();
    assert_eq!(record["kind"], "handler-failure", "{record}");
    assert_eq!(record["attempts"], u64::from(retries) + 1, "{record}");
    assert_eq!(record["event"]["detail-type"], "StockReserved", "{record}");
    assert!(
        record["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("gateway unavailable"),
        "{record}"
    );
    let event_id = record["event_id"].as_str().unwrap().to_owned();

    // A dry run changes nothing.
    let (ok, stdout, stderr) = run(
        &stack,
        &["dlq", "redrive", "payments", "--id", &event_id, "--dry-run"],
    );
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("1 would be redriven"), "{stdout}");
    wait_for_record(&stack, "payments", correlation_is(&correlation_id));

    // The gateway comes back (for this order only: other tests' outages go on).
    gateway_recovered_for(&stack, Some(&order_id)).await;
    let (ok, stdout, stderr) = run(&stack, &["dlq", "redrive", "payments", "--id", &event_id]);
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("1 redriven, 0 left, 0 failed"), "{stdout}");

    watch.follow(correlation_id.clone());
    watch
        .wait_until(
            "the order to ship and reach the outbox",
            FLOW_DEADLINE,
            |w| {
                !w.flow(&correlation_id).of_type("OrderShipped").is_empty()
                    && !w.messages_for(&correlation_id).is_empty()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    eventrail_tests::settle(&mut watch).await;
    gateway_recovered_for(&stack, None).await;
    let report = watch.report(&correlation_id, format!("order {order_id}"));
    let text = report.render(None);
    assert_eq!(report.messages.len(), 1, "{text}");
    assert_eq!(report.messages[0].body.kind, "order-shipped", "{text}");
    assert!(report.failures.is_empty(), "the record was deleted: {text}");
    watch.close().await.unwrap();
}

/// A minute between about 2 and 20 hours ago no other test publishes in.
fn private_past_minute() -> SystemTime {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let bytes = uuid::Uuid::new_v4();
    let offset = 120 + u64::from(bytes.as_bytes()[0]) * 4 + u64::from(bytes.as_bytes()[1] % 4);
    UNIX_EPOCH + Duration::from_secs((now / 60 - offset) * 60)
}

fn rfc3339(time: SystemTime) -> String {
    let seconds = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    chrono::DateTime::from_timestamp(i64::try_from(seconds).unwrap_or(0), 0)
        .unwrap_or_default()
        .to_rfc3339()
}

#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn replay_of_a_window_redelivers_its_events() {
    let stack = stack().await;
    let minute = private_past_minute();
    let (mut event, correlation_id) = fresh_sample("order-placed.json");
    event.time = Some(minute + Duration::from_secs(20));
    let mut watch = stack.watch().await.unwrap();
    watch.follow(correlation_id.clone());
    let original_id = stack.put_event(&BusEvent { ..event }).await.unwrap();
    watch
        .wait_until("the original flow", FLOW_DEADLINE, |w| {
            !w.messages_for(&correlation_id).is_empty()
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let (from, to) = (rfc3339(minute), rfc3339(minute + Duration::from_secs(59)));
    // To every rule: the tap rule too, which shows the replayed event itself.
    let (ok, stdout, stderr) = run(&stack, &["replay", "--from", &from, "--to", &to, "--wait"]);
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("COMPLETED"), "{stdout}");
    watch
        .wait_until(
            "the replayed OrderPlaced and its StockReserved",
            FLOW_DEADLINE,
            |w| {
                let flow = w.flow(&correlation_id);
                flow.events().iter().any(|e| {
                    e.replay_name.is_some()
                        && flow
                            .children_of(&e.id)
                            .iter()
                            .any(|c| c.detail_type == "StockReserved")
                })
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    eventrail_tests::settle(&mut watch).await;
    let flow = watch.flow(&correlation_id);
    let replayed: Vec<_> = flow
        .events()
        .iter()
        .filter(|e| e.replay_name.is_some())
        .collect();
    assert_eq!(replayed.len(), 1, "{flow:#?}");
    assert_eq!(
        replayed[0].raw["detail"],
        flow.get(&original_id).unwrap().raw["detail"]
    );
    assert_eq!(
        watch.messages_for(&correlation_id).len(),
        1,
        "deduplicated outbox"
    );
    watch.close().await.unwrap();
}

#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn replay_to_one_function_reaches_only_that_function_s_rules() {
    let stack = stack().await;
    let minute = private_past_minute();
    // A high-value order: fraud suspects it (FraudSuspected) and inventory reserves its stock
    // (StockReserved); both consume the OrderPlaced.
    let (mut event, correlation_id) = fresh_sample("order-placed-high-value.json");
    event.time = Some(minute + Duration::from_secs(20));
    let mut watch = stack.watch().await.unwrap();
    watch.follow(correlation_id.clone());
    stack.put_event(&BusEvent { ..event }).await.unwrap();
    let count = |watch: &eventrail_observe::Watch, detail_type: &str| {
        watch
            .flow(&correlation_id)
            .events()
            .iter()
            .filter(|e| e.detail_type == detail_type)
            .count()
    };
    watch
        .wait_until("the original flow", FLOW_DEADLINE, |w| {
            count(w, "FraudSuspected") == 1 && count(w, "StockReserved") == 1
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    eventrail_tests::settle(&mut watch).await;
    assert_eq!(count(&watch, "StockReserved"), 1);
    let notified = watch.messages_for(&correlation_id).len();

    let (from, to) = (rfc3339(minute), rfc3339(minute + Duration::from_secs(59)));
    let (ok, stdout, stderr) = run(
        &stack,
        &[
            "replay",
            "--from",
            &from,
            "--to",
            &to,
            "--function",
            "fraud",
            "--wait",
        ],
    );
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("COMPLETED"), "{stdout}");
    // fraud ran the replayed event again: its FraudSuspected is on the bus a second time.
    watch
        .wait_until("fraud's FraudSuspected of the replay", FLOW_DEADLINE, |w| {
            count(w, "FraudSuspected") == 2
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    eventrail_tests::settle(&mut watch).await;
    let flow = watch.flow(&correlation_id);
    // inventory's rule, and the tap's, were not in the replay's FilterArns.
    assert_eq!(
        count(&watch, "StockReserved"),
        1,
        "inventory received the replay:\n{flow:#?}"
    );
    assert!(
        flow.events().iter().all(|e| e.replay_name.is_none()),
        "the tap rule received the replayed event:\n{flow:#?}"
    );
    assert_eq!(watch.messages_for(&correlation_id).len(), notified);
    watch.close().await.unwrap();
}

/// Runs `dlq redrive <function> --id <id>` until the record is found (another test's reader
/// may hide it for a moment); returns (success, stdout).
fn redrive_one(stack: &Stack, function: &str, id: &str) -> (bool, String) {
    let started = Instant::now();
    loop {
        let (ok, stdout, stderr) = run(stack, &["dlq", "redrive", function, "--id", id]);
        if !stdout.contains("nothing to redrive") {
            assert!(stdout.contains(id), "{stdout}{stderr}");
            return (ok, stdout);
        }
        assert!(
            started.elapsed() < FLOW_DEADLINE,
            "record {id} never found in {function}'s queues:\n{stdout}{stderr}"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Records put straight into inventory's failure queue, each with a fresh event id and one
/// correlation id: a Lambda on-failure record of an event inventory does not consume, a
/// claim check pointing under another function's prefix, and a claim check whose object is
/// not in the bucket. Each fails alone, with its reason, exits 1 and stays queued.
#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn redrive_refuses_foreign_events_and_claim_checks_and_reports_unreadable_records() {
    let stack = stack().await;
    let queue = stack
        .outputs
        .failure_queue_url("inventory")
        .unwrap()
        .to_owned();
    let bucket = stack
        .outputs
        .get("FailedEventsBucketName")
        .unwrap()
        .to_owned();
    let (payment, correlation_id) = fresh_sample("payment-captured.json");
    let suffix = new_order_id();
    let [foreign, outside, missing] =
        ["foreign", "outside", "missing"].map(|what| format!("e-ops-{what}-{suffix}"));
    let letter = |id: &str, key: &str| {
        json!({"kind": "poison", "function": "inventory", "reason": "too large to travel",
               "event_id": id, "correlation_id": correlation_id, "detail_type": "OrderPlaced",
               "failed_at": "2026-12-07T10:00:00Z", "event": null,
               "event_stored_at": {"bucket": bucket, "key": key, "bytes": 300_000}})
    };
    let bodies = [
        json!({
            "requestContext": {"requestId": "r", "condition": "RetriesExhausted",
                               "functionArn": "arn:aws:lambda:us-east-1:000000000000:function:x",
                               "approximateInvokeCount": 3},
            "requestPayload": {"id": foreign, "source": payment.source,
                               "detail-type": payment.detail_type, "detail": payment.detail},
            "responsePayload": {"errorType": "Retryable", "errorMessage": "down"},
        }),
        letter(&outside, &format!("payments/{outside}.json")),
        letter(&missing, &format!("inventory/{missing}.json")),
    ];
    for body in bodies {
        stack
            .clients
            .sqs
            .send_message()
            .queue_url(&queue)
            .message_body(body.to_string())
            .send()
            .await
            .unwrap();
    }

    // `dlq show` lists them all, each claim check with why its event was not read back.
    let event_id_is = |id: &str| {
        let id = id.to_owned();
        move |record: &Value| record["event_id"] == id.as_str()
    };
    let record = wait_for_record(&stack, "inventory", event_id_is(&outside));
    assert!(
        record["stored_event_problem"]
            .as_str()
            .is_some_and(|p| p.contains("outside inventory's prefix")),
        "{record}"
    );
    let record = wait_for_record(&stack, "inventory", event_id_is(&missing));
    assert!(
        record["stored_event_problem"]
            .as_str()
            .is_some_and(|p| p.contains("could not be read")),
        "{record}"
    );
    wait_for_record(&stack, "inventory", event_id_is(&foreign));

    let (ok, stdout) = redrive_one(&stack, "inventory", &foreign);
    assert!(!ok, "a refused record exits non-zero:\n{stdout}");
    assert!(stdout.contains("0 redriven, 0 left, 1 failed"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "event {foreign} (source `eventrail.payments`, detail-type `PaymentCaptured`) is not \
             an event inventory consumes"
        )),
        "{stdout}"
    );

    let (ok, stdout) = redrive_one(&stack, "inventory", &outside);
    assert!(!ok, "{stdout}");
    assert!(
        stdout.contains("outside inventory's prefix `inventory/`"),
        "{stdout}"
    );

    let (ok, stdout) = redrive_one(&stack, "inventory", &missing);
    assert!(!ok, "{stdout}");
    assert!(
        stdout.contains(&format!("s3://{bucket}/inventory/{missing}.json")),
        "{stdout}"
    );
    assert!(stdout.contains("could not be read"), "{stdout}");

    // All three are still queued.
    claim_failures(&stack, &correlation_id, 3).await;
}

/// An OrderShipped as the rule hands it to notifications' buffer queue (the whole EventBridge
/// event), with a fresh id and correlation id.
fn delivered_order_shipped() -> (Value, String, String) {
    let (event, correlation_id) = fresh_sample("order-shipped.json");
    let event_id = format!("00000000-0000-4000-8000-{}", &new_order_id()[..12]);
    let delivered = json!({
        "version": "0",
        "id": event_id,
        "detail-type": event.detail_type,
        "source": event.source,
        "account": "000000000000",
        "time": rfc3339(SystemTime::now()),
        "region": "us-east-1",
        "resources": [],
        "detail": event.detail,
    });
    (delivered, correlation_id, event_id)
}

#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn a_buffered_consumer_s_failures_are_shown_and_redriven_through_its_buffer_queue() {
    let stack = stack().await;
    let mut watch = stack.watch().await.unwrap();
    // What SQS moves to the buffer's dead-letter queue by itself after the last receive: the
    // event as the rule delivered it, without a reason.
    let (event, correlation_id, event_id) = delivered_order_shipped();
    let failure_queue = stack
        .outputs
        .failure_queue_url("notifications")
        .unwrap()
        .to_owned();
    stack
        .clients
        .sqs
        .send_message()
        .queue_url(&failure_queue)
        .message_body(event.to_string())
        .send()
        .await
        .unwrap();

    let record = wait_for_record(&stack, "notifications", correlation_is(&correlation_id));
    assert_eq!(record["kind"], "sqs-redriven", "{record}");
    assert!(
        record["reason"]
            .as_str()
            .unwrap_or_default()
            .starts_with("redriven by SQS after 3 receives, no reason recorded"),
        "{record}"
    );
    assert_eq!(record["event"], event, "{record}");

    // `dlq list` shows the buffer's depth next to its dead-letter queue.
    let (ok, stdout, stderr) = run(&stack, &["dlq", "list"]);
    assert!(ok, "{stdout}{stderr}");
    let buffer_line = stdout
        .lines()
        .find(|l| l.starts_with("notifications") && l.contains("buffer queue (feeds it)"))
        .unwrap_or_else(|| panic!("no buffer queue line for notifications:\n{stdout}"));
    assert!(
        stdout.lines().any(
            |l| l.starts_with("notifications") && l.contains("failure queue (its queue's DLQ)")
        ),
        "{stdout}"
    );
    assert!(!buffer_line.contains("oldest"), "{buffer_line}");

    // The dry run names the buffer queue and changes nothing.
    let buffer_url = stack
        .outputs
        .get("NotificationsBufferQueueUrl")
        .unwrap()
        .to_owned();
    let (ok, stdout, stderr) = run(
        &stack,
        &[
            "dlq",
            "redrive",
            "notifications",
            "--id",
            &event_id,
            "--dry-run",
        ],
    );
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("1 would be redriven"), "{stdout}");
    assert!(
        stdout.contains(&format!("buffer queue {buffer_url}")),
        "{stdout}"
    );
    wait_for_record(&stack, "notifications", correlation_is(&correlation_id));

    // The redrive sends the event into the buffer queue, whose event source mapping delivers
    // it within the concurrency cap: the customer is notified once, the record is gone.
    let (ok, stdout, stderr) = run(
        &stack,
        &["dlq", "redrive", "notifications", "--id", &event_id],
    );
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("1 redriven, 0 left, 0 failed"), "{stdout}");
    assert!(
        stdout.contains(&format!("buffer queue {buffer_url}")),
        "{stdout}"
    );
    assert!(
        !stdout.contains("function "),
        "never a direct invoke: {stdout}"
    );
    watch.follow(correlation_id.clone());
    watch
        .wait_until(
            "the outbox message of the redriven event",
            FLOW_DEADLINE,
            |w| !w.messages_for(&correlation_id).is_empty(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    eventrail_tests::settle(&mut watch).await;
    let report = watch.report(&correlation_id, "the redriven OrderShipped".to_owned());
    let text = report.render(None);
    assert_eq!(report.messages.len(), 1, "{text}");
    assert_eq!(report.messages[0].body.kind, "order-shipped", "{text}");
    assert!(report.failures.is_empty(), "the record was deleted: {text}");
    watch.close().await.unwrap();
}

#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn local_fire_refuses_a_function_without_a_schedule_naming_its_trigger() {
    let stack = stack().await;
    for (function, trigger) in [
        (
            "notifications",
            "it is triggered by a rule on the bus, through its buffer queue",
        ),
        (
            "shipping",
            "it is triggered by a rule on the bus (it consumes",
        ),
    ] {
        let (ok, stdout, stderr) = run(&stack, &["local", "fire", function]);
        assert!(!ok, "{stdout}{stderr}");
        assert!(
            stderr.contains(&format!("`{function}` is not scheduled: {trigger}")),
            "{stderr}"
        );
    }
}
