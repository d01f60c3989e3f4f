//! Redeploying a stack: an update of a deployed stack of the shapes issue 26 added to the
//! shop's template (`tests/fixtures/redeploy/template.yaml`, on a stack of the test's own,
//! deployed through `eventrail_local`'s CloudFormation deployment on the LocalStack
//! `cargo xtask test` runs, beside the main stack).
//!
//! The shop's scheduled function names its schedule's role and the role's policy names the
//! function; only the SAM transform untangles that. LocalStack 4.13.1 models an update's
//! untransformed template and followed those references forever: UpdateStack answered 500
//! "maximum recursion depth exceeded", so a second `eventrail local deploy` (or `demo --keep`)
//! failed. The ready hook `infra/localstack-init/ready.d/eventrail_cfn_cycles.py` fixes it.
//!
//! A function with a gradual rollout (`tests/fixtures/rollout/template.yaml`, the shape
//! crates/generate writes for `rollout = "..."`) publishes a new version on each deploy with new
//! code and moves its alias there; LocalStack 4.13.1 replaced the alias instead, which failed
//! ("Alias already exists") and the rollback deleted it. The ready hook
//! `infra/localstack-init/ready.d/eventrail_cfn_alias_update.py` fixes it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use eventrail_local::clients::Clients;
use eventrail_local::stack::{StackDeployment, TemplateSource, capabilities};
use eventrail_local::{Progress, zips};
use eventrail_tests::{AwsCaller, stock_aws};
use serde_json::Value;

/// Long enough for a small stack on a loaded 2-core machine; nothing asserts on time.
const DEADLINE: Duration = Duration::from_secs(240);

