//! IAM enforced on the local stack: what would be denied on AWS is denied on LocalStack.
//!
//! Run by `cargo xtask test` on the stack it deploys. The denials these tests cause on
//! purpose are asserted here, then marked expected (`/_eventrail/iam/denials/<id>/expected`):
//! after the run, the test command fails on any denial no test marked.

use std::process::Output;
use std::time::{Duration, Instant};

use eventrail_local::iam::{self, Denial};
use eventrail_tests::{AwsCaller as Caller, fresh_sample, poison_event, stack, stock_aws};
use serde_json::Value;

/// Long enough for a function's invocation on a loaded 2-core machine; nothing asserts time.
const DENIAL_DEADLINE: Duration = Duration::from_secs(180);

fn endpoint() -> String {
    std::env::var("EVENTRAIL_ENDPOINT").expect("EVENTRAIL_ENDPOINT: run `cargo xtask test`")
}

/// The CLI's JSON output, or a panic with what it printed.
fn aws_json(caller: Caller, args: &[&str]) -> Value {
    let output = stock_aws(caller, args);
    assert!(
        output.status.success(),
        "aws {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.stdout.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("aws {}: output is not JSON: {e}", args.join(" ")))
}

/// The execution role (name) of a deployed function.
fn role_of(function_name: &str) -> String {
    let configuration = aws_json(
        Caller::AccountRoot,
        &[
            "lambda",
            "get-function-configuration",
            "--function-name",
            function_name,
        ],
    );
    let arn = configuration["Role"]
        .as_str()
        .unwrap_or_else(|| panic!("{function_name} has no role: {configuration}"));
    arn.rsplit('/').next().unwrap_or(arn).to_owned()
}

/// `arn:aws:sqs:<region>:<account>:<name>` of a LocalStack queue URL
/// (`http://host/queue/<region>/<account>/<name>`).
fn queue_arn(url: &str) -> String {
    let parts: Vec<&str> = url.trim_end_matches('/').rsplit('/').take(3).collect();
    let [name, account, region] = parts[..] else {
        panic!("unexpected queue URL {url}");
    };
    format!("arn:aws:sqs:{region}:{account}:{name}")
}

/// Waits for a denial that `matches` and no test has marked yet.
fn wait_for_denial(what: &str, matches: impl Fn(&Denial) -> bool) -> Denial {
    let started = Instant::now();
    loop {
        let report = iam::denials(&endpoint()).expect("reading the denials");
        assert_eq!(
            report.enforcement,
            iam::Enforcement::Enforce,
            "IAM enforcement is off: these tests need it on"
        );
        if let Some(denial) = report
            .denials
            .into_iter()
            .find(|d| d.expected_by.is_none() && matches(d))
        {
            return denial;
        }
        assert!(
            started.elapsed() < DENIAL_DEADLINE,
            "no denial of {what} within {DENIAL_DEADLINE:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Puts a role's inline policy back as it was when dropped (also when the test fails).
struct RestorePolicy {
    role: String,
    name: String,
    document: String,
}

impl Drop for RestorePolicy {
    fn drop(&mut self) {
        let output = stock_aws(
            Caller::AccountRoot,
            &[
                "iam",
                "put-role-policy",
                "--role-name",
                &self.role,
                "--policy-name",
                &self.name,
                "--policy-document",
                &self.document,
            ],
        );
        if !output.status.success() {
            eprintln!(
                "could not restore {}'s policy {}: {}",
                self.role,
                self.name,
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn a_statement_removed_with_the_aws_cli_denies_inventory_s_next_dead_letter_send() {
    let stack = stack().await;
    let function = stack
        .outputs
        .get("InventoryFunctionName")
        .unwrap()
        .to_owned();
    let failure_queue = queue_arn(stack.outputs.get("InventoryFailureQueueUrl").unwrap());
    let role = role_of(&function);
    let policy_name = "inventory-least-privilege";

    // The role's policy as deployed, and the same without the statement that lets inventory
    // send to its own failure queue: put back with the stock CLI on the running stack.
    let current = aws_json(
        Caller::AccountRoot,
        &[
            "iam",
            "get-role-policy",
            "--role-name",
            &role,
            "--policy-name",
            policy_name,
        ],
    );
    let document = match &current["PolicyDocument"] {
        Value::String(text) => serde_json::from_str::<Value>(text).unwrap(),
        other => other.clone(),
    };
    let statements = document["Statement"].as_array().unwrap();
    assert!(
        statements.iter().any(|s| s["Sid"] == "OwnFailureQueue"),
        "the deployed policy has OwnFailureQueue: {document}"
    );
    let mut reduced = document.clone();
    reduced["Statement"] = Value::Array(
        statements
            .iter()
            .filter(|s| s["Sid"] != "OwnFailureQueue")
            .cloned()
            .collect(),
    );
    let _restore = RestorePolicy {
        role: role.clone(),
        name: policy_name.to_owned(),
        document: document.to_string(),
    };
    aws_json(
        Caller::AccountRoot,
        &[
            "iam",
            "put-role-policy",
            "--role-name",
            &role,
            "--policy-name",
            policy_name,
            "--policy-document",
            &reduced.to_string(),
        ],
    );

    // A poison event: inventory dead-letters it at once, to its failure queue.
    let (event, _correlation) = poison_event("order-placed-zero-quantity.json");
    stack.put_event(&event).await.unwrap();

    let denial = wait_for_denial("inventory's dead-letter send", |d| {
        d.function == function && d.action == "sqs:SendMessage"
    });
    assert_eq!(denial.resource, failure_queue, "{denial:?}");
    assert_eq!(denial.role_name(), role, "{denial:?}");
    assert_eq!(denial.decision, "ImplicitlyDenied", "{denial:?}");
    assert!(
        denial
            .message
            .contains("is not authorized to perform: sqs:SendMessage"),
        "AWS's wording: {}",
        denial.message
    );
    let allowing = denial
        .allowing_statement
        .as_ref()
        .expect("the statement that would allow it");
    assert_eq!(allowing["Action"], "sqs:SendMessage", "{allowing}");
    assert_eq!(allowing["Resource"], failure_queue.as_str(), "{allowing}");
    iam::mark_expected(
        &endpoint(),
        denial.id,
        "iam::a_statement_removed_with_the_aws_cli_denies_inventory_s_next_dead_letter_send",
    )
    .unwrap();

    // Lambda retries the failed invocation (the role is put back when this test ends): any
    // further denial of the same send during the retries is this test's too.
    drop(_restore);
    std::thread::sleep(Duration::from_secs(5));
    for other in iam::denials(&endpoint()).unwrap().denials {
        if other.expected_by.is_none()
            && other.function == function
            && other.resource == failure_queue
        {
            iam::mark_expected(
                &endpoint(),
                other.id,
                "iam::a_statement_removed_with_the_aws_cli_denies_inventory_s_next_dead_letter_send (retry)",
            )
            .unwrap();
        }
    }
}

/// Credentials of a session of `role` (LocalStack's STS; the caller is the account root).
fn assume(role_arn: &str, session: &str) -> Value {
    let answer = aws_json(
        Caller::AccountRoot,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            role_arn,
            "--role-session-name",
            session,
        ],
    );
    answer["Credentials"].clone()
}

/// `aws events put-events` of one entry, as the given caller.
fn put_entry(caller: Caller, bus: &str, source: &str, detail_type: &str, detail: &Value) -> Output {
    let entries = serde_json::json!([{
        "EventBusName": bus,
        "Source": source,
        "DetailType": detail_type,
        "Detail": detail.to_string(),
    }]);
    stock_aws(
        caller,
        &["events", "put-events", "--entries", &entries.to_string()],
    )
}

#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn an_untrusted_principal_cannot_forge_a_payment_and_the_payments_role_can() {
    let stack = stack().await;
    let bus = stack.outputs.bus_name().unwrap().to_owned();
    let bus_arn = stack.outputs.get("EventBusArn").unwrap().to_owned();
    let (event, _correlation) = fresh_sample("payment-captured.json");
    assert_eq!(event.source, "eventrail.payments");

    // A role of this account that its own policy lets put anything on the bus, but that is
    // neither a producing function's role nor a trusted publisher: the bus policy's
    // anti-forgery Deny stops it.
    let suffix = events::scenarios::new_order_id();
    let untrusted = format!("eventrail-test-untrusted-{suffix}");
    let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
        "Action": "sts:AssumeRole"}]});
    let created = aws_json(
        Caller::AccountRoot,
        &[
            "iam",
            "create-role",
            "--role-name",
            &untrusted,
            "--assume-role-policy-document",
            &trust.to_string(),
        ],
    );
    let untrusted_arn = created["Role"]["Arn"].as_str().unwrap().to_owned();
    let anything_on_the_bus = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "events:PutEvents", "Resource": bus_arn}]});
    aws_json(
        Caller::AccountRoot,
        &[
            "iam",
            "put-role-policy",
            "--role-name",
            &untrusted,
            "--policy-name",
            "put-anything",
            "--policy-document",
            &anything_on_the_bus.to_string(),
        ],
    );
    let credentials = assume(&untrusted_arn, "forger");
    let forged = put_entry(
        Caller::Session(&credentials),
        &bus,
        &event.source,
        &event.detail_type,
        &event.detail,
    );
    let stderr = String::from_utf8_lossy(&forged.stderr);
    assert!(
        !forged.status.success() && stderr.contains("AccessDenied"),
        "the forged PaymentCaptured was accepted: {}{stderr}",
        String::from_utf8_lossy(&forged.stdout)
    );
    let denial = wait_for_denial("the forged PaymentCaptured", |d| {
        d.role_arn == untrusted_arn && d.action == "events:PutEvents"
    });
    assert_eq!(denial.decision, "ExplicitlyDenied", "{denial:?}");
    assert_eq!(denial.resource, bus_arn, "{denial:?}");
    assert!(
        denial
            .deny_statements
            .iter()
            .any(|s| s["policy"] == "resource"),
        "denied by the bus policy: {denial:?}"
    );
    iam::mark_expected(
        &endpoint(),
        denial.id,
        "iam::an_untrusted_principal_cannot_forge_a_payment_and_the_payments_role_can",
    )
    .unwrap();

    // payments' own role may put it (its own source and detail-type).
    let payments_role = role_of(stack.outputs.get("PaymentsFunctionName").unwrap());
    let payments_arn = format!("arn:aws:iam::000000000000:role/{payments_role}");
    let credentials = assume(&payments_arn, "payments-test");
    let allowed = put_entry(
        Caller::Session(&credentials),
        &bus,
        &event.source,
        &event.detail_type,
        &event.detail,
    );
    assert!(
        allowed.status.success(),
        "payments' role was refused its own event: {}",
        String::from_utf8_lossy(&allowed.stderr)
    );
    let answer: Value = serde_json::from_slice(&allowed.stdout).unwrap();
    assert_eq!(answer["FailedEntryCount"], 0, "{answer}");

    stock_aws(
        Caller::AccountRoot,
        &[
            "iam",
            "delete-role-policy",
            "--role-name",
            &untrusted,
            "--policy-name",
            "put-anything",
        ],
    );
    stock_aws(
        Caller::AccountRoot,
        &["iam", "delete-role", "--role-name", &untrusted],
    );
}
