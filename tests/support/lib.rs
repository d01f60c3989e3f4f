//! Shared test support.
//!
//! End-to-end helpers (used by `e2e.rs`): connect to the deployed stack named by
//! `EVENTRAIL_ENDPOINT` + `EVENTRAIL_STACK_OUTPUTS` (set by `cargo xtask test`), the
//! documented outcome of every order scenario, and waiting for a flow to finish. The
//! studio's browser tests: [`browser`] (headless Chromium over WebDriver) and [`studio`] (the
//! running `eventrail studio`).

pub mod browser;
pub mod studio;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use eventrail_check::check_invariants;
use eventrail_generate::{Generate, GeneratedKind};
use eventrail_model::{App, Template};
use eventrail_observe::{BusEvent, FailureRecord, Flow, FlowReport, Router, Stack, Watch};
use events::scenarios::Scenario;
use events::{OrderAccepted, PlaceOrder};
use serde_json::Value;

/// How long a flow may take to finish. Generous on purpose: the suite must not flake on a
/// loaded 2-core machine; nothing asserts on time.
pub const FLOW_DEADLINE: Duration = Duration::from_secs(240);
/// After a flow looks finished, how long nothing new must arrive before it is judged (this
/// is what catches unexpected extra events), once LocalStack holds no invocation.
pub const SETTLE_QUIET: Duration = Duration::from_secs(4);
/// Upper bound on settling: more than an invocation LocalStack can hold hidden (the
/// functions' 10 s timeout plus 60 s) and its retries.
pub const SETTLE_MAX: Duration = Duration::from_secs(150);

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// The deployed stack. Panics, saying to run `cargo xtask test`, when the environment does
/// not name one: end-to-end tests never pass without LocalStack.
pub async fn stack() -> Stack {
    match Stack::from_env().await {
        Ok(stack) => stack,
        Err(error) => panic!("{error}"),
    }
}

/// Copies the repository to `to`, leaving out build output (`target`), the tools
/// (`.eventrail`) and git: a scratch project to scaffold into.
pub fn copy_repository(to: &Path) {
    fn copy_tree(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
        let entries = std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
        for entry in entries.flatten() {
            let name = entry.file_name();
            if [".git", "target", ".eventrail"].contains(&name.to_string_lossy().as_ref()) {
                continue;
            }
            let path = entry.path();
            if path.is_dir() {
                copy_tree(&path, &to.join(&name));
            } else {
                std::fs::copy(&path, to.join(&name))
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            }
        }
    }
    copy_tree(&repo(), to);
    share_compiled_dependencies(to);
}

/// Lets a copy reuse this repository's compiled dependencies instead of building the AWS SDK
/// again (minutes on a 2-core machine). The copy keeps its own target dir (its binaries), but
/// puts intermediate artifacts in this repository's Cargo build dir, where the registry
/// crates are already compiled with the same features (`cargo xtask unify`). Cargo names a
/// workspace crate's artifacts by its name, version and path relative to the workspace root,
/// so the copy's members get a distinct pre-release version: their artifacts never overwrite
/// (or pass for) this repository's own.
fn share_compiled_dependencies(copy: &Path) {
    let config = copy.join(".cargo/config.toml");
    let mut text = std::fs::read_to_string(&config).unwrap_or_default();
    assert!(
        !text.contains("[build]"),
        "{}: the copy's build dir would be set twice",
        config.display()
    );
    let build_dir = target_dir().to_string_lossy().replace('\\', "/");
    text.push_str(&format!("\n[build]\nbuild-dir = \"{build_dir}\"\n"));
    std::fs::create_dir_all(copy.join(".cargo")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&config, text).unwrap_or_else(|e| panic!("{}: {e}", config.display()));
    let metadata =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(copy)
            .args([
                "metadata",
                "--no-deps",
                "--format-version",
                "1",
                "--offline",
            ])
            .output()
            .unwrap_or_else(|e| panic!("cargo metadata: {e}"));
    assert!(
        metadata.status.success(),
        "{}",
        String::from_utf8_lossy(&metadata.stderr)
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&metadata.stdout).unwrap_or_else(|e| panic!("{e}"));
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let (Some(manifest), Some(version)) = (
            package["manifest_path"].as_str(),
            package["version"].as_str(),
        ) else {
            continue;
        };
        let text = std::fs::read_to_string(manifest).unwrap_or_else(|e| panic!("{manifest}: {e}"));
        let from = format!("\nversion = \"{version}\"\n");
        assert!(
            text.contains(&from),
            "{manifest}: no `version = \"{version}\"` line"
        );
        let to = format!("\nversion = \"{version}-copy\"\n");
        std::fs::write(manifest, text.replacen(&from, &to, 1))
            .unwrap_or_else(|e| panic!("{manifest}: {e}"));
    }
}