fn endpoint() -> String {
    std::env::var("EVENTRAIL_ENDPOINT").expect("EVENTRAIL_ENDPOINT: run `cargo xtask test`")
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Creates or updates `stack` from the fixture with `parameters`; returns the final status.
async fn apply(clients: &Clients, stack: &str, parameters: &BTreeMap<String, String>) -> String {
    let template = std::fs::read_to_string(fixtures().join("redeploy/template.yaml"))
        .expect("reading the template");
    StackDeployment::new(clients, stack, Progress::Quiet)
        .create_or_update(
            &TemplateSource::Body(template),
            parameters,
            &capabilities(&[]),
            DEADLINE,
        )
        .await
        .unwrap_or_else(|e| panic!("deploying {stack}: {e}"))
        .status
}

fn aws_json(args: &[&str]) -> Value {
    let output = stock_aws(AwsCaller::AccountRoot, args);
    assert!(
        output.status.success(),
        "aws {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("aws {} answered no JSON: {e}", args.join(" ")))
}

#[tokio::test]
#[ignore = "needs LocalStack: run with `cargo xtask test`"]
async fn a_deployed_stack_with_a_rest_api_a_schedule_run_by_its_own_role_and_a_buffer_queue_is_updated()
 {
    let stack = format!("redeploy-{}", std::process::id());
    let region = eventrail_observe::aws::region_or_default(None);
    let clients = Clients::new(&endpoint(), &region).await;
    let zip = std::env::temp_dir().join(format!("eventrail-{stack}/bootstrap.zip"));
    zips::zip_bootstrap(&fixtures().join("parity/bootstrap.py"), &zip)
        .expect("zipping the runtime");
    let bucket = format!("{stack}-code");
    let s3 = clients.s3();
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("creating the code bucket");
    s3.put_object()
        .bucket(&bucket)
        .key("bootstrap.zip")
        .body(std::fs::read(&zip).expect("reading the zip").into())
        .send()
        .await
        .expect("uploading the runtime");
    let mut parameters = BTreeMap::from([
        ("CodeBucket".to_owned(), bucket.clone()),
        ("CodeKey".to_owned(), "bootstrap.zip".to_owned()),
        ("Generation".to_owned(), "1".to_owned()),
    ]);

    let created = apply(&clients, &stack, &parameters).await;
    assert_eq!(created, "CREATE_COMPLETE", "{stack}");

    parameters.insert("Generation".to_owned(), "2".to_owned());
    let updated = apply(&clients, &stack, &parameters).await;
    let worker = format!("{stack}-worker");
    let configuration = aws_json(&[
        "lambda",
        "get-function-configuration",
        "--function-name",
        &worker,
    ]);
    let schedules = aws_json(&["scheduler", "list-schedules"]);
    let _ = clients
        .cloudformation()
        .delete_stack()
        .stack_name(&stack)
        .send()
        .await;

    assert_eq!(updated, "UPDATE_COMPLETE", "{stack}");
    assert_eq!(
        configuration["Environment"]["Variables"]["GENERATION"],
        Value::from("2"),
        "the update reached the function: {configuration}"
    );
    let worker_arn = configuration["FunctionArn"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let targets: Vec<&str> = schedules["Schedules"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(|s| s["Target"]["Arn"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        targets.contains(&worker_arn.as_str()),
        "the worker's schedule survived the update: {worker_arn} not among {targets:?}"
    );
}

// ------------------------------------------------------------------ a function with a rollout

/// The stack's code, as the redeploy test uploads it: the fixture runtime, zipped under `key`
/// with `generation` appended (so each generation is new code, and a new version).
async fn upload_code(clients: &Clients, bucket: &str, key: &str, generation: u32) {
    let dir = std::env::temp_dir().join(format!(
        "eventrail-rollout-{}-{generation}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let source = fixtures().join("parity/bootstrap.py");
    let runtime = dir.join("bootstrap");
    let text = std::fs::read_to_string(&source).unwrap();
    std::fs::write(&runtime, format!("{text}\n# generation {generation}\n")).unwrap();
    let zip = dir.join("bootstrap.zip");
    zips::zip_bootstrap(&runtime, &zip).expect("zipping the runtime");
    clients
        .s3()
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(std::fs::read(&zip).unwrap().into())
        .send()
        .await
        .expect("uploading the runtime");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A function with a rollout deploys on LocalStack (no CodeDeploy: `GradualRollout=false`),
/// its rule, mapping and schedule invoke its alias, and a redeploy with new code moves the
/// alias to the new version (LocalStack 4.13.1 replaced the alias and failed, see
/// `ready.d/eventrail_cfn_alias_update.py`).
#[tokio::test]
#[ignore = "needs LocalStack: run with `cargo xtask test`"]
async fn a_function_with_a_rollout_deploys_and_its_alias_moves_on_a_redeploy() {
    let stack = format!("rollout-{}", std::process::id());
    let region = eventrail_observe::aws::region_or_default(None);
    let clients = Clients::new(&endpoint(), &region).await;
    let bucket = format!("{stack}-code");
    clients
        .s3()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("creating the code bucket");
    let template = std::fs::read_to_string(fixtures().join("rollout/template.yaml")).unwrap();
    let deploy = |generation: u32| {
        let clients = &clients;
        let stack = &stack;
        let template = template.clone();
        let parameters = BTreeMap::from([
            ("CodeBucket".to_owned(), bucket.clone()),
            ("CodeKey".to_owned(), format!("generation-{generation}.zip")),
            ("GradualRollout".to_owned(), "false".to_owned()),
        ]);
        async move {
            StackDeployment::new(clients, stack, Progress::Quiet)
                .create_or_update(
                    &TemplateSource::Body(template),
                    &parameters,
                    &capabilities(&[]),
                    std::time::Duration::from_secs(240),
                )
                .await
                .unwrap_or_else(|e| panic!("deploying {stack}: {e}"))
                .status
        }
    };
    upload_code(&clients, &bucket, "generation-1.zip", 1).await;
    let created = deploy(1).await;
    upload_code(&clients, &bucket, "generation-2.zip", 2).await;
    let updated = deploy(2).await;
    let worker = format!("{stack}-worker");
    let alias = aws_json(&[
        "lambda",
        "get-alias",
        "--function-name",
        &worker,
        "--name",
        "live",
    ]);
    let resources = aws_json(&[
        "cloudformation",
        "describe-stack-resources",
        "--stack-name",
        &stack,
    ]);
    let rules = aws_json(&[
        "events",
        "list-rules",
        "--event-bus-name",
        &format!("{stack}-bus"),
    ]);
    let rule = rules["Rules"][0]["Name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let targets = aws_json(&[
        "events",
        "list-targets-by-rule",
        "--rule",
        &rule,
        "--event-bus-name",
        &format!("{stack}-bus"),
    ]);
    let mappings = aws_json(&[
        "lambda",
        "list-event-source-mappings",
        "--function-name",
        &worker,
    ]);
    let schedule = aws_json(&["scheduler", "get-schedule", "--name", &worker]);
    let _ = clients
        .cloudformation()
        .delete_stack()
        .stack_name(&stack)
        .send()
        .await;

    assert_eq!(created, "CREATE_COMPLETE", "{stack}");
    assert_eq!(updated, "UPDATE_COMPLETE", "{stack}");
    assert_eq!(
        alias["FunctionVersion"],
        serde_json::json!("2"),
        "the alias moved to the new version: {alias}"
    );
    let types: Vec<&str> = resources["StackResources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["ResourceType"].as_str())
        .collect();
    assert!(
        types.iter().all(|t| !t.starts_with("AWS::CodeDeploy::")),
        "GradualRollout=false creates no CodeDeploy resource: {types:?}"
    );
    let alias_arn = alias["AliasArn"].as_str().unwrap_or_default();
    assert!(alias_arn.ends_with(":live"), "{alias}");
    assert_eq!(
        targets["Targets"][0]["Arn"],
        serde_json::json!(alias_arn),
        "the rule invokes the alias: {targets}"
    );
    assert_eq!(
        mappings["EventSourceMappings"][0]["FunctionArn"],
        serde_json::json!(alias_arn),
        "the queue's mapping invokes the alias: {mappings}"
    );
    assert_eq!(
        schedule["Target"]["Arn"],
        serde_json::json!(alias_arn),
        "the schedule invokes the alias: {schedule}"
    );
}
