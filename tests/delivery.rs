//! EventBridge's rule-target delivery rules on the deployed stack, as AWS documents them
//! (EventBridge User Guide, "Event retry policy and using dead-letter queues"): an event
//! EventBridge may not or cannot deliver to a function (its invoke permission is gone, the
//! function is gone) is not retried and lands in the rule target's dead-letter queue with
//! EventBridge's attributes; `eventrail dlq show` calls it a `delivery-failure` and
//! `eventrail dlq redrive` delivers it once the cause is fixed.
//!
//! LocalStack 4.13.1 does none of this by itself: infra/localstack-init/ready.d/
//! eventrail_delivery.py installs `eventrail_executor.delivery` (see there). Run by
//! `cargo xtask test`; the test that removes inventory's permission runs alone (it would
//! dead-letter the other tests' orders) and puts the permission back.

use std::time::Instant;

use eventrail_observe::Stack;
use eventrail_tests::{FLOW_DEADLINE, fresh_sample, function_log_lines, stack};
use serde_json::{Value, json};

const EVENTS_PRINCIPAL: &str = "events.amazonaws.com";

/// Runs the stock AWS CLI against the stack's endpoint; the parsed JSON it printed
/// (`Value::Null` for no output), or its stderr.
fn aws(_stack: &Stack, args: &[&str]) -> Result<Value, String> {
    let output = eventrail_tests::stock_aws(eventrail_tests::AwsCaller::AccountRoot, args);
    if !output.status.success() {
        return Err(format!(
            "aws {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    if output.stdout.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("aws {args:?} printed no JSON: {e}"))
}

fn aws_ok(stack: &Stack, args: &[&str]) -> Value {
    aws(stack, args).unwrap_or_else(|e| panic!("{e}"))
}

/// The messages of `queue_url`, peeked (visibility timeout 0, so nobody else loses them),
/// until one satisfies `pick`; that one.
fn peek_until(stack: &Stack, queue_url: &str, pick: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let answer = aws_ok(
            stack,
            &[
                "sqs",
                "receive-message",
                "--queue-url",
                queue_url,
                "--max-number-of-messages",
                "10",
                "--visibility-timeout",
                "0",
                "--wait-time-seconds",
                "2",
                "--message-attribute-names",
                "All",
            ],
        );
        if let Some(found) = answer["Messages"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| pick(m))
        {
            return found.clone();
        }
        assert!(
            started.elapsed() < FLOW_DEADLINE,
            "no matching message in {queue_url} after {} s",
            FLOW_DEADLINE.as_secs()
        );
    }
}

/// A message's string attributes.
fn attributes(message: &Value) -> std::collections::BTreeMap<String, String> {
    message["MessageAttributes"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v["StringValue"].as_str()?.to_owned())))
        .collect()
}

fn body_id(message: &Value) -> Option<String> {
    let body: Value = serde_json::from_str(message["Body"].as_str()?).ok()?;
    body["id"].as_str().map(str::to_owned)
}

/// The statement of `function`'s resource policy that lets `rule_suffix`'s rule invoke it.
fn events_statement(stack: &Stack, function_name: &str, rule_suffix: &str) -> (String, String) {
    let answer = aws_ok(
        stack,
        &["lambda", "get-policy", "--function-name", function_name],
    );
    let policy: Value = serde_json::from_str(answer["Policy"].as_str().unwrap_or("{}"))
        .unwrap_or_else(|e| panic!("the policy is not JSON: {e}: {answer}"));
    policy["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|s| {
            let source = s["Condition"]["ArnLike"]["AWS:SourceArn"].as_str()?;
            (s["Principal"]["Service"] == EVENTS_PRINCIPAL && source.ends_with(rule_suffix)).then(
                || {
                    (
                        s["Sid"].as_str().unwrap_or_default().to_owned(),
                        source.to_owned(),
                    )
                },
            )
        })
        .unwrap_or_else(|| panic!("no statement for {rule_suffix} in {policy}"))
}

/// A removed invoke permission, put back when dropped (also when the test panics).
struct RemovedPermission<'a> {
    stack: &'a Stack,
    function_name: String,
    statement_id: String,
    source_arn: String,
    restored: bool,
}

