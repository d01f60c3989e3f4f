//! `eventrail deploy` as a person runs it. On screen: `--env local` on a
//! pseudo-terminal (util-linux `script`), its output replayed through a terminal emulator
//! (`vt100`) so that the lines counted are the ones the final screen shows, progress bars
//! drawn over themselves included; a bad resource named at the end; a prod deploy's
//! parameters; a breaking event change refused. Each test deploys to a stack of its own on the
//! LocalStack `cargo xtask test` runs.

use std::path::{Path, PathBuf};
use std::process::Command;

use eventrail_tests::{eventrail_binary, repo};

/// The most lines a full stack's deploy may leave on the screen (issue 29).
const SCREEN_BUDGET: usize = 30;

fn endpoint() -> String {
    std::env::var("EVENTRAIL_ENDPOINT").expect("EVENTRAIL_ENDPOINT: run `cargo xtask test`")
}

fn scratch(name: &str) -> PathBuf {
    let dir = eventrail_tests::target_dir()
        .join("deploy-screen")
        .join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("creating the scratch folder");
    dir
}

/// Runs `eventrail <args>` on a 120x50 pseudo-terminal; returns whether it succeeded and the
/// screen it leaves (every line it printed, as a terminal shows them at the end).
fn on_a_terminal(args: &[&str], dir: &Path) -> (bool, Vec<String>) {
    let typescript = dir.join("typescript");
    let mut line = format!(
        "stty cols 120 rows 50; exec {}",
        eventrail_binary().display()
    );
    for arg in args {
        line.push(' ');
        line.push_str(&shell_quoted(arg));
    }
    let status = Command::new("script")
        .args(["--quiet", "--return", "--command", &line])
        .arg(&typescript)
        .current_dir(repo())
        .env("EVENTRAIL_ENDPOINT", endpoint())
        .env("TERM", "xterm-256color")
        .stdin(std::process::Stdio::null())
        .status()
        .expect("running script(1) (util-linux)");
    let mut bytes = std::fs::read(&typescript).expect("reading the typescript");
    // script(1)'s own first and last lines ("Script started ...", "Script done ...").
    if bytes.starts_with(b"Script started")
        && let Some(end) = bytes.iter().position(|b| *b == b'\n')
    {
        bytes.drain(..=end);
    }
    if let Some(done) = find(&bytes, b"\nScript done") {
        bytes.truncate(done + 1);
    }
    // Tall enough that nothing scrolls away: every line printed stays countable.
    let mut parser = vt100::Parser::new(2000, 120, 0);
    parser.process(&bytes);
    let screen: Vec<String> = parser
        .screen()
        .rows(0, 120)
        .map(|row| row.trim_end().to_owned())
        .collect();
    let last = screen
        .iter()
        .rposition(|row| !row.is_empty())
        .map_or(0, |i| i + 1);
    // Cargo waits for its locks while the suite's other tests run cargo too; a person's deploy
    // has no such neighbours, so those lines are not the deploy's own.
    let own: Vec<String> = screen[..last]
        .iter()
        .filter(|row| {
            !row.trim_start()
                .starts_with("Blocking waiting for file lock")
        })
        .cloned()
        .collect();
    (status.success(), own)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

fn shell_quoted(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', "'\\''"))
}

fn delete_stack(stack: &str) {
    let _ = eventrail_tests::stock_aws(
        eventrail_tests::AwsCaller::AccountRoot,
        &["cloudformation", "delete-stack", "--stack-name", stack],
    );
}

#[test]
#[ignore = "needs LocalStack: run `cargo xtask test`"]
fn a_full_stack_deploy_fits_one_screen_and_ends_with_its_summary() {
    let stack = format!("eventrail-screen-{}", std::process::id());
    let dir = scratch("full");
    let bus = format!("BusName={stack}");
    let (ok, screen) = on_a_terminal(
        &[
            "deploy",
            "--env",
            "local",
            "--stack",
            &stack,
            "--yes",
            "--parameter-overrides",
            &bus,
        ],
        &dir,
    );
    delete_stack(&stack);
    let shown = screen.join("\n");
    assert!(ok, "the deploy failed:\n{shown}");
    assert!(
        screen.len() <= SCREEN_BUDGET,
        "a full stack's deploy left {} lines on the screen (budget {SCREEN_BUDGET}):\n{shown}",
        screen.len()
    );
    assert!(
        shown.contains(&stack) && shown.contains("functions ("),
        "the summary (stack, functions) is not on the screen:\n{shown}"
    );
    assert!(
        shown.contains("to add"),
        "the changeset's summary is not on the screen:\n{shown}"
    );
}

#[test]
#[ignore = "needs LocalStack: run `cargo xtask test`"]
fn a_bad_resource_is_named_with_its_reason_in_the_last_lines() {
    let stack = format!("eventrail-badmemory-{}", std::process::id());
    let dir = scratch("bad");
    // A scratch copy of the real template with one function's memory out of Lambda's range
    // (128 to 10240 MB).
    let template = std::fs::read_to_string(repo().join("infra/template.yaml"))
        .expect("reading infra/template.yaml");
    let (planted, function) = plant_bad_memory(&template);
    let copy = dir.join("template.yaml");
    std::fs::write(&copy, planted).expect("writing the scratch template");
    let bus = format!("BusName={stack}");
    let output = Command::new(eventrail_binary())
        .current_dir(repo())
        .env("EVENTRAIL_ENDPOINT", endpoint())
        .args(["deploy", "--env", "local", "--stack", &stack, "--yes"])
        .arg("--template-file")
        .arg(&copy)
        .args(["--parameter-overrides", &bus])
        .output()
        .expect("running eventrail deploy");
    delete_stack(&stack);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "the bad deploy succeeded:\n{stderr}"
    );
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let last = lines[lines.len().saturating_sub(6)..].join("\n");
    assert!(
        last.contains(&function),
        "the last lines do not name the bad resource {function}:\n{last}\n--- all:\n{stderr}"
    );
    assert!(
        last.to_lowercase().contains("memory"),
        "the last lines do not give the reason (memory size):\n{last}\n--- all:\n{stderr}"
    );
}

