//! Adding a function the way a user does, in a temporary copy of the repository:
//! `eventrail new function gift-wrap --consumes OrderPlaced` and
//! `eventrail new function audit --consumes OrderShipped` (which emits nothing), then the
//! new crates build and pass their scaffolded tests, the template and routing checks pass on
//! the copy, `eventrail lint`, `graph` and `catalog` work on it, and `eventrail routes` shows
//! the new functions. `eventrail new event GiftWrapped` adds the event gift-wrap emits. Also: a
//! bad name, an unknown event type and a second run change nothing.
//!
//! Producers of each trigger: `eventrail new function nightly --schedule "rate(1 day)"` and
//! `new function intake --http "POST /intake"` build and pass their scaffolded tests (a
//! firing, a request), with the template checks holding, and no other file touched by hand;
//! bad trigger flags are refused naming the flag.
//!
//! Copies put their binaries in their own target folder (see `copies_target_dir`) and reuse
//! this repository's compiled dependencies (see `copy_repository`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Cargo for the scratch copy, without this test's package variables (see
/// `eventrail_local::tools::clear_package_env`): it shares this repository's build dir.
fn cargo() -> Command {
    let mut command = eventrail_local::tools::cargo_command();
    command.env("CARGO_TARGET_DIR", eventrail_tests::copies_target_dir());
    command
}

