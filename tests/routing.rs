//! Offline routing checks: the rules of infra/template.yaml against events/samples.
//!
//! - every sample reaches exactly the functions the routing index (events/consumers.json,
//!   generated from the functions' declarations with the pattern engine) names for it;
//! - every sample reaches at least one function;
//! - every rule with a pattern matches at least one sample (a rule that can never fire
//!   fails the test with its name);
//! - on a generated system with every trigger (`fixtures/lint/triggers`), a buffered
//!   consumer's rule targets its buffer queue and still reaches the function through it, and
//!   the system model knows each function's trigger as the template and samconfig have it.

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_path_buf()
}

#[test]
fn every_sample_reaches_exactly_its_declared_consumers_and_every_rule_fires() {
    let problems = eventrail_tests::routing_problems(&repo());
    assert!(
        problems.is_empty(),
        "routing differs from the declarations:\n  {}",
        problems.join("\n  ")
    );
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let path = entry.expect("a directory entry").path();
        let target = to.join(path.file_name().expect("a file name"));
        if path.is_dir() {
            copy_tree(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
}

/// `fixtures/lint/clean` with `fixtures/lint/triggers` laid over it, generated, in a scratch
/// folder.
fn triggers_system() -> PathBuf {
    use eventrail_generate::Generate;
    let dir =
        std::env::temp_dir().join(format!("eventrail-routing-triggers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let fixtures = repo().join("tests/fixtures/lint");
    copy_tree(&fixtures.join("clean"), &dir);
    copy_tree(&fixtures.join("triggers"), &dir);
    eventrail_model::App::load(&dir)
        .and_then(|app| app.write_generated())
        .expect("the system with every trigger generates");
    dir
}

#[test]
fn a_buffered_consumer_is_reached_through_its_buffer_and_each_trigger_is_known() {
    use eventrail_model::{FunctionTrigger, Router, System};
    let dir = triggers_system();
    let problems = eventrail_tests::routing_problems(&dir);
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    let system = System::load(&dir).expect("loads");
    let rule = system
        .template
        .rules()
        .iter()
        .find(|r| r.logical_id == "MailerInvoiced")
        .expect("mailer's rule");
    assert!(
        rule.target_functions().next().is_none(),
        "the rule targets the buffer, not the function"
    );
    assert_eq!(
        rule.targets[0].resource.as_deref(),
        Some("MailerBufferQueue")
    );
    let router = Router::from_template(&system.template).expect("compiles");
    let invoiced: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("events/samples/invoiced.json")).unwrap(),
    )
    .unwrap();
    let routes = router.routes(&invoiced);
    assert_eq!(routes.len(), 1, "{routes:?}");
    assert_eq!(routes[0].functions, ["mailer"]);
    assert_eq!(routes[0].queues, ["MailerBufferQueue"]);

    let Some(FunctionTrigger::Buffered(buffer)) = system.trigger("mailer") else {
        panic!("mailer is buffered: {:?}", system.trigger("mailer"));
    };
    assert_eq!(buffer.queue, "MailerBufferQueue");
    assert!(buffer.in_template && buffer.own);
    assert_eq!(buffer.failure_queue.as_deref(), Some("MailerFailureQueue"));
    assert_eq!(buffer.batching.max_concurrency, Some(2));
    assert_eq!(
        system.failure_queue("mailer").as_deref(),
        Some("MailerFailureQueue")
    );

    let Some(FunctionTrigger::Queue(source)) = system.trigger("intake") else {
        panic!("intake reads a queue: {:?}", system.trigger("intake"));
    };
    assert_eq!(source.queue, "IntakeSourceQueue");
    assert_eq!(source.failure_queue.as_deref(), Some("IntakeFailureQueue"));
    assert_eq!(source.batching.batch_size(), 5);

    let Some(FunctionTrigger::Schedule(schedule)) = system.trigger("tally") else {
        panic!("tally is scheduled: {:?}", system.trigger("tally"));
    };
    assert_eq!(schedule.parameter, "TallySchedule");
    assert_eq!(schedule.expression_in("default"), "rate(1 day)");
    assert_eq!(schedule.expression_in("local"), "rate(1 minute)");
    let in_template = schedule.in_template.expect("the template schedules tally");
    let scheduled = system
        .template
        .schedules()
        .iter()
        .find(|s| s.logical_id == in_template)
        .unwrap();
    assert_eq!(scheduled.expression_parameter(), Some("TallySchedule"));
    assert_eq!(
        scheduled
            .default_expression(system.template.parameters())
            .as_deref(),
        Some("rate(1 day)")
    );
    assert_eq!(scheduled.dead_letter.as_deref(), Some("TallyFailureQueue"));

    let Some(FunctionTrigger::Http(http)) = system.trigger("checkout") else {
        panic!("checkout has a route: {:?}", system.trigger("checkout"));
    };
    assert_eq!(http.in_template.as_deref(), Some("POST /checkout"));
    assert!(http.direct_invoke);
    let route = system
        .template
        .api_routes()
        .iter()
        .find(|r| r.function == "Checkout")
        .unwrap();
    assert_eq!(route.authorizer.as_deref(), Some("AWS_IAM"));
    assert_eq!(
        route.rest_api.as_deref(),
        Some(eventrail_contract::names::REST_API)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