/// The template with `MemorySize: 1` on its first function; returns it and the function's
/// logical id.
fn plant_bad_memory(template: &str) -> (String, String) {
    let lines: Vec<&str> = template.lines().collect();
    let function_at = lines
        .iter()
        .position(|l| l.trim() == "Type: AWS::Serverless::Function")
        .expect("the template has a function");
    let id = lines[..function_at]
        .iter()
        .rev()
        .find(|l| l.starts_with("  ") && !l.starts_with("   ") && l.trim_end().ends_with(':'))
        .map(|l| l.trim().trim_end_matches(':').to_owned())
        .expect("the function's logical id");
    let properties_at = lines[function_at..]
        .iter()
        .position(|l| l.trim() == "Properties:")
        .map(|i| function_at + i)
        .expect("the function's Properties");
    let indent = lines[properties_at + 1].len() - lines[properties_at + 1].trim_start().len();
    let mut out: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    out.insert(
        properties_at + 1,
        format!("{}MemorySize: 1", " ".repeat(indent)),
    );
    (out.join("\n") + "\n", id)
}

/// The project's template reduced to its `Parameters` and one queue that shows two of them:
/// what a prod deploy's parameters are, without building functions for it.
fn parameters_only_template() -> String {
    let template = std::fs::read_to_string(repo().join("infra/template.yaml"))
        .expect("reading infra/template.yaml");
    let mut parameters = Vec::new();
    let mut inside = false;
    for line in template.lines() {
        let top_level = line.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
        if top_level {
            inside = line.trim_end() == "Parameters:";
        }
        if inside {
            parameters.push(line);
        }
    }
    assert!(
        !parameters.is_empty(),
        "infra/template.yaml has no Parameters"
    );
    format!(
        "AWSTemplateFormatVersion: \"2010-09-09\"\n{}\nResources:\n  Probe:\n    Type: AWS::SQS::Queue\n    Properties:\n      Tags:\n        - Key: stage\n          Value: !Ref Stage\n        - Key: bus\n          Value: !Ref BusName\n",
        parameters.join("\n")
    )
}

