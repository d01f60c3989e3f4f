//! LocalStack 4.13.1 parity for issue 26, on a small stack of the tests' own
//! (`tests/fixtures/parity/template.yaml`, deployed through `eventrail_local`'s CloudFormation
//! deployment on the LocalStack `cargo xtask test` runs, beside the main stack):
//!
//! * an EventBridge Scheduler schedule (`AWS::Scheduler::Schedule`, what SAM's `ScheduleV2`
//!   creates) fires by itself, through its execution role, with Scheduler's context attributes
//!   in its input (LocalStack stores schedules and never fires them; the executor plugin's
//!   `eventrail_scheduler.py` hook fires them);
//! * an SQS event source mapping with `ScalingConfig.MaximumConcurrency` 2 fed 20 slow
//!   messages runs exactly two invocations at once at its peak (LocalStack runs one at a time
//!   and ignores the cap; the plugin's `eventrail_concurrency.py` hook runs up to the cap and
//!   counts each function's peak, read with `eventrail_local::concurrency`).
//!
//! Both functions run `tests/fixtures/parity/bootstrap.py` (a Python custom runtime, zipped as
//! `bootstrap`). Nothing asserts on time; the waits have generous deadlines.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use eventrail_local::clients::Clients;
use eventrail_local::concurrency::{Concurrency, concurrency};
use eventrail_local::stack::{StackDeployment, TemplateSource, capabilities};
use eventrail_local::{Progress, zips};
use eventrail_tests::{AwsCaller, function_log_lines, stock_aws};
use serde_json::Value;

/// Long enough for a stack, a schedule's first period (one minute) and a loaded 2-core
/// machine; nothing asserts on time.
const DEADLINE: Duration = Duration::from_secs(240);

fn endpoint() -> String {
    std::env::var("EVENTRAIL_ENDPOINT").expect("EVENTRAIL_ENDPOINT: run `cargo xtask test`")
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/parity")
        .join(name)
}

/// The parity stack, deleted (with its code bucket left behind: LocalStack's S3 is scratch)
/// when the test ends.
struct ParityStack {
    name: String,
    clients: Clients,
    outputs: BTreeMap<String, String>,
}

impl ParityStack {
    /// Uploads the runtime and creates (or updates) the stack `parity-<label>-<pid>` with
    /// `parameters` on top of the template's defaults.
    async fn deploy(label: &str, parameters: &[(&str, &str)]) -> Self {
        let name = format!("parity-{label}-{}", std::process::id());
        let region = eventrail_observe::aws::region_or_default(None);
        let clients = Clients::new(&endpoint(), &region).await;
        let zip = std::env::temp_dir().join(format!("eventrail-{name}/bootstrap.zip"));
        zips::zip_bootstrap(&fixture("bootstrap.py"), &zip).expect("zipping the parity runtime");
        let bucket = format!("{name}-code");
        let s3 = clients.s3();
        s3.create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("creating the code bucket");
        let bytes = std::fs::read(&zip).expect("reading the zip");
        s3.put_object()
            .bucket(&bucket)
            .key("bootstrap.zip")
            .body(bytes.into())
            .send()
            .await
            .expect("uploading the runtime");
        let this = Self {
            name,
            clients,
            outputs: BTreeMap::new(),
        };
        this.apply(
            [
                ("CodeBucket", bucket.as_str()),
                ("CodeKey", "bootstrap.zip"),
            ]
            .into_iter()
            .chain(parameters.iter().copied()),
        )
        .await
    }

    /// Creates or updates the stack with `parameters`; returns it with its outputs.
    async fn apply<'a>(mut self, parameters: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let template =
            std::fs::read_to_string(fixture("template.yaml")).expect("reading the template");
        let parameters: BTreeMap<String, String> = parameters
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let deployment = StackDeployment::new(&self.clients, &self.name, Progress::Quiet);
        let applied = deployment
            .create_or_update(
                &TemplateSource::Body(template),
                &parameters,
                &capabilities(&[]),
                DEADLINE,
            )
            .await
            .unwrap_or_else(|e| panic!("deploying {}: {e}", self.name));
        assert!(
            applied.status.ends_with("_COMPLETE") && !applied.status.contains("ROLLBACK"),
            "{}: {}",
            self.name,
            applied.status
        );
        self.outputs = deployment.outputs().await.expect("reading the outputs");
        self
    }

    /// Updates the stack, keeping the code parameters.
    async fn update(self, parameters: &[(&str, &str)]) -> Self {
        let bucket = format!("{}-code", self.name);
        let code = [
            ("CodeBucket", bucket.as_str()),
            ("CodeKey", "bootstrap.zip"),
        ];
        let all: Vec<(String, String)> = code
            .iter()
            .chain(parameters.iter())
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.apply(all.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .await
    }

    fn output(&self, key: &str) -> &str {
        self.outputs
            .get(key)
            .unwrap_or_else(|| panic!("{}: no output {key} in {:?}", self.name, self.outputs))
    }

    async fn delete(self) {
        let _ = self
            .clients
            .cloudformation()
            .delete_stack()
            .stack_name(&self.name)
            .send()
            .await;
    }
}