impl<'a> RemovedPermission<'a> {
    fn remove(stack: &'a Stack, function_name: &str, statement_id: &str, source_arn: &str) -> Self {
        aws_ok(
            stack,
            &[
                "lambda",
                "remove-permission",
                "--function-name",
                function_name,
                "--statement-id",
                statement_id,
            ],
        );
        Self {
            stack,
            function_name: function_name.to_owned(),
            statement_id: statement_id.to_owned(),
            source_arn: source_arn.to_owned(),
            restored: false,
        }
    }

    fn restore(&mut self) -> Result<(), String> {
        if self.restored {
            return Ok(());
        }
        aws(
            self.stack,
            &[
                "lambda",
                "add-permission",
                "--function-name",
                &self.function_name,
                "--statement-id",
                &self.statement_id,
                "--action",
                "lambda:InvokeFunction",
                "--principal",
                EVENTS_PRINCIPAL,
                "--source-arn",
                &self.source_arn,
            ],
        )?;
        self.restored = true;
        Ok(())
    }
}

impl Drop for RemovedPermission<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.restore() {
            eprintln!("could not restore {}'s permission: {e}", self.function_name);
        }
    }
}

#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn an_event_the_function_may_not_receive_is_dead_lettered_and_redriven_once_permitted() {
    let stack = stack().await;
    let function_name = stack.outputs.function_name("inventory").unwrap().to_owned();
    let delivery_dlq = stack
        .outputs
        .delivery_dlq_url("inventory")
        .unwrap()
        .to_owned();
    let (statement_id, rule_arn) =
        events_statement(&stack, &function_name, "-inventory-OrderPlaced");
    let mut removed = RemovedPermission::remove(&stack, &function_name, &statement_id, &rule_arn);

    let (event, correlation_id) = fresh_sample("order-placed.json");
    let event_id = stack.put_event(&event).await.unwrap();

    // The dead letter, as EventBridge writes it: the event as it would have been delivered,
    // AWS's attributes, no retries (a permission error is not retried).
    let message = peek_until(&stack, &delivery_dlq, |m| {
        body_id(m).as_deref() == Some(&event_id)
    });
    let attributes = attributes(&message);
    assert_eq!(
        attributes.get("ERROR_CODE").map(String::as_str),
        Some("NO_PERMISSIONS"),
        "{message}"
    );
    assert_eq!(attributes.get("RULE_ARN"), Some(&rule_arn), "{message}");
    let function_arn = aws_ok(
        &stack,
        &["lambda", "get-function", "--function-name", &function_name],
    )["Configuration"]["FunctionArn"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        attributes.get("TARGET_ARN"),
        Some(&function_arn),
        "{message}"
    );
    assert_eq!(
        attributes.get("RETRY_ATTEMPTS").map(String::as_str),
        Some("0"),
        "{message}"
    );
    assert!(
        attributes
            .get("ERROR_MESSAGE")
            .is_some_and(|m| !m.is_empty()),
        "{message}"
    );
    assert!(
        !attributes.contains_key("EXHAUSTED_RETRY_CONDITION"),
        "{message}"
    );
    let body: Value = serde_json::from_str(message["Body"].as_str().unwrap_or_default()).unwrap();
    assert_eq!(body["detail"], event.detail, "the event as delivered");
    assert_eq!(body["detail-type"], "OrderPlaced");

    // `eventrail dlq show` names it a delivery failure, in JSON and for people.
    let (ok, stdout, stderr) = eventrail_tests::eventrail_on(
        &stack,
        &["dlq", "show", "inventory", "--json", "--max", "1000"],
    );
    assert!(ok, "{stdout}{stderr}");
    let record = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|r| r["event_id"] == event_id.as_str())
        .unwrap_or_else(|| panic!("no record of {event_id}:\n{stdout}"));
    assert_eq!(record["kind"], "delivery-failure", "{record}");
    assert_eq!(record["queue"], "delivery dead-letter queue", "{record}");
    assert_eq!(record["error_type"], "NO_PERMISSIONS", "{record}");
    assert_eq!(record["attempts"], 1, "{record}");
    assert_eq!(
        record["correlation_id"],
        correlation_id.as_str(),
        "{record}"
    );
    let (ok, stdout, stderr) =
        eventrail_tests::eventrail_on(&stack, &["dlq", "show", "inventory", "--max", "1000"]);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains("delivery-failure") && stdout.contains(&event_id),
        "{stdout}"
    );

    // Once the permission is back, the redrive delivers it: inventory handles the event (it
    // was never invoked before: its permission was gone).
    removed.restore().unwrap_or_else(|e| panic!("{e}"));
    let (ok, stdout, stderr) =
        eventrail_tests::eventrail_on(&stack, &["dlq", "redrive", "inventory", "--id", &event_id]);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains("1 redriven, 0 left, 0 failed"),
        "{stdout}{stderr}"
    );
    let endpoint = std::env::var(eventrail_observe::ENDPOINT_VAR).unwrap_or_default();
    let handled = function_log_lines(
        endpoint.trim(),
        &format!("/aws/lambda/{function_name}"),
        &correlation_id,
        FLOW_DEADLINE,
    )
    .await;
    assert!(
        handled.iter().any(|l| l.contains("handling event")),
        "inventory never handled the redriven event: {handled:?}"
    );
}

