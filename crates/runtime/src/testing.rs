//! Testing a function's handler without AWS: run it dry on the catalog's samples, with the
//! function's declaration checked against the handler's event type; and the inputs the other
//! kinds get (an API Gateway request, an SQS batch, a scheduled invocation) to drive
//! [`crate::HttpEndpoint`], [`crate::QueueConsumer`], [`crate::BufferedConsumer`] and
//! [`crate::schedule::fire`] with.
//!
//! In a function crate's tests (a made-up `gift-wrap` that emits `GiftWrapped` for a gift order):
//!
//! ```ignore
//! #[tokio::test]
//! async fn a_gift_order_is_wrapped() {
//!     let function = eventrail_runtime::test_function!(handle);
//!     let emitted = function.emitted("gift-ordered.json").await;
//!     assert_eq!(emitted[0].detail_type, "GiftWrapped");
//! }
//! ```
//!
//! (Not a doctest: `test_function!` reads the calling function crate's declaration, which a
//! doctest's crate does not have.)
//!
//! [`TestFunction::new`] panics (this is test code) when the declaration cannot be read, when
//! it names an event the catalog does not have, or when the handler's event type accepts a
//! different set of catalog events than the declaration's `consumes`: the two cannot drift
//! apart silently.

use std::path::{Path, PathBuf};

use eventrail_contract::{CatalogIndex, Declaration, EmbeddedManifest, Event, Project};
use serde_json::Value;

use crate::consumer::{Consumer, ConsumerError, EmittedSummary, Outcome};
use crate::dead_letter::SqsDeadLetterQueue;
use crate::handler::Handler;
use crate::publisher::EventBridgePutEvents;

/// A handler wrapped as its function runs it, in dry-run mode: nothing is sent to AWS, the
/// outcome (emitted events, dead letters) is returned.
pub struct TestFunction<E, H> {
    consumer: Consumer<E, H, EventBridgePutEvents, SqsDeadLetterQueue>,
    samples: PathBuf,
}

/// A [`TestFunction`] for `handler`, with the calling crate's declaration.
#[macro_export]
macro_rules! test_function {
    ($handler:expr) => {
        $crate::testing::TestFunction::new(
            $handler,
            $crate::declaration!(),
            ::std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
        )
    };
}

/// Whether the declaration and the handler's event type `E` agree on which catalog events the
/// function consumes, and every declared event is in the catalog. The error lists each
/// disagreement.
pub fn check_declaration<E: Event>(
    name: &str,
    declaration: &Declaration,
    catalog: &CatalogIndex,
) -> Result<(), String> {
    let mut problems = Vec::new();
    let listed = declaration
        .consumes
        .iter()
        .chain(&declaration.emits)
        .filter(|t| *t != eventrail_contract::declaration::EVERY_EVENT);
    for detail_type in listed {
        if catalog.event(detail_type).is_none() {
            problems.push(format!(
                "declares `{detail_type}`, which is not in the catalog (known: {})",
                catalog.known()
            ));
        }
    }
    if declaration.is_consumer() {
        for event in &catalog.events {
            let declared = declaration.consumes_type(&event.detail_type);
            let accepted = E::accepts(&event.source, &event.detail_type);
            if declared && !accepted {
                problems.push(format!(
                    "declares it consumes {} but its handler's event type does not accept it",
                    event.detail_type
                ));
            } else if accepted && !declared {
                problems.push(format!(
                    "its handler's event type accepts {} but `consumes` does not list it",
                    event.detail_type
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "function `{name}`: the declaration ([package.metadata.eventrail]) and the handler \
             disagree:\n  {}",
            problems.join("\n  ")
        ))
    }
}

impl<E, H> TestFunction<E, H>
where
    E: Event,
    H: Handler<E>,
{
    /// Wraps `handler`; `manifest` is the function's declaration and `crate_dir` its folder
    /// (the project, its catalog and samples are found from there). Panics on a declaration
    /// that disagrees with the handler's event type.
    pub fn new(handler: H, manifest: EmbeddedManifest, crate_dir: &Path) -> Self {
        let declaration = manifest.declaration().unwrap_or_else(|e| panic!("{e}"));
        let project = Project::discover(crate_dir).unwrap_or_else(|e| panic!("{e}"));
        let catalog = project.catalog().unwrap_or_else(|e| panic!("{e}"));
        if let Err(problem) = check_declaration::<E>(manifest.package, &declaration, &catalog) {
            panic!("{problem}");
        }
        Self {
            consumer: Consumer::new(handler, None, None, manifest.package)
                .with_declared_emits(declaration.emits),
            samples: project.samples_dir(),
        }
    }

    /// A sample envelope, by its path under the samples folder (`task-created.json`,
    /// `poison/task-created-invalid.json`).
    pub fn sample(&self, name: &str) -> Value {
        let path = self.samples.join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("sample {}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("sample {}: {e}", path.display()))
    }

    /// Names of the samples (top level of the samples folder), sorted.
    pub fn sample_names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.samples)
            .unwrap_or_else(|e| panic!("{}: {e}", self.samples.display()))
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                name.ends_with(".json").then_some(name)
            })
            .collect();
        names.sort();
        names
    }

    /// Runs the handler on a raw event, dry.
    pub async fn run(&self, raw: Value) -> Result<Outcome, ConsumerError> {
        self.consumer.process(raw).await
    }

    /// Runs the handler on a sample, dry.
    pub async fn run_sample(&self, name: &str) -> Result<Outcome, ConsumerError> {
        self.run(self.sample(name)).await
    }

    /// What the handler emits for a sample; panics unless the sample was handled.
    pub async fn emitted(&self, name: &str) -> Vec<EmittedSummary> {
        match self.run_sample(name).await {
            Ok(Outcome::Handled { emitted, .. }) => emitted,
            other => panic!("{name}: not handled: {other:?}"),
        }
    }

    /// The side effects the handler reports for a sample; panics unless it was handled.
    pub async fn effects(&self, name: &str) -> Vec<Value> {
        match self.run_sample(name).await {
            Ok(Outcome::Handled { effects, .. }) => effects,
            other => panic!("{name}: not handled: {other:?}"),
        }
    }

    /// The poison reason for a sample; panics unless it was dead-lettered.
    pub async fn dead_letter_reason(&self, name: &str) -> String {
        match self.run_sample(name).await {
            Ok(Outcome::DeadLettered { reason, .. }) => reason,
            other => panic!("{name}: not dead-lettered: {other:?}"),
        }
    }
}