/// The events a function printed (`parity-event <json>` lines of its log), waiting for the
/// first up to `deadline`.
async fn logged_events(function: &str, deadline: Duration) -> Vec<Value> {
    function_log_lines(
        &endpoint(),
        &format!("/aws/lambda/{function}"),
        "parity-event ",
        deadline,
    )
    .await
    .iter()
    .filter_map(|line| line.split_once("parity-event ").map(|(_, json)| json))
    .map(|json| {
        serde_json::from_str(json.trim())
            .unwrap_or_else(|e| panic!("{function} logged an event that is not JSON ({e}): {json}"))
    })
    .collect()
}

#[tokio::test]
#[ignore = "needs LocalStack: run with `cargo xtask test`"]
async fn a_schedule_created_disabled_then_enabled_by_cloudformation_fires_by_itself_with_its_context()
 {
    // Created DISABLED: nothing may fire until the stack update enables it (the update goes
    // through UpdateSchedule, which LocalStack's CloudFormation provider lacks).
    let stack = ParityStack::deploy("schedule", &[("ScheduleState", "DISABLED")]).await;
    let stack = stack
        .update(&[
            ("ScheduleState", "ENABLED"),
            ("ScheduleExpression", "rate(1 minute)"),
        ])
        .await;
    let function = stack.output("ScheduledFunctionName").to_owned();
    let schedule_arn = stack.output("ScheduleArn").to_owned();

    let events = logged_events(&function, DEADLINE).await;
    let event = events
        .first()
        .unwrap_or_else(|| panic!("{schedule_arn} did not fire within {DEADLINE:?}"));
    assert_eq!(event["scheduleArn"], schedule_arn, "{event}");
    assert_eq!(event["attempt"], "1", "{event}");
    let scheduled = event["scheduledTime"].as_str().unwrap_or_default();
    assert!(
        chrono::DateTime::parse_from_rfc3339(scheduled).is_ok() && scheduled.ends_with('Z'),
        "scheduledTime is not ISO 8601 UTC: {event}"
    );
    assert_eq!(
        event["executionId"].as_str().map(str::len),
        Some(36),
        "executionId is not an id: {event}"
    );
    stack.delete().await;
}

/// Waits until `function` ran `count` invocations and none runs; returns its figures.
async fn settled(function: &str, count: u64) -> Concurrency {
    let started = Instant::now();
    loop {
        let figures = concurrency(&endpoint(), function)
            .expect("reading the concurrency figures")
            .function(function)
            .unwrap_or_default();
        if figures.invocations >= count && figures.in_flight == 0 {
            return figures;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "{function}: {figures:?} after {DEADLINE:?}, expected {count} invocations"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
#[ignore = "needs LocalStack: run with `cargo xtask test`"]
async fn an_sqs_mapping_capped_at_two_runs_exactly_two_slow_invocations_at_its_peak() {
    let stack = ParityStack::deploy("capped", &[("ScheduleState", "DISABLED")]).await;
    let function = stack.output("ConsumerFunctionName").to_owned();
    let queue = stack.output("SourceQueueUrl").to_owned();
    for batch in 0..2 {
        let entries: Vec<Value> = (0..10)
            .map(|i| serde_json::json!({"Id": format!("m{i}"), "MessageBody": format!("{{\"n\": {}}}", batch * 10 + i)}))
            .collect();
        let entries = serde_json::to_string(&entries).expect("entries as JSON");
        let sent = stock_aws(
            AwsCaller::AccountRoot,
            &[
                "sqs",
                "send-message-batch",
                "--queue-url",
                &queue,
                "--entries",
                &entries,
            ],
        );
        assert!(
            sent.status.success(),
            "sending to {queue}: {}",
            String::from_utf8_lossy(&sent.stderr)
        );
    }
    // Batch size 1: one invocation per message, each 2 s long.
    let figures = settled(&function, 20).await;
    assert_eq!(
        figures.peak, 2,
        "{function} ran {} invocations at once with MaximumConcurrency 2: {figures:?}",
        figures.peak
    );
    stack.delete().await;
}