#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn an_event_for_a_deleted_function_goes_to_its_rules_dead_letter_queue_unretried() {
    let stack = stack().await;
    let bus = stack.outputs.bus_name().unwrap().to_owned();
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let suffix = &suffix[..12];
    let rule_name = format!("delivery-test-{suffix}");
    let queue_url =
        aws_ok(&stack, &["sqs", "create-queue", "--queue-name", &rule_name])["QueueUrl"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
    let queue_arn = aws_ok(
        &stack,
        &[
            "sqs",
            "get-queue-attributes",
            "--queue-url",
            &queue_url,
            "--attribute-names",
            "QueueArn",
        ],
    )["Attributes"]["QueueArn"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let source = format!("delivery-test.{suffix}");
    let pattern = json!({"source": [source]}).to_string();
    let rule_arn = aws_ok(
        &stack,
        &[
            "events",
            "put-rule",
            "--name",
            &rule_name,
            "--event-bus-name",
            &bus,
            "--event-pattern",
            &pattern,
        ],
    )["RuleArn"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let account = rule_arn.split(':').nth(4).unwrap_or_default().to_owned();
    let function_arn = format!(
        "arn:aws:lambda:{}:{account}:function:deleted-{suffix}",
        stack.clients.region
    );
    let targets = json!([{
        "Id": "deleted",
        "Arn": function_arn,
        "RetryPolicy": {"MaximumRetryAttempts": 5, "MaximumEventAgeInSeconds": 60},
        "DeadLetterConfig": {"Arn": queue_arn},
    }])
    .to_string();
    aws_ok(
        &stack,
        &[
            "events",
            "put-targets",
            "--rule",
            &rule_name,
            "--event-bus-name",
            &bus,
            "--targets",
            &targets,
        ],
    );
    let entries = json!([{
        "EventBusName": bus, "Source": source, "DetailType": "Probe", "Detail": "{\"n\":1}",
    }])
    .to_string();
    let put = aws(&stack, &["events", "put-events", "--entries", &entries]);

    let message = put.map(|_| peek_until(&stack, &queue_url, |_| true));
    // Clean up before judging.
    let _ = aws(
        &stack,
        &[
            "events",
            "remove-targets",
            "--rule",
            &rule_name,
            "--event-bus-name",
            &bus,
            "--ids",
            "deleted",
        ],
    );
    let _ = aws(
        &stack,
        &[
            "events",
            "delete-rule",
            "--name",
            &rule_name,
            "--event-bus-name",
            &bus,
        ],
    );
    let _ = aws(&stack, &["sqs", "delete-queue", "--queue-url", &queue_url]);
    let message = message.unwrap_or_else(|e| panic!("{e}"));

    let attributes = attributes(&message);
    assert_eq!(
        attributes.get("ERROR_CODE").map(String::as_str),
        Some("NO_RESOURCE"),
        "{message}"
    );
    assert_eq!(
        attributes.get("RETRY_ATTEMPTS").map(String::as_str),
        Some("0"),
        "not retried: {message}"
    );
    assert_eq!(attributes.get("RULE_ARN"), Some(&rule_arn), "{message}");
    assert_eq!(
        attributes.get("TARGET_ARN"),
        Some(&function_arn),
        "{message}"
    );
    assert!(
        !attributes.contains_key("EXHAUSTED_RETRY_CONDITION"),
        "{message}"
    );
    let body: Value = serde_json::from_str(message["Body"].as_str().unwrap_or_default()).unwrap();
    assert_eq!(body["source"], source.as_str(), "{message}");
    assert_eq!(body["detail"], json!({"n": 1}), "{message}");
}