#[test]
#[ignore = "needs LocalStack: run `cargo xtask test`"]
fn a_prod_deploy_keeps_samconfigs_values_beside_the_operators() {
    // aws-sam-cli #2380: `sam deploy --config-env prod --parameter-overrides A=...` drops the
    // environment's own overrides (Stage=prod, ...). eventrail's deploy lays the operator's
    // values over samconfig's, key by key; the stock AWS CLI reads what the stack got.
    let stack = format!("eventrail-prodparams-{}", std::process::id());
    let dir = scratch("prod");
    let copy = dir.join("template.yaml");
    std::fs::write(&copy, parameters_only_template()).expect("writing the scratch template");
    let topic = "arn:aws:sns:us-east-1:000000000000:oncall";
    let trusted = "arn:aws:iam::000000000000:role/operators";
    let alarm = format!("AlarmTopicArn={topic}");
    let publishers = format!("TrustedPublisherArns={trusted}");
    let output = Command::new(eventrail_binary())
        .current_dir(repo())
        .env("EVENTRAIL_ENDPOINT", endpoint())
        .args(["deploy", "--env", "prod", "--stack", &stack, "--yes"])
        .arg("--template-file")
        .arg(&copy)
        .args(["--parameter-overrides", &alarm, &publishers])
        .output()
        .expect("running eventrail deploy");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let described = eventrail_tests::stock_aws(
        eventrail_tests::AwsCaller::AccountRoot,
        &["cloudformation", "describe-stacks", "--stack-name", &stack],
    );
    delete_stack(&stack);
    assert!(
        output.status.success(),
        "the prod deploy failed:\n{stdout}\n{stderr}"
    );
    let described: serde_json::Value =
        serde_json::from_slice(&described.stdout).expect("describe-stacks answered JSON");
    let parameters: std::collections::BTreeMap<String, String> =
        described["Stacks"][0]["Parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| {
                Some((
                    p["ParameterKey"].as_str()?.to_owned(),
                    p["ParameterValue"].as_str()?.to_owned(),
                ))
            })
            .collect();
    let samconfig = eventrail_model::SamConfig::load(repo().join("samconfig.toml"))
        .and_then(|c| c.environment("prod"))
        .expect("samconfig.toml's prod environment");
    assert_eq!(parameters.get("Stage").map(String::as_str), Some("prod"));
    for (key, value) in &samconfig.parameter_overrides {
        assert_eq!(
            parameters.get(key),
            Some(value),
            "{key}: samconfig's prod value was not kept beside the operator's; the stack has {parameters:?}"
        );
    }
    assert_eq!(
        parameters.get("AlarmTopicArn").map(String::as_str),
        Some(topic)
    );
    assert_eq!(
        parameters.get("TrustedPublisherArns").map(String::as_str),
        Some(trusted)
    );
    // The review before it said where each value came from.
    assert!(
        stdout.contains(&format!("AlarmTopicArn={topic} (operator)")),
        "the parameters were not shown with their source:\n{stdout}"
    );
}

/// Makes the first catalog event's payload require a new field in the project at `root` (an
/// archived event, replayed, lacks it: breaking); returns the event's detail-type.
fn require_a_new_field(root: &Path) -> String {
    let index: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("events/catalog.json")).expect("reading the catalog"),
    )
    .expect("the catalog index is JSON");
    let event = &index["events"][0];
    let detail_type = event["detail-type"]
        .as_str()
        .expect("a detail-type")
        .to_owned();
    let path = root
        .join("events")
        .join(event["schema"].as_str().expect("a schema path"));
    let mut schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("reading the schema"))
            .expect("the schema is JSON");
    let payload = schema["$defs"]
        .as_object_mut()
        .expect("the schema has $defs")
        .iter_mut()
        .find(|(name, def)| *name != "Metadata" && def.get("required").is_some())
        .map(|(_, def)| def)
        .expect("a payload definition with required fields");
    payload["properties"]["gift_note"] = serde_json::json!({ "type": "string" });
    payload["required"]
        .as_array_mut()
        .expect("required is a list")
        .push(serde_json::json!("gift_note"));
    std::fs::write(&path, serde_json::to_string_pretty(&schema).expect("JSON"))
        .expect("writing the schema");
    detail_type
}

#[test]
#[ignore = "needs LocalStack: run `cargo xtask test`"]
fn a_breaking_event_change_is_refused_unless_allowed() {
    let stack = format!("eventrail-breaking-{}", std::process::id());
    let project = scratch("breaking").join("project");
    let _ = std::fs::remove_dir_all(&project);
    eventrail_tests::copy_repository(&project);
    let template = project.join("parameters-only.yaml");
    std::fs::write(&template, parameters_only_template()).expect("writing the scratch template");
    let bus = format!("BusName={stack}");
    let deploy = |extra: &[&str]| {
        Command::new(eventrail_binary())
            .current_dir(&project)
            .env("EVENTRAIL_ENDPOINT", endpoint())
            .args(["deploy", "--env", "local", "--stack", &stack, "--yes"])
            .arg("--template-file")
            .arg(&template)
            .args(["--parameter-overrides", &bus])
            .args(extra)
            .output()
            .expect("running eventrail deploy")
    };
    let first = deploy(&[]);
    let detail_type = require_a_new_field(&project);
    let refused = deploy(&[]);
    let allowed = deploy(&["--allow-breaking"]);
    delete_stack(&stack);
    let text = |o: &std::process::Output| {
        format!(
            "{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    assert!(
        first.status.success(),
        "the first deploy failed:\n{}",
        text(&first)
    );
    assert_eq!(
        refused.status.code(),
        Some(2),
        "a breaking change was deployed:\n{}",
        text(&refused)
    );
    let said = text(&refused);
    assert!(
        said.contains("refused") && said.contains(&detail_type) && said.contains("gift_note"),
        "the refusal does not name the event and the field:\n{said}"
    );
    assert!(said.contains("--allow-breaking"), "{said}");
    assert!(
        allowed.status.success(),
        "--allow-breaking did not deploy:\n{}",
        text(&allowed)
    );
}