/// The calling crate's declaration (panics when it cannot be read: this is test code).
pub fn declaration_of(manifest: EmbeddedManifest) -> Declaration {
    manifest.declaration().unwrap_or_else(|e| panic!("{e}"))
}

/// An HTTP function's [`crate::HttpEndpoint`] for `handler`, with the calling crate's
/// declaration, dry (nothing published): drive it with [`api_gateway_request`].
///
/// ```ignore
/// let endpoint = eventrail_runtime::test_http_endpoint!(handle);
/// let response = endpoint.invoke(api_gateway_request("POST", "/intake", Some(&body)), "t", None).await?;
/// assert_eq!(response["statusCode"], 202);
/// ```
#[macro_export]
macro_rules! test_http_endpoint {
    ($handler:expr) => {
        $crate::HttpEndpoint::new(
            $handler,
            &$crate::testing::declaration_of($crate::declaration!()),
            env!("CARGO_PKG_NAME"),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    };
}

/// An API Gateway REST API (v1) proxy event as API Gateway sends it: `method` on `path`,
/// with `body` as JSON (`Content-Type: application/json`), request id `test-request`.
pub fn api_gateway_request(method: &str, path: &str, body: Option<&Value>) -> Value {
    serde_json::json!({
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": { "Content-Type": "application/json" },
        "multiValueHeaders": { "Content-Type": ["application/json"] },
        "queryStringParameters": null,
        "multiValueQueryStringParameters": null,
        "pathParameters": null,
        "stageVariables": null,
        "requestContext": {
            "accountId": "000000000000",
            "resourceId": "test",
            "stage": "test",
            "requestId": "test-request",
            "resourcePath": path,
            "httpMethod": method,
            "path": path,
            "identity": {}
        },
        "body": body.map(Value::to_string),
        "isBase64Encoded": false
    })
}

/// The status and the decoded JSON body of a proxy response ([`crate::HttpEndpoint::invoke`]'s
/// answer); panics when it is not one.
pub fn http_answer(response: &Value) -> (u16, Value) {
    let status = response["statusCode"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .unwrap_or_else(|| panic!("not a proxy response: {response}"));
    let body = response["body"]
        .as_str()
        .map(|text| serde_json::from_str(text).unwrap_or_else(|e| panic!("body: {e}")))
        .unwrap_or(Value::Null);
    (status, body)
}

/// An SQS record with `body`, message id `message_id`, on its `receive_count`-th receive.
pub fn sqs_record(message_id: &str, body: &str, receive_count: u32) -> Value {
    serde_json::json!({
        "messageId": message_id,
        "receiptHandle": format!("receipt-{message_id}"),
        "body": body,
        "attributes": { crate::batch::RECEIVE_COUNT_ATTRIBUTE: receive_count.to_string() },
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:test",
        "awsRegion": "us-east-1"
    })
}

/// An SQS batch of `records` ([`sqs_record`]).
pub fn sqs_batch(records: Vec<Value>) -> aws_lambda_events::sqs::SqsEvent {
    serde_json::from_value(serde_json::json!({ "Records": records }))
        .unwrap_or_else(|e| panic!("not an SQS batch: {e}"))
}

/// What EventBridge Scheduler hands a scheduled function for a firing at `scheduled_time`
/// (RFC 3339), first attempt.
pub fn scheduled_invocation(scheduled_time: &str) -> Value {
    serde_json::json!({
        "scheduledTime": scheduled_time,
        "executionId": "test-execution",
        "scheduleArn": "arn:aws:scheduler:us-east-1:000000000000:schedule/default/test",
        "attempt": "1"
    })
}

/// A sample by its path under the project's samples folder (`commands/create-task.json`),
/// found from the crate's folder `crate_dir`.
pub fn project_sample(crate_dir: &Path, name: &str) -> Value {
    let project = Project::discover(crate_dir).unwrap_or_else(|e| panic!("{e}"));
    let path = project.samples_dir().join(name);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("sample {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("sample {}: {e}", path.display()))
}