/// The target dir this repository builds into (`CARGO_TARGET_DIR`, else `target/`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"))
}

/// Whether the ELF executable at `path` is position-dependent (`ET_EXEC`, linked at a fixed
/// address: no relative relocations for the loader to apply), as every function's binary is
/// linked (`eventrail-build`); `false` for a position-independent one (`ET_DYN`).
pub fn is_position_dependent(path: &Path) -> bool {
    use std::io::Read;
    // e_ident (16 bytes) and e_type: the header alone, not the ~60 MB debug binary.
    let mut header = [0u8; 18];
    std::fs::File::open(path)
        .and_then(|mut file| file.read_exact(&mut header))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        header.starts_with(b"\x7fELF"),
        "{} is not an ELF executable",
        path.display()
    );
    // This is a little-endian machine.
    u16::from_le_bytes([header[16], header[17]]) == 2
}

/// The target dir scratch copies of the repository put their binaries in: shared by all
/// copies, apart from this repository's own. Their intermediate artifacts go to this
/// repository's build dir (see `share_compiled_dependencies`).
pub fn copies_target_dir() -> PathBuf {
    target_dir().join("scratch-copies")
}

/// This repository's `eventrail` binary. `cargo xtask test` names the one it built
/// (`EVENTRAIL_CLI`), so tests never wait on cargo's lock while a scratch copy builds;
/// otherwise it is built once per test process by `cargo run` (a no-op when it is up to date).
pub fn eventrail_binary() -> PathBuf {
    if let Some(built) = std::env::var_os("EVENTRAIL_CLI") {
        return PathBuf::from(built);
    }
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        let output = eventrail_local::tools::cargo_command()
            .current_dir(repo())
            .args(["build", "--quiet", "--target-dir"])
            .arg(target_dir())
            .args(["-p", "eventrail", "--bin", "eventrail"])
            .output()
            .unwrap_or_else(|e| panic!("running cargo build -p eventrail: {e}"));
        assert!(
            output.status.success(),
            "building eventrail: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    });
    target_dir().join("debug/eventrail")
}

/// Runs this repository's `eventrail` binary ([`eventrail_binary`]) with `args`. What it
/// builds in turn (`eventrail new event` runs the catalog's tests) goes to
/// [`copies_target_dir`].
pub fn eventrail(args: &[&std::ffi::OsStr]) -> std::process::Output {
    std::process::Command::new(eventrail_binary())
        .env("CARGO_TARGET_DIR", copies_target_dir())
        .current_dir(repo())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running eventrail: {e}"))
}

/// `eventrail <args> --stack <the deployed stack>`, run from the repository root.
pub fn eventrail_command_on(stack: &Stack, args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(eventrail_binary());
    command.current_dir(repo()).args(args);
    if let Some(name) = &stack.outputs.stack_name {
        command.args(["--stack", name]);
    }
    command
}

/// Runs `eventrail <args>` against the deployed stack; returns (success, stdout, stderr).
pub fn eventrail_on(stack: &Stack, args: &[&str]) -> (bool, String, String) {
    let output = eventrail_command_on(stack, args)
        .output()
        .unwrap_or_else(|e| panic!("running eventrail {args:?}: {e}"));
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The stock AWS CLI (`aws`, version 1), a client this project did not write: LocalStack's
/// distribution depends on it, so it is in the LocalStack venv `cargo xtask test` installs.
pub fn aws_cli() -> PathBuf {
    eventrail_local::Installer::new(repo())
        .venv_dir("localstack")
        .join("bin")
        .join("aws")
}

/// Whose credentials the stock `aws` CLI signs with.
pub enum AwsCaller<'a> {
    /// LocalStack's account root (`test`/`test`): not evaluated by IAM, as the root is not.
    AccountRoot,
    /// A role session: the `Credentials` object `sts assume-role` printed.
    Session(&'a Value),
}

/// Runs the stock `aws` CLI ([`aws_cli`]) against the deployed stack's LocalStack
/// (`EVENTRAIL_ENDPOINT`), JSON output.
pub fn stock_aws(caller: AwsCaller, args: &[&str]) -> std::process::Output {
    let endpoint = std::env::var("EVENTRAIL_ENDPOINT")
        .unwrap_or_else(|_| panic!("EVENTRAIL_ENDPOINT is not set: run `cargo xtask test`"));
    let region = eventrail_observe::aws::region_or_default(None);
    let mut command = std::process::Command::new(aws_cli());
    command
        .args(args)
        .args(["--endpoint-url", endpoint.trim(), "--region", &region])
        .args(["--output", "json"])
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN");
    match caller {
        AwsCaller::AccountRoot => {
            command
                .env("AWS_ACCESS_KEY_ID", "test")
                .env("AWS_SECRET_ACCESS_KEY", "test");
        }
        AwsCaller::Session(credentials) => {
            let field = |name: &str| {
                credentials[name]
                    .as_str()
                    .unwrap_or_else(|| panic!("credentials without {name}: {credentials}"))
                    .to_owned()
            };
            command
                .env("AWS_ACCESS_KEY_ID", field("AccessKeyId"))
                .env("AWS_SECRET_ACCESS_KEY", field("SecretAccessKey"))
                .env("AWS_SESSION_TOKEN", field("SessionToken"));
        }
    }
    command
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", aws_cli().display()))
}

/// The log lines of a function's log group (CloudWatch Logs, where LocalStack's Lambda writes
/// what a function prints) that contain `needle`, waiting up to `deadline` for the first. Read
/// with the stock `aws logs filter-log-events` ([`aws_cli`]).
pub async fn function_log_lines(
    endpoint: &str,
    group: &str,
    needle: &str,
    deadline: Duration,
) -> Vec<String> {
    let cli = aws_cli();
    assert!(
        cli.is_file(),
        "{} is missing: `cargo xtask test` installs it with LocalStack",
        cli.display()
    );
    let region = eventrail_observe::aws::region_or_default(None);
    let started = std::time::Instant::now();
    loop {
        let answer = tokio::process::Command::new(&cli)
            .args(["logs", "filter-log-events", "--output", "json"])
            .args(["--log-group-name", group, "--endpoint-url", endpoint])
            .args(["--region", &region])
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env_remove("AWS_PROFILE")
            .output()
            .await
            .unwrap_or_else(|e| panic!("running {}: {e}", cli.display()));
        // The group appears with the function's first invocation: until then the CLI fails.
        if answer.status.success() {
            let page: Value = serde_json::from_slice(&answer.stdout).unwrap_or_else(|e| {
                panic!(
                    "aws logs filter-log-events printed no JSON ({e}): {}",
                    String::from_utf8_lossy(&answer.stdout)
                )
            });
            let lines: Vec<String> = page["events"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e["message"].as_str())
                .filter(|m| m.contains(needle))
                .map(str::to_owned)
                .collect();
            if !lines.is_empty() {
                return lines;
            }
        }
        if started.elapsed() >= deadline {
            return Vec::new();
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Everything wrong with the template of the application at `root`: a broken invariant (checked
/// against the functions' declarations), or a generated part (the template's per-function
/// section, the routing index) that is stale.
pub fn template_problems(root: &Path) -> Vec<String> {
    let app = match App::load(root) {
        Ok(app) => app,
        Err(e) => return vec![e.to_string()],
    };
    let mut problems = Vec::new();
    match app.generated_files() {
        // The pictures in the docs are checked by tests/graph.rs; here only the infrastructure.
        Ok(files) => problems.extend(
            files
                .iter()
                .filter(|f| f.stale && f.kind == GeneratedKind::Infrastructure)
                .map(|f| {
                    format!(
                        "{} is stale: run `cargo run -p eventrail -- infra generate`",
                        f.path.display()
                    )
                }),
        ),
        Err(e) => problems.push(e.to_string()),
    }
    match Template::load(app.project.template_path()) {
        Ok(t) => problems.extend(
            check_invariants(&t, &app.functions, &app.project.settings)
                .iter()
                .map(ToString::to_string),
        ),
        Err(e) => problems.push(e.to_string()),
    }
    problems
}

/// Everything wrong with the routing of the application at `root`: a sample that the template's
/// rules route differently from the routing index (generated from the declarations), a sample
/// missing from the index, or a rule that matches no sample.
pub fn routing_problems(root: &Path) -> Vec<String> {
    let app = match App::load(root) {
        Ok(app) => app,
        Err(e) => return vec![e.to_string()],
    };
    let template = match Template::load(app.project.template_path()) {
        Ok(t) => t,
        Err(e) => return vec![e.to_string()],
    };
    let router = match Router::from_template(&template) {
        Ok(r) => r,
        Err(e) => return vec![e.to_string()],
    };
    let samples = match app.samples() {
        Ok(s) => s,
        Err(e) => return vec![e.to_string()],
    };
    let index: BTreeMap<String, Vec<String>> =
        std::fs::read_to_string(app.project.consumers_path())
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
    let mut problems = Vec::new();
    let mut fired = std::collections::BTreeSet::new();
    for (name, event) in &samples {
        let actual = router.functions_for(event);
        for route in router.routes(event) {
            fired.insert(route.rule.clone());
        }
        match index.get(name) {
            None => problems.push(format!(
                "{name}: not in the routing index (reaches {actual:?}); run `eventrail infra generate`"
            )),
            Some(expected) if *expected != actual => problems.push(format!(
                "{name}: the declarations route it to {expected:?}, the template's rules to {actual:?}"
            )),
            Some(_) => {}
        }
        if actual.is_empty() {
            problems.push(format!("{name}: reaches no function"));
        }
    }
    for rule in template.rules().iter().filter(|r| r.pattern.is_some()) {
        if !fired.contains(&rule.logical_id) {
            problems.push(format!(
                "rule {} matches no sample in {}",
                rule.logical_id, app.project.settings.samples
            ));
        }
    }
    problems
}

/// Places an order: invokes the shop's `orders` function directly with the command.
pub async fn place_order(stack: &Stack, command: &PlaceOrder) -> OrderAccepted {
    let payload = serde_json::to_value(command).expect("a PlaceOrder command encodes");
    let answer = stack
        .invoke("orders", &payload)
        .await
        .unwrap_or_else(|e| panic!("placing order {}: {e}", command.order.order_id));
    serde_json::from_value(answer.clone())
        .unwrap_or_else(|e| panic!("the orders function's answer {answer}: {e}"))
}

/// The template's routes (to show which functions each event reached).
pub fn routes() -> Option<Router> {
    Router::load(repo().join("infra/template.yaml")).ok()
}

/// What a scenario must produce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// The causal chain: (cause's detail-type, detail-type), sorted like [`Flow::edges`].
    pub edges: Vec<(Option<String>, String)>,
    /// Outbox message kinds, sorted.
    pub outbox: Vec<String>,
    /// (function, detail-type of the event it failed on) of handler failures, sorted.
    pub handler_failures: Vec<(String, String)>,
    /// (function, detail-type) of poison dead letters, sorted.
    pub poison: Vec<(String, String)>,
}

fn edges(pairs: &[(Option<&str>, &str)]) -> Vec<(Option<String>, String)> {
    let mut edges: Vec<_> = pairs
        .iter()
        .map(|(cause, event)| (cause.map(str::to_owned), (*event).to_owned()))
        .collect();
    edges.sort();
    edges
}

/// The documented outcome of `scenario` (functions/*/src/lib.rs).
pub fn expected(scenario: Scenario) -> Expected {
    let placed = (None, "OrderPlaced");
    let reserved = (Some("OrderPlaced"), "StockReserved");
    let captured = (Some("StockReserved"), "PaymentCaptured");
    let shipped = (Some("PaymentCaptured"), "OrderShipped");
    let fraud = (Some("OrderPlaced"), "FraudSuspected");
    let (chain, outbox, failures): (Vec<_>, Vec<&str>, Vec<(&str, &str)>) = match scenario {
        Scenario::HappyPath => (
            vec![placed, reserved, captured, shipped],
            vec!["order-shipped"],
            vec![],
        ),
        Scenario::OutOfStock => (
            vec![placed, (Some("OrderPlaced"), "StockUnavailable")],
            vec!["stock-unavailable"],
            vec![],
        ),
        Scenario::CardDeclined => (
            vec![placed, reserved, (Some("StockReserved"), "PaymentFailed")],
            vec!["payment-failed"],
            vec![],
        ),
        Scenario::Fraudulent | Scenario::UnsupportedCountry => (
            vec![placed, reserved, captured, shipped, fraud],
            vec!["order-shipped"],
            vec![],
        ),
        Scenario::GatewayDown => (
            vec![placed, reserved],
            vec![],
            vec![("payments", "StockReserved")],
        ),
    };
    Expected {
        edges: edges(&chain),
        outbox: outbox.into_iter().map(str::to_owned).collect(),
        handler_failures: failures
            .into_iter()
            .map(|(f, t)| (f.to_owned(), t.to_owned()))
            .collect(),
        poison: Vec::new(),
    }
}

/// What a poison `OrderPlaced` must produce: the event itself (analytics takes any app
/// event and emits nothing) and one dead letter from inventory.
pub fn expected_poison() -> Expected {
    Expected {
        edges: edges(&[(None, "OrderPlaced")]),
        outbox: Vec::new(),
        handler_failures: Vec::new(),
        poison: vec![("inventory".to_owned(), "OrderPlaced".to_owned())],
    }
}

/// What was observed, in the shape of [`Expected`].
pub fn observed(report: &FlowReport) -> Expected {
    let mut outbox: Vec<String> = report
        .messages
        .iter()
        .map(|m| m.body.kind.clone())
        .collect();
    outbox.sort();
    let pairs = |poison: bool| {
        let mut pairs: Vec<(String, String)> = report
            .failures
            .iter()
            .filter(|r| r.is_poison() == poison)
            .map(|r| {
                (
                    r.queue_function.clone(),
                    r.detail_type().unwrap_or("?").to_owned(),
                )
            })
            .collect();
        pairs.sort();
        pairs
    };
    Expected {
        edges: report.flow.edges(),
        outbox,
        handler_failures: pairs(false),
        poison: pairs(true),
    }
}

/// True when everything `expected` names has been observed (extra events may still come).
pub fn reached(expected: &Expected, report: &FlowReport) -> bool {
    let seen = observed(report);
    contains_all(&seen.edges, &expected.edges)
        && contains_all(&seen.outbox, &expected.outbox)
        && contains_all(&seen.handler_failures, &expected.handler_failures)
        && contains_all(&seen.poison, &expected.poison)
}

/// Multiset inclusion: every item of `want` is in `have`, as many times as in `want`.
pub fn contains_all<T: Ord + Clone>(have: &[T], want: &[T]) -> bool {
    let mut counts: BTreeMap<&T, isize> = BTreeMap::new();
    for item in have {
        *counts.entry(item).or_default() += 1;
    }
    want.iter().all(|item| {
        let count = counts.entry(item).or_default();
        *count -= 1;
        *count >= 0
    })
}

/// A flow being watched, with the scenario it came from.
#[derive(Debug, Clone)]
pub struct Placed {
    /// A heading for reports.
    pub title: String,
    /// The correlation id.
    pub correlation_id: String,
    /// What it must produce.
    pub expected: Expected,
    /// `orders`' answer (None for events the test put on the bus itself).
    pub accepted: Option<OrderAccepted>,
}

/// Places an order for `scenario` with a fresh order id and follows its flow.
pub async fn place(stack: &Stack, watch: &mut Watch, scenario: Scenario) -> Placed {
    let order_id = events::scenarios::new_order_id();
    let accepted = place_order(stack, &scenario.command(&order_id)).await;
    watch.follow(accepted.correlation_id.clone());
    Placed {
        title: format!("order {order_id} · {}", scenario.label()),
        correlation_id: accepted.correlation_id.clone(),
        expected: expected(scenario),
        accepted: Some(accepted),
    }
}

/// A poison `OrderPlaced` (from events/samples/poison/`sample`) with fresh ids, so its flow
/// is this test's alone.
pub fn poison_event(sample: &str) -> (BusEvent, String) {
    fresh_sample(&format!("poison/{sample}"))
}

/// A sample (path under events/samples) as an event to put, with a fresh correlation id,
/// idempotency key and order id; returns it with its correlation id.
pub fn fresh_sample(sample: &str) -> (BusEvent, String) {
    let path = repo().join("events/samples").join(sample);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let raw: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    let mut detail = raw["detail"].clone();
    let suffix = events::scenarios::new_order_id();
    let correlation_id = format!("corr-sample-{suffix}");
    detail["metadata"]["correlation_id"] = correlation_id.clone().into();
    detail["metadata"]["idempotency_key"] = format!("k-sample-{suffix}").into();
    if detail["data"]["order"].is_object() {
        detail["data"]["order"]["order_id"] = suffix.into();
    }
    let event = BusEvent {
        source: raw["source"]
            .as_str()
            .unwrap_or("eventrail.orders")
            .to_owned(),
        detail_type: raw["detail-type"]
            .as_str()
            .unwrap_or("OrderPlaced")
            .to_owned(),
        detail,
        time: None,
    };
    (event, correlation_id)
}

/// Waits until nothing more can happen on the stack: LocalStack holds no asynchronous
/// invocation of its functions (queued, running, or delayed for a retry: a positive signal,
/// from eventrail's `/_eventrail/lambda/pending` hook) and nothing new arrived for
/// [`SETTLE_QUIET`]; at most [`SETTLE_MAX`], after which it goes on (the assertions then
/// judge what arrived). An invocation LocalStack hides for the timeout plus 60 s is waited out.
pub async fn settle(watch: &mut Watch) {
    let started = std::time::Instant::now();
    let endpoint = std::env::var("EVENTRAIL_ENDPOINT").unwrap_or_default();
    let prefix = watch_stack_prefix();
    loop {
        let left = SETTLE_MAX.saturating_sub(started.elapsed());
        watch
            .settle(SETTLE_QUIET, left.max(SETTLE_QUIET))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let held = eventrail_local::localstack::pending_invocations(&endpoint, &prefix)
            .unwrap_or_else(|e| panic!("asking LocalStack what it still holds: {e}"));
        if held == 0 || started.elapsed() >= SETTLE_MAX {
            return;
        }
    }
}

/// The prefix of the deployed stack's function names (`<stack name>-`).
fn watch_stack_prefix() -> String {
    let file = std::env::var("EVENTRAIL_STACK_OUTPUTS").unwrap_or_default();
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("reading EVENTRAIL_STACK_OUTPUTS ({file}): {e}"));
    let document: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file} is not JSON: {e}"));
    let name = document["stack_name"]
        .as_str()
        .unwrap_or_else(|| panic!("{file} names no stack_name"));
    format!("{name}-")
}

/// Waits until every flow reached its expected outcome, then lets the stack settle so that
/// unexpected extra events show up too; returns one report per flow.
pub async fn finish(watch: &mut Watch, flows: &[Placed]) -> Vec<FlowReport> {
    let waiting_for = format!(
        "{} flow(s) to reach their documented outcome: {}",
        flows.len(),
        flows
            .iter()
            .map(|f| f.title.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    );
    let outcome = watch
        .wait_until(&waiting_for, FLOW_DEADLINE, |watch| {
            flows
                .iter()
                .all(|f| reached(&f.expected, &watch.report(&f.correlation_id, "")))
        })
        .await;
    if let Err(error) = outcome {
        panic!("{error}");
    }
    settle(watch).await;
    flows
        .iter()
        .map(|f| watch.report(&f.correlation_id, f.title.clone()))
        .collect()
}

/// Asserts that a flow produced exactly what was expected, with one correlation id and
/// causation ids that point at the event that caused each event.
pub fn assert_exact(placed: &Placed, report: &FlowReport) {
    let text = report.render(routes().as_ref());
    assert_eq!(
        observed(report),
        placed.expected,
        "unexpected outcome:\n{text}"
    );
    assert_causally_sound(&report.flow, &text);
    if let Some(accepted) = &placed.accepted {
        let roots: Vec<_> = report
            .flow
            .events()
            .iter()
            .filter(|e| e.causation_id.is_none())
            .collect();
        assert_eq!(roots.len(), 1, "one root event expected:\n{text}");
        assert_eq!(
            Some(&roots[0].id),
            accepted.event_id.as_ref(),
            "the root is the OrderPlaced that orders published:\n{text}"
        );
    }
    for message in &report.messages {
        let cause = report.flow.get(&message.body.event_id).unwrap_or_else(|| {
            panic!(
                "outbox message {} names event {}, not in the flow:\n{text}",
                message.message_id, message.body.event_id
            )
        });
        let key = cause.idempotency_key.as_deref().unwrap_or_default();
        assert_eq!(
            message.deduplication_id.as_deref(),
            Some(notifications::deduplication_id(key, &cause.id).as_str()),
            "the outbox deduplicates on the causing event's idempotency key and id:\n{text}"
        );
        assert_eq!(
            message.body.idempotency_key, key,
            "the message carries its cause's idempotency key:\n{text}"
        );
    }
    for record in &report.failures {
        assert!(
            record
                .event_id()
                .is_some_and(|id| report.flow.get(id).is_some()),
            "failure {} concerns an event that was not seen on the bus:\n{text}",
            record.summary()
        );
    }
}

/// Every event names a cause that was observed (except the root), no event is delivered
/// twice to the tap, and idempotency keys are distinct within one flow.
pub fn assert_causally_sound(flow: &Flow, text: &str) {
    assert!(flow.problems().is_empty(), "{:?}\n{text}", flow.problems());
    for event in flow.events() {
        assert_eq!(
            event.correlation_id.as_deref(),
            Some(flow.correlation_id.as_str()),
            "{text}"
        );
        assert!(
            event.idempotency_key.is_some(),
            "{} {} has no idempotency key:\n{text}",
            event.detail_type,
            event.id
        );
    }
    let mut keys: Vec<_> = flow
        .events()
        .iter()
        .filter_map(|e| e.idempotency_key.as_deref())
        .collect();
    keys.sort_unstable();
    let before = keys.len();
    keys.dedup();
    assert_eq!(before, keys.len(), "idempotency keys repeat:\n{text}");
}

/// The failure records of a report, for messages.
pub fn summaries(records: &[FailureRecord]) -> String {
    records
        .iter()
        .map(FailureRecord::summary)
        .collect::<Vec<_>>()
        .join("\n")
}