/// Runs the `eventrail` binary of this repository against the copy.
fn eventrail(copy: &Path, args: &[&str]) -> Output {
    let mut all: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    all.push("--root".as_ref());
    all.push(copy.as_os_str());
    eventrail_tests::eventrail(&all)
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Every file under `dir` with its content, for "nothing changed" checks.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

/// `eventrail <args>` on the copy fails, says `wanted` and that nothing was changed, and no
/// file of the copy changed.
fn assert_refused(copy: &Path, args: &[&str], wanted: &str, before: &[(PathBuf, Vec<u8>)]) {
    let out = eventrail(copy, args);
    assert!(
        !out.status.success(),
        "{args:?} should fail:\n{}",
        text(&out)
    );
    assert!(text(&out).contains(wanted), "{args:?}: {}", text(&out));
    assert!(
        text(&out).contains("nothing was changed"),
        "{args:?}: {}",
        text(&out)
    );
    assert!(snapshot(copy) == before, "{args:?} changed files");
}

#[test]
fn scaffolded_functions_build_route_and_pass_the_template_checks() {
    let tmp = std::env::temp_dir().join(format!("eventrail-scaffold-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let copy = tmp.join("repo");
    eventrail_tests::copy_repository(&copy);

    // Refusals change nothing.
    let before = snapshot(&copy);
    for (args, wanted) in [
        (
            vec!["new", "function", "Gift_Wrap", "--consumes", "OrderPlaced"],
            "not a valid function name",
        ),
        (
            vec!["new", "function", "gift-wrap", "--consumes", "OrderPlacd"],
            "`OrderPlacd` is not an event of the catalog",
        ),
        (
            vec!["new", "function", "inventory", "--consumes", "OrderPlaced"],
            "already exists",
        ),
        (
            vec!["new", "function", "event-bus", "--consumes", "OrderPlaced"],
            "hand-written resource",
        ),
    ] {
        assert_refused(&copy, &args, wanted, &before);
    }

    // A new catalog event: type, sample, schema and catalog index; then a function emitting it.
    let before = snapshot(&copy);
    for (args, wanted) in [
        (
            vec![
                "new",
                "event",
                "giftWrapped",
                "--source",
                "eventrail.gift-wrap",
            ],
            "PascalCase",
        ),
        (
            vec!["new", "event", "GiftWrapped", "--source", "other.gift-wrap"],
            "must be the application's prefix",
        ),
        (
            vec![
                "new",
                "event",
                "OrderPlaced",
                "--source",
                "eventrail.orders",
            ],
            "already in the catalog",
        ),
    ] {
        assert_refused(&copy, &args, wanted, &before);
    }
    let out = eventrail(
        &copy,
        &[
            "new",
            "event",
            "GiftWrapped",
            "--source",
            "eventrail.gift-wrap",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(copy.join("events/samples/gift-wrapped.json").is_file());
    assert!(copy.join("events/schemas/gift-wrapped.json").is_file());
    let index = std::fs::read_to_string(copy.join("events/catalog.json")).unwrap();
    assert!(index.contains("\"GiftWrapped\""), "{index}");

    let before_functions = snapshot(&copy);
    let out = eventrail(
        &copy,
        &[
            "new",
            "function",
            "gift-wrap",
            "--consumes",
            "OrderPlaced",
            "--emits",
            "GiftWrapped",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = eventrail(
        &copy,
        &["new", "function", "audit", "--consumes", "OrderShipped"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let again = eventrail(
        &copy,
        &["new", "function", "audit", "--consumes", "OrderShipped"],
    );
    assert!(!again.status.success() && text(&again).contains("already exists"));

    // A function is its Cargo.toml and src/lib.rs: the build script and the binary are shared.
    for function in ["gift-wrap", "audit"] {
        let dir = copy.join("functions").join(function);
        let mut files: Vec<String> = snapshot(&dir)
            .into_iter()
            .map(|(path, _)| path.strip_prefix(&dir).unwrap().display().to_string())
            .collect();
        files.sort();
        assert_eq!(files, ["Cargo.toml", "src/lib.rs"], "{function}");
    }

    // `audit` rewritten the old way (its own build.rs, and a main.rs that starts the runtime)
    // is migrated back by `eventrail migrate function`; a main.rs that does more is refused.
    let audit = copy.join("functions/audit");
    let new_manifest = std::fs::read_to_string(audit.join("Cargo.toml")).unwrap();
    let new_lib = std::fs::read_to_string(audit.join("src/lib.rs")).unwrap();
    let old_manifest = new_manifest
        .replace("build = \"../../crates/build/lambda/build.rs\"\n", "")
        .replace("../../crates/build/lambda/main.rs", "src/main.rs");
    assert_ne!(old_manifest, new_manifest);
    std::fs::write(audit.join("Cargo.toml"), &old_manifest).unwrap();
    std::fs::write(
        audit.join("build.rs"),
        "fn main() {\n    eventrail_build::lambda_binary();\n}\n",
    )
    .unwrap();
    let old_main = "#[tokio::main(flavor = \"current_thread\")]\nasync fn main() -> Result<(), eventrail_runtime::LambdaError> {\n    eventrail_runtime::run_consumer(audit::handle, eventrail_runtime::declaration!()).await\n}\n";
    std::fs::write(
        audit.join("src/main.rs"),
        old_main.replace("{\n    eventrail", "{\n    let _ = 1;\n    eventrail"),
    )
    .unwrap();
    let before_migrate = snapshot(&copy);
    assert_refused(
        &copy,
        &["migrate", "function", "audit"],
        "functions/audit/src/main.rs: does more than start the runtime",
        &before_migrate,
    );
    std::fs::write(audit.join("src/main.rs"), old_main).unwrap();
    let out = eventrail(&copy, &["migrate", "function", "--all"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("migrated functions/audit/"),
        "{}",
        text(&out)
    );
    assert_eq!(
        std::fs::read_to_string(audit.join("Cargo.toml")).unwrap(),
        new_manifest
    );
    assert_eq!(
        std::fs::read_to_string(audit.join("src/lib.rs")).unwrap(),
        new_lib
    );
    assert!(!audit.join("build.rs").exists() && !audit.join("src/main.rs").exists());

    let template = std::fs::read_to_string(copy.join("infra/template.yaml")).unwrap();
    for wanted in [
        "  GiftWrap:\n",
        "Binary: gift-wrap",
        "${AWS::StackName}-gift-wrap-OrderPlaced",
        "GiftWrapDeliveryDlqUrl:",
        r#"events:source: ["eventrail.gift-wrap"]"#,
        r#"events:detail-type: ["GiftWrapped"]"#,
        "  Audit:\n",
    ] {
        assert!(template.contains(wanted), "template lacks {wanted:?}");
    }

    // The new crates' binaries build, and their scaffolded tests (on a catalog sample) pass.
    let out = cargo()
        .current_dir(&copy)
        .args(["build", "--quiet", "-p", "gift-wrap", "-p", "audit"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo build in the copy:\n{}",
        text(&out)
    );
    let out = cargo()
        .current_dir(&copy)
        .args(["test", "--quiet", "-p", "gift-wrap", "-p", "audit"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo test in the copy:\n{}",
        text(&out)
    );

    // The template invariants, its generated part and the routing hold on the copy.
    let problems = eventrail_tests::template_problems(&copy);
    assert!(problems.is_empty(), "{problems:#?}");
    let problems = eventrail_tests::routing_problems(&copy);
    assert!(problems.is_empty(), "{problems:#?}");
    let consumers = std::fs::read_to_string(copy.join("events/consumers.json")).unwrap();
    assert!(consumers.contains("gift-wrap") && consumers.contains("audit"));

    // `new function` changed only the function crates, the template and the routing index
    // (Cargo.lock changes when cargo next resolves the workspace), not the docs.
    let changed: Vec<String> = {
        let after = snapshot(&copy);
        let old: std::collections::BTreeMap<_, _> = before_functions.into_iter().collect();
        after
            .into_iter()
            .filter(|(path, bytes)| old.get(path) != Some(bytes))
            .map(|(path, _)| path.strip_prefix(&copy).unwrap().display().to_string())
            .filter(|p| !p.starts_with("target/"))
            .collect()
    };
    for path in &changed {
        assert!(
            path.starts_with("functions/gift-wrap/")
                || path.starts_with("functions/audit/")
                || path == "infra/template.yaml"
                || path == "events/consumers.json"
                || path == "Cargo.lock",
            "`new function` changed {path} (all changes: {changed:?})"
        );
    }

    // The flow tools work on the scaffolded system: once `infra generate` has redrawn the
    // picture embedded in the docs, lint is clean, the graph shows the new functions, the
    // catalog lists them as consumers.
    let out = eventrail(&copy, &["infra", "generate"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = eventrail(&copy, &["lint"]);
    assert!(out.status.success(), "lint on the copy:\n{}", text(&out));
    let out = eventrail(&copy, &["graph", "--format", "mermaid"]);
    assert!(out.status.success(), "{}", text(&out));
    for edge in [
        "ev_OrderPlaced --> rule_GiftWrapOrderPlaced",
        "rule_GiftWrapOrderPlaced --> fn_gift_wrap",
        "ev_OrderShipped --> rule_AuditOrderShipped",
    ] {
        assert!(text(&out).contains(edge), "{edge} not in\n{}", text(&out));
    }
    let readme = std::fs::read_to_string(copy.join("README.md")).unwrap();
    assert!(readme.contains("rule_GiftWrapOrderPlaced --> fn_gift_wrap"));
    let pages = copy.join("target/eventrail-catalog");
    let out = eventrail(&copy, &["catalog", "--out", pages.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let page = std::fs::read_to_string(pages.join("order-placed.md")).unwrap();
    assert!(page.contains("`gift-wrap`"), "{page}");

    let out = eventrail_tests::eventrail(&[
        "routes".as_ref(),
        "--root".as_ref(),
        copy.as_os_str(),
        copy.join("events/samples/order-placed.json").as_os_str(),
        copy.join("events/samples/order-shipped.json").as_os_str(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let routes = text(&out);
    assert!(
        routes.contains("gift-wrap") && routes.contains("audit"),
        "{routes}"
    );

    let _ = std::fs::remove_dir_all(&tmp);
}

/// The files of the copy that changed since `before`, outside target/.
fn changed_since(copy: &Path, before: Vec<(PathBuf, Vec<u8>)>) -> Vec<String> {
    let old: std::collections::BTreeMap<_, _> = before.into_iter().collect();
    snapshot(copy)
        .into_iter()
        .filter(|(path, bytes)| old.get(path) != Some(bytes))
        .map(|(path, _)| path.strip_prefix(copy).unwrap().display().to_string())
        .filter(|p| !p.starts_with("target/"))
        .collect()
}

#[test]
fn scaffolded_producers_of_a_schedule_and_an_http_route_build_and_pass_their_tests() {
    let tmp = std::env::temp_dir().join(format!("eventrail-producers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let copy = tmp.join("repo");
    eventrail_tests::copy_repository(&copy);

    // Bad trigger flags: refused naming the flag, nothing changed.
    let before = snapshot(&copy);
    for (args, wanted) in [
        (
            vec!["new", "function", "nightly", "--schedule", "daily"],
            "--schedule: `daily` is neither `rate(...)` nor `cron(...)`",
        ),
        (
            vec!["new", "function", "nightly", "--schedule", "rate(1 days)"],
            "--schedule: `rate(1 days)`",
        ),
        (
            vec!["new", "function", "intake", "--http", "POST intake"],
            "--http: `intake` is not a path",
        ),
        (
            vec!["new", "function", "intake", "--http", "SEND /intake"],
            "--http: `SEND` is not a method",
        ),
        (
            vec![
                "new",
                "function",
                "nightly",
                "--schedule",
                "rate(1 day)",
                "--consumes",
                "OrderPlaced",
            ],
            "--consumes: a function triggered by --schedule has no rule",
        ),
        (
            vec!["new", "function", "mailer", "--buffered"],
            "--buffered buffers a rule's events",
        ),
    ] {
        assert_refused(&copy, &args, wanted, &before);
    }
    let two = eventrail(
        &copy,
        &[
            "new",
            "function",
            "nightly",
            "--http",
            "POST /nightly",
            "--schedule",
            "rate(1 day)",
        ],
    );
    assert!(!two.status.success());
    assert!(
        text(&two)
            .contains("'--http <METHOD /PATH>' cannot be used with '--schedule <EXPRESSION>'"),
        "{}",
        text(&two)
    );
    assert!(snapshot(&copy) == before, "a refused command changed files");

    for args in [
        [
            "new",
            "function",
            "nightly",
            "--schedule",
            "rate(1 day)",
            "--emits",
            "OrderShipped",
        ],
        [
            "new",
            "function",
            "intake",
            "--http",
            "POST /intake",
            "--emits",
            "OrderPlaced",
        ],
    ] {
        let out = eventrail(&copy, &args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
    }
    let manifest = |f: &str| {
        std::fs::read_to_string(copy.join("functions").join(f).join("Cargo.toml")).unwrap()
    };
    assert!(manifest("nightly").contains("\nschedule = \"rate(1 day)\"\n"));
    assert!(manifest("intake").contains("\nhttp = \"POST /intake\"\n"));
    let lib = |f: &str| {
        std::fs::read_to_string(copy.join("functions").join(f).join("src/lib.rs")).unwrap()
    };
    assert!(lib("nightly").contains("pub async fn handle(scheduled: Scheduled, context: Context)"));
    assert!(lib("intake").contains("request: HttpRequest<IntakeRequest>,"));
    let template = std::fs::read_to_string(copy.join("infra/template.yaml")).unwrap();
    for wanted in [
        "  Nightly:\n",
        "Type: ScheduleV2",
        "ScheduleExpression: !Ref NightlySchedule",
        "NightlyScheduleName:",
        "  Intake:\n",
        "Path: \"/intake\"",
    ] {
        assert!(template.contains(wanted), "template lacks {wanted:?}");
    }

    // Their binaries build, and their scaffolded tests (a firing, a request) pass.
    for command in ["build", "test"] {
        let out = cargo()
            .current_dir(&copy)
            .args([command, "--quiet", "-p", "nightly", "-p", "intake"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cargo {command} in the copy:\n{}",
            text(&out)
        );
    }

    // The template invariants and the routing hold, and nothing but the new crates and the
    // generated files changed.
    let problems = eventrail_tests::template_problems(&copy);
    assert!(problems.is_empty(), "{problems:#?}");
    let problems = eventrail_tests::routing_problems(&copy);
    assert!(problems.is_empty(), "{problems:#?}");
    let changed = changed_since(&copy, before);
    for path in &changed {
        assert!(
            path.starts_with("functions/nightly/")
                || path.starts_with("functions/intake/")
                || path == "infra/template.yaml"
                || path == "events/consumers.json"
                || path == "events/triggers.json"
                || path == "samconfig.toml"
                || path == "Cargo.lock",
            "`new function` changed {path} (all changes: {changed:?})"
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
