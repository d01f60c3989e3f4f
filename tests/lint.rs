//! `eventrail lint` on fixtures: `tests/fixtures/lint/clean` is a small system with no
//! finding; every other folder there holds the files that differ from it and produces the
//! finding kind it is named after, naming the file and the rule, event or function. Also: the
//! reference system is clean, the exit codes and `--json` of the command, schema
//! compatibility against a folder and a git ref, and a copy of the repository whose fraud
//! filter has a misspelt field. The trigger findings' fixtures lay their files over
//! `clean/` with `triggers/` (every trigger, no finding) laid over it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use eventrail_check::compat::{Baseline, ChangeKind};
use eventrail_check::lint::{FindingKind, Report, lint};
use eventrail_generate::Generate;
use eventrail_model::System;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/lint")
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_tree(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
}

/// A fresh folder of its own per call: tests of one process (`cargo test` runs them as
/// threads) lay the same fixture out at once.
fn scratch(name: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir =
        std::env::temp_dir().join(format!("eventrail-lint-{}-{n}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// `clean/` with the fixture's files laid over it, in a scratch folder; the generated files
/// are regenerated unless `regenerate` is false (a fixture that cannot be generated keeps
/// the clean ones).
fn system_of(fixture: &str, regenerate: bool) -> PathBuf {
    let layers: &[&str] = if fixture == "clean" { &[] } else { &[fixture] };
    system_over(fixture, layers, regenerate)
}

/// `clean/` with the `layers` laid over it in order, in a scratch folder named after `name`.
fn system_over(name: &str, layers: &[&str], regenerate: bool) -> PathBuf {
    let dir = scratch(name);
    copy_tree(&fixtures().join("clean"), &dir);
    for layer in layers {
        copy_tree(&fixtures().join(layer), &dir);
    }
    if regenerate && let Ok(app) = eventrail_model::App::load(&dir) {
        let _ = app.write_generated();
    }
    dir
}

fn lint_dir(dir: &Path) -> Report {
    let system = System::load(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let report = lint(&system, None).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let _ = std::fs::remove_dir_all(dir);
    report
}

/// A trigger finding's fixture: `clean/`, then `triggers/`, then the fixture, regenerated.
fn lint_trigger_fixture(fixture: &str) -> Report {
    lint_dir(&system_over(fixture, &["triggers", fixture], true))
}

fn lint_fixture(fixture: &str, regenerate: bool, against: Option<&Path>) -> Report {
    let dir = system_of(fixture, regenerate);
    let system = System::load(&dir).unwrap_or_else(|e| panic!("{fixture}: {e}"));
    let baseline = against.map(|a| Baseline::Dir(a.to_path_buf()));
    let report = lint(&system, baseline.as_ref()).unwrap_or_else(|e| panic!("{fixture}: {e}"));
    let _ = std::fs::remove_dir_all(&dir);
    report
}

/// Checks a fixture's report: exactly these kinds, and the finding of `kind` names `file`
/// and mentions every one of `mentions`.
fn expect(
    report: &Report,
    kinds: &[FindingKind],
    kind: FindingKind,
    file: &str,
    mentions: &[&str],
) {
    let found = report.kinds();
    let wanted: BTreeSet<FindingKind> = kinds.iter().copied().collect();
    assert_eq!(found, wanted, "{:#?}", report.findings);
    let finding = report
        .findings
        .iter()
        .find(|f| f.kind == kind)
        .unwrap_or_else(|| panic!("no {kind}: {:#?}", report.findings));
    assert_eq!(finding.file, file, "{finding:#?}");
    let text = finding.to_string();
    for m in mentions {
        assert!(text.contains(m), "{m:?} not in {text}");
    }
}

#[test]
fn the_clean_fixture_has_no_finding() {
    let report = lint_fixture("clean", false, None);
    assert!(report.is_clean(), "{:#?}", report.findings);
}

#[test]
fn the_reference_system_has_no_finding() {
    let system = System::load(eventrail_tests::repo()).expect("the reference system loads");
    let report = lint(&system, None).expect("lint runs");
    assert!(report.is_clean(), "{:#?}", report.findings);
}

#[test]
fn an_emitted_event_no_rule_receives() {
    let report = lint_fixture("emitted-event-unrouted", true, None);
    let k = FindingKind::EmittedEventUnrouted;
    expect(
        &report,
        &[k],
        k,
        "functions/billing/Cargo.toml",
        &["`billing`", "`Refunded`"],
    );
}

#[test]
fn a_rule_no_event_of_the_catalog_can_match_by_its_schema() {
    // The filter asks for amount < 0; the schema says amount >= 0: no sample needed to know.
    let report = lint_fixture("rule-matches-nothing", true, None);
    let k = FindingKind::RuleMatchesNothing;
    expect(
        &report,
        // Invoiced then reaches no rule either.
        &[k, FindingKind::EmittedEventUnrouted],
        k,
        "functions/mailer/Cargo.toml",
        &["`MailerInvoiced`", "mailer"],
    );
}

#[test]
fn a_function_waiting_for_an_event_nobody_emits() {
    let report = lint_fixture("consumed-event-never-emitted", true, None);
    let k = FindingKind::ConsumedEventNeverEmitted;
    expect(
        &report,
        // The catalog event is then emitted by nobody, too.
        &[k, FindingKind::CatalogEventNeverEmitted],
        k,
        "functions/mailer/Cargo.toml",
        &["`mailer`", "`OrderCancelled`"],
    );
}

#[test]
fn a_catalog_event_nobody_emits() {
    let report = lint_fixture("catalog-event-never-emitted", true, None);
    let k = FindingKind::CatalogEventNeverEmitted;
    expect(
        &report,
        &[k],
        k,
        "events/catalog.json",
        &["`OrderCancelled`"],
    );
}

#[test]
fn a_sample_failing_its_schema() {
    let report = lint_fixture("sample-invalid", true, None);
    let k = FindingKind::SampleInvalid;
    expect(
        &report,
        &[k],
        k,
        "events/samples/invoiced-bad-amount.json",
        &["`Invoiced`", "/data/amount", "events/schemas/invoiced.json"],
    );
}

#[test]
fn a_filter_on_a_field_the_schema_lacks() {
    let report = lint_fixture("filter-unknown-field", true, None);
    let k = FindingKind::FilterUnknownField;
    expect(
        &report,
        &[k],
        k,
        "functions/billing/Cargo.toml",
        &[
            "`BillingOrderPlaced`",
            "detail.data.totl",
            "`OrderPlaced`",
            "did you mean `total`?",
        ],
    );
}

#[test]
fn two_rules_of_one_function_that_overlap() {
    let report = lint_fixture("overlapping-rules", true, None);
    let k = FindingKind::OverlappingRules;
    expect(
        &report,
        &[k],
        k,
        "infra/template.yaml",
        &[
            "`BillingOrderPlaced`",
            "`BillingEuroOrders`",
            "`billing`",
            "OrderPlaced",
        ],
    );
}

#[test]
fn a_declaration_naming_an_event_outside_the_catalog() {
    let report = lint_fixture("unknown-event", true, None);
    let k = FindingKind::UnknownEvent;
    expect(
        &report,
        &[k],
        k,
        "functions/mailer/Cargo.toml",
        &["`mailer`", "`InvoiceVoided`"],
    );
}

#[test]
fn an_invalid_filter() {
    let report = lint_fixture("invalid-pattern", true, None);
    let k = FindingKind::InvalidPattern;
    expect(
        &report,
        // Without its rule, OrderPlaced reaches nobody.
        &[k, FindingKind::EmittedEventUnrouted],
        k,
        "functions/billing/Cargo.toml",
        &["`BillingOrderPlaced`", "numeric"],
    );
}

#[test]
fn a_generated_file_behind_its_declarations() {
    let report = lint_fixture("generated-stale", false, None);
    let k = FindingKind::GeneratedStale;
    expect(
        &report,
        &[k],
        k,
        "infra/template.yaml",
        &["eventrail infra generate"],
    );
}

#[test]
fn a_consumer_declaring_another_version() {
    let report = lint_fixture("consumer-version-mismatch", true, None);
    let k = FindingKind::ConsumerVersionMismatch;
    expect(
        &report,
        &[k],
        k,
        "functions/mailer/Cargo.toml",
        &["`mailer`", "`Invoiced` v2", "v1"],
    );
}

#[test]
fn exceptions_need_a_finding_and_cover_it_with_their_reason() {
    let report = lint_fixture("invalid-exception", true, None);
    let k = FindingKind::InvalidException;
    expect(
        &report,
        &[k],
        k,
        "Cargo.toml",
        &[
            "rule-matches-nothing",
            "MailerInvoiced",
            "matches no finding",
        ],
    );

    let report = lint_fixture("allowed-exception", true, None);
    assert!(report.is_clean(), "{:#?}", report.findings);
    assert_eq!(report.excepted.len(), 1, "{:#?}", report.excepted);
    assert_eq!(
        report.excepted[0].finding.kind,
        FindingKind::CatalogEventNeverEmitted
    );
    assert!(report.excepted[0].reason.contains("back office"));
}

#[test]
fn a_system_with_every_trigger_has_no_finding() {
    let report = lint_trigger_fixture("triggers");
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
}

#[test]
fn an_http_request_that_is_no_command() {
    let report = lint_trigger_fixture("http-request-not-a-command");
    let k = FindingKind::HttpRequestNotACommand;
    expect(
        &report,
        &[k],
        k,
        "functions/checkout/Cargo.toml",
        &["`checkout`", "http.request `Chekout`", "known: Checkout"],
    );
    assert!(!report.is_clean());
}

#[test]
fn two_functions_on_one_route() {
    let report = lint_trigger_fixture("http-route-conflict");
    let k = FindingKind::HttpRouteConflict;
    expect(
        &report,
        &[k],
        k,
        "functions/intake/Cargo.toml",
        &["`checkout`", "`intake`", "`POST /checkout`", "http"],
    );
}

#[test]
fn a_scheduled_function_emitting_nothing_is_a_warning() {
    let report = lint_trigger_fixture("scheduled-emits-nothing");
    let k = FindingKind::ScheduledEmitsNothing;
    expect(
        &report,
        &[k],
        k,
        "functions/tally/Cargo.toml",
        &["warning:", "`tally`", "emits"],
    );
    assert!(report.is_clean(), "a warning leaves the report clean");
    assert_eq!(report.warnings().count(), 1);
}

#[test]
fn a_stage_overriding_a_schedule_with_a_bad_expression() {
    let report = lint_trigger_fixture("schedule-override-invalid");
    let k = FindingKind::ScheduleOverrideInvalid;
    expect(
        &report,
        &[k],
        k,
        "samconfig.toml",
        &[
            "`local`",
            "parameter_overrides",
            "`TallySchedule`",
            "`tally`",
            "rate(1 minutes)",
        ],
    );
}

#[test]
fn a_buffered_consumer_without_a_cap_is_a_warning() {
    let report = lint_trigger_fixture("buffer-without-cap");
    let k = FindingKind::BufferWithoutCap;
    expect(
        &report,
        &[k],
        k,
        "functions/mailer/Cargo.toml",
        &[
            "warning:",
            "`mailer`",
            "max-concurrency",
            "MailerBufferQueue",
        ],
    );
    assert!(report.is_clean());
}

#[test]
fn a_queue_trigger_naming_a_queue_the_template_lacks() {
    let report = lint_trigger_fixture("queue-not-in-template");
    let k = FindingKind::QueueNotInTemplate;
    expect(
        &report,
        &[k],
        k,
        "functions/intake/Cargo.toml",
        &[
            "`intake`",
            "queue = \"PartnerQueue\"",
            "infra/template.yaml",
        ],
    );
}

#[test]
fn a_queue_trigger_whose_queue_has_no_redrive_policy() {
    let dir = system_over(
        "queue-without-redrive",
        &["triggers", "queue-not-in-template"],
        false,
    );
    let template = dir.join("infra/template.yaml");
    let text = std::fs::read_to_string(&template).unwrap();
    let partner = "  PartnerQueue:\n    Type: AWS::SQS::Queue\n    Properties:\n      SqsManagedSseEnabled: true\n\n";
    let marker = "  # ==== generated functions: begin";
    assert!(text.contains(marker));
    std::fs::write(
        &template,
        text.replacen(marker, &format!("{partner}{marker}"), 1),
    )
    .unwrap();
    let app = eventrail_model::App::load(&dir).unwrap();
    let _ = app.write_generated();
    let report = lint_dir(&dir);
    let k = FindingKind::QueueWithoutRedrive;
    expect(
        &report,
        &[k],
        k,
        "infra/template.yaml",
        &["warning:", "`PartnerQueue`", "`intake`", "RedrivePolicy"],
    );
}

#[test]
fn a_breaking_schema_change_needs_a_version_bump() {
    let clean = fixtures().join("clean");
    let report = lint_fixture("breaking-change-without-version-bump", true, Some(&clean));
    let k = FindingKind::BreakingChangeWithoutVersionBump;
    expect(
        &report,
        &[k],
        k,
        "events/schemas/order-placed.json",
        &[
            "`OrderPlaced`",
            "enum-values-removed",
            "data.currency",
            "USD",
            "billing",
        ],
    );

    let report = lint_fixture("breaking-change-with-version-bump", true, Some(&clean));
    assert!(report.is_clean(), "{:#?}", report.findings);
    let changes = report.compatibility.expect("compared");
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert_eq!((changes[0].old_version, changes[0].new_version), (1, 2));
    assert_eq!(changes[0].changes[0].kind, ChangeKind::EnumValuesRemoved);
    assert!(changes[0].changes[0].breaking);
    assert_eq!(changes[0].consumers, vec![("billing".to_owned(), None)]);

    let report = lint_fixture("clean", false, Some(&clean));
    assert!(report.is_clean() && report.compatibility == Some(Vec::new()));

    // An event that left the catalog since the baseline.
    let older = system_of("emitted-event-unrouted", true);
    let report = lint_fixture("clean", false, Some(&older));
    let k = FindingKind::BreakingChangeWithoutVersionBump;
    expect(
        &report,
        &[k],
        k,
        "events/catalog.json",
        &["`Refunded`", "event-removed"],
    );
    let _ = std::fs::remove_dir_all(&older);
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn schemas_are_compared_with_a_git_ref() {
    let dir = system_of("clean", false);
    git(&dir, &["init", "-q"]);
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-qm", "baseline"]);
    copy_tree(
        &fixtures().join("breaking-change-without-version-bump"),
        &dir,
    );
    let system = System::load(&dir).unwrap();
    let baseline = Baseline::from_arg(&dir, "HEAD");
    let report = lint(&system, Some(&baseline)).unwrap();
    assert_eq!(
        report.kinds(),
        BTreeSet::from([FindingKind::BreakingChangeWithoutVersionBump]),
        "{:#?}",
        report.findings
    );
    let error = lint(&system, Some(&Baseline::from_arg(&dir, "no-such-ref"))).unwrap_err();
    assert!(error.to_string().contains("no-such-ref"), "{error}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn lint_cli(args: &[&str], root: &Path) -> std::process::Output {
    let mut all: Vec<&std::ffi::OsStr> = vec!["lint".as_ref()];
    all.extend(args.iter().map(std::ffi::OsStr::new));
    all.push("--root".as_ref());
    all.push(root.as_os_str());
    eventrail_tests::eventrail(&all)
}

#[test]
fn the_command_exits_0_clean_1_findings_2_unreadable() {
    let out = lint_cli(&[], &eventrail_tests::repo());
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert!(output_text(&out).contains("lint: clean"));

    let dir = system_of("filter-unknown-field", true);
    let out = lint_cli(&["--json"], &dir);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("--json gives JSON");
    assert_eq!(json["findings"][0]["kind"], "filter-unknown-field");
    assert_eq!(json["findings"][0]["rule"], "BillingOrderPlaced");
    assert_eq!(json["findings"][0]["file"], "functions/billing/Cargo.toml");

    std::fs::remove_file(dir.join("events/schemas/invoiced.json")).unwrap();
    let out = lint_cli(&[], &dir);
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("invoiced.json"),
        "{}",
        output_text(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_misspelt_field_in_the_fraud_filter_fails_lint_naming_the_rule() {
    let dir = scratch("fraud-typo");
    eventrail_tests::copy_repository(&dir);
    let manifest = dir.join("functions/fraud/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    assert!(
        text.contains("total_cents = "),
        "the fraud filter tests total_cents"
    );
    std::fs::write(&manifest, text.replace("total_cents = ", "totl_cents = ")).unwrap();
    let out = lint_cli(&[], &dir);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("functions/fraud/Cargo.toml: rule `FraudSuspiciousOrderPlaced` filters on `detail.data.order.totl_cents`"),
        "{text}"
    );
    assert!(text.contains("did you mean `total_cents`?"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `clean/` with trace context in its events' metadata (`trace-context-rollout/`: metadata
/// open to additions, `traceparent`/`tracestate` optional, a sample carrying a traceparent),
/// `settings` appended to its `[workspace.metadata.eventrail]`, generated files regenerated.
fn traced_system(settings: &str) -> PathBuf {
    let dir = system_over("trace-context-rollout", &["trace-context-rollout"], false);
    set_trace_settings(&dir, settings);
    dir
}

/// Appends `settings` to the `[workspace.metadata.eventrail]` table (the last of `clean/`'s
/// manifest, as of `clean/`) and regenerates the generated files.
fn set_trace_settings(dir: &Path, settings: &str) {
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let text = text.replace("trace-context = \"accept\"\n", "");
    std::fs::write(&manifest, format!("{text}{settings}")).unwrap();
    let app = eventrail_model::App::load(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    app.write_generated()
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
}

fn lint_against(dir: &Path, baseline: &Path) -> Report {
    let system = System::load(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    lint(&system, Some(&Baseline::Dir(baseline.to_path_buf())))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

/// The trace context changes of the compatibility report: (event, field, breaking).
fn trace_context_changes(report: &Report) -> Vec<(String, String, bool)> {
    report
        .compatibility
        .as_ref()
        .expect("compared")
        .iter()
        .flat_map(|e| {
            e.changes
                .iter()
                .filter(|c| c.kind == ChangeKind::TraceContextAdded)
                .map(|c| (e.detail_type.clone(), c.path.clone(), c.breaking))
        })
        .collect()
}

#[test]
fn trace_context_against_closed_metadata_needs_the_two_step_rollout() {
    let clean = fixtures().join("clean");
    let dir = traced_system("");
    let report = lint_against(&dir, &clean);
    let k = FindingKind::TraceContextRollout;
    // One finding for the app (not one per event), and no version bump asked for.
    expect(
        &report,
        &[k],
        k,
        "events/schemas/order-placed.json",
        &[
            "`metadata.traceparent`",
            "`metadata.tracestate`",
            "and 1 other event schema",
            "additionalProperties: false",
            "trace-context = \"write\"",
            "deploy with trace-context = \"accept\" first",
            "then with \"write\"",
            "billing, mailer",
        ],
    );
    assert_eq!(
        report.findings[0].subject, "metadata.traceparent",
        "{:#?}",
        report.findings
    );
    let changes = trace_context_changes(&report);
    assert_eq!(changes.len(), 4, "{changes:#?}");
    assert!(changes.iter().all(|(_, _, breaking)| *breaking));

    // The first step: producers accept trace context and write none; compatible.
    set_trace_settings(&dir, "trace-context = \"accept\"\n");
    let report = lint_against(&dir, &clean);
    assert!(report.is_clean(), "{:#?}", report.findings);
    let changes = trace_context_changes(&report);
    assert_eq!(changes.len(), 4, "{changes:#?}");
    assert!(changes.iter().all(|(_, _, breaking)| !breaking));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn trace_context_against_open_metadata_or_one_that_has_it_is_compatible() {
    // A baseline whose metadata is open, without the fields.
    let open = system_of("clean", false);
    for name in ["order-placed.json", "invoiced.json"] {
        let path = open.join("events/schemas").join(name);
        let mut schema: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        schema["$defs"]["Metadata"]["additionalProperties"] = serde_json::Value::Bool(true);
        std::fs::write(&path, serde_json::to_string_pretty(&schema).unwrap()).unwrap();
    }
    let dir = traced_system("");
    let report = lint_against(&dir, &open);
    assert!(report.is_clean(), "{:#?}", report.findings);
    let changes = trace_context_changes(&report);
    assert_eq!(changes.len(), 4, "{changes:#?}");
    assert!(changes.iter().all(|(_, _, breaking)| !breaking));

    // A baseline that already has them (the accept step deployed): no change at all.
    let accepted = traced_system("trace-context = \"accept\"\n");
    let report = lint_against(&dir, &accepted);
    assert!(report.is_clean(), "{:#?}", report.findings);
    assert_eq!(report.compatibility, Some(Vec::new()));
    for d in [open, dir, accepted] {
        let _ = std::fs::remove_dir_all(&d);
    }
}

#[test]
fn the_command_walks_the_trace_context_rollout_against_git_refs() {
    let dir = system_of("clean", false);
    git(&dir, &["init", "-q"]);
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-qm", "deployed: metadata closed"]);
    copy_tree(&fixtures().join("trace-context-rollout"), &dir);
    set_trace_settings(&dir, "");

    // Writing trace context at once: exit 1, the rollout named, file and field.
    let out = lint_cli(&["--against", "HEAD"], &dir);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(
            "events/schemas/order-placed.json: the events' metadata gains `metadata.traceparent`"
        ),
        "{text}"
    );
    assert!(
        text.contains("deploy with trace-context = \"accept\" first")
            && text.contains("[trace-context-rollout]"),
        "{text}"
    );
    assert!(
        text.contains("breaking   trace-context-added metadata.traceparent"),
        "{text}"
    );
    assert!(
        !text.contains("breaking-change-without-version-bump"),
        "{text}"
    );

    // Step one, accept: clean against the deployed ref; then deployed.
    set_trace_settings(&dir, "trace-context = \"accept\"\n");
    let out = lint_cli(&["--against", "HEAD"], &dir);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("compatible trace-context-added metadata.traceparent"),
        "{text}"
    );
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-qm", "deployed: accept"]);

    // Step two, write: clean against the accept deploy.
    set_trace_settings(&dir, "");
    let out = lint_cli(&["--against", "HEAD", "--json"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("--json gives JSON");
    assert_eq!(json["findings"], serde_json::json!([]));
    assert_eq!(json["compatibility"], serde_json::json!([]));
    let _ = std::fs::remove_dir_all(&dir);
}
