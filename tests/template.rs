//! infra/template.yaml invariants: every function is wired for delivery, failure handling and
//! least privilege, and a template that breaks one fails naming the function.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use eventrail_check::Violation;
use eventrail_generate::Generate;
use eventrail_model::{App, FunctionDeclaration, SamConfig, Template, rule_pattern};
use serde_json::{Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn app() -> App {
    App::load(root()).unwrap()
}

/// Every function's declaration (functions/*/Cargo.toml).
fn declared() -> Vec<FunctionDeclaration> {
    app().functions
}

/// The invariants of `t` against the functions' declarations.
fn check_invariants(t: &Template) -> Vec<Violation> {
    eventrail_check::check_invariants(t, &declared(), &app().project.settings)
}

/// The rule-subscribed functions, by name.
fn consumers() -> Vec<String> {
    declared()
        .into_iter()
        .filter(|f| f.declaration.is_consumer())
        .map(|f| f.name)
        .collect()
}

fn template() -> Template {
    Template::load(root().join("infra/template.yaml")).unwrap()
}

/// A copy of `t` with its JSON changed by `edit`, re-read into the model.
fn edited(t: &Template, edit: impl FnOnce(&mut Value)) -> Template {
    let mut json = t.json().clone();
    edit(&mut json);
    Template::from_json(json, t.file()).unwrap()
}

/// The statements of a role's first inline policy.
fn policy(j: &mut Value, role: &str) -> Vec<Value> {
    j["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap()
        .clone()
}

/// Replaces the statements of a role's first inline policy.
fn set(j: &mut Value, role: &str, statements: Vec<Value>) {
    j["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"] =
        Value::Array(statements);
}

fn report(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| format!("  - {v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn about<'a>(violations: &'a [Violation], function: &str) -> Vec<&'a Violation> {
    violations
        .iter()
        .filter(|v| {
            v.function
                .as_deref()
                .is_some_and(|f| f.contains(&format!("`{function}`")))
        })
        .collect()
}

#[test]
fn real_template_meets_every_invariant_and_is_generated_from_the_declarations() {
    let problems = eventrail_tests::template_problems(&root());
    assert!(
        problems.is_empty(),
        "infra/template.yaml:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn a_stale_generated_section_is_caught() {
    let app = app();
    let mut edited_app = app.clone();
    let fraud = edited_app
        .functions
        .iter_mut()
        .find(|f| f.declaration.filter.is_some())
        .expect("a function with a content filter");
    fraud.declaration.filter = None;
    let files = edited_app.generated_files().unwrap();
    assert!(
        files
            .iter()
            .any(|f| f.stale && f.path.ends_with("infra/template.yaml")),
        "changing a declaration must make the checked-in template stale"
    );
    // The infrastructure is current (the pictures in the docs are tests/graph.rs's business:
    // `eventrail new function` leaves them to `infra generate`).
    assert!(
        app.generated_files()
            .unwrap()
            .iter()
            .filter(|f| f.kind == eventrail_generate::GeneratedKind::Infrastructure)
            .all(|f| !f.stale)
    );
}

#[test]
fn a_role_allowed_more_detail_types_than_declared_fails() {
    let t = template();
    let emitter = declared()
        .into_iter()
        .find(|f| f.declaration.emits_events())
        .expect("an emitting function");
    let role = format!("{}Role", emitter.logical_id());
    let widened = edited(&t, |j| {
        let s = policy(j, &role)
            .into_iter()
            .map(|mut s| {
                if s["Action"] == json!("events:PutEvents") {
                    s["Condition"]["ForAllValues:StringEquals"]["events:detail-type"] =
                        json!(["PaymentCaptured", "OrderShipped", "OrderPlaced"]);
                }
                s
            })
            .collect();
        set(j, &role, s);
    });
    let v = check_invariants(&widened);
    assert!(
        about(&v, &emitter.name)
            .iter()
            .any(|v| v.message.contains("detail-types") && v.message.contains("declares")),
        "{}",
        report(&v)
    );
}

#[test]
fn a_queue_without_an_explicit_maximum_message_size_fails() {
    let t = template();
    let unsized_queue = edited(&t, |j| {
        j["Resources"]["OutboxQueue"]["Properties"]
            .as_object_mut()
            .unwrap()
            .remove("MaximumMessageSize")
            .expect("the outbox sets its maximum message size");
    });
    let v = check_invariants(&unsized_queue);
    assert!(
        v.iter()
            .any(|v| v.resource == "OutboxQueue" && v.message.contains("MaximumMessageSize")),
        "{}",
        report(&v)
    );
}

#[test]
fn a_bus_without_the_policy_that_denies_forged_sources_fails() {
    let t = template();
    let open = edited(&t, |j| {
        let resources = j["Resources"].as_object_mut().unwrap();
        let ids: Vec<String> = resources
            .iter()
            .filter(|(_, r)| r["Type"] == json!("AWS::Events::EventBusPolicy"))
            .filter(|(_, r)| r["Properties"]["Statement"]["Effect"] == json!("Deny"))
            .map(|(id, _)| id.clone())
            .collect();
        assert!(
            !ids.is_empty(),
            "the template has a deny statement on the bus"
        );
        for id in ids {
            resources.remove(&id);
        }
    });
    let v = check_invariants(&open);
    assert!(
        v.iter()
            .any(|v| v.resource == "EventBus" && v.message.contains("forge")),
        "{}",
        report(&v)
    );
}

#[test]
fn an_emitter_missing_from_the_bus_policy_exemption_fails() {
    let t = template();
    let emitter = declared()
        .into_iter()
        .find(|f| f.declaration.emits_events())
        .expect("an emitting function");
    let role = format!("{}Role", emitter.logical_id());
    let shut_out = edited(&t, |j| {
        let resources = j["Resources"].as_object_mut().unwrap();
        for (_, r) in resources.iter_mut() {
            if r["Type"] == json!("AWS::Events::EventBusPolicy")
                && r["Properties"]["Statement"]["Effect"] == json!("Deny")
            {
                let condition = r["Properties"]["Statement"]["Condition"].to_string();
                assert!(condition.contains(&role), "{role} is exempt: {condition}");
                let without = condition.replace(&format!("\"{role}\""), "\"SomeoneElse\"");
                r["Properties"]["Statement"]["Condition"] = serde_json::from_str(&without).unwrap();
            }
        }
    });
    let v = check_invariants(&shut_out);
    assert!(
        about(&v, &emitter.name)
            .iter()
            .any(|v| v.message.contains("not exempt")),
        "{}",
        report(&v)
    );
}

#[test]
fn put_events_without_source_conditions_fails() {
    let t = template();
    let emitter = declared()
        .into_iter()
        .find(|f| f.declaration.emits_events())
        .expect("an emitting function");
    let role = format!("{}Role", emitter.logical_id());
    let unconditioned = edited(&t, |j| {
        let s = policy(j, &role)
            .into_iter()
            .map(|mut s| {
                if s["Action"] == json!("events:PutEvents") {
                    s.as_object_mut().unwrap().remove("Condition");
                }
                s
            })
            .collect();
        set(j, &role, s);
    });
    let v = check_invariants(&unconditioned);
    assert!(
        about(&v, &emitter.name)
            .iter()
            .any(|v| v.message.contains("events:source") && v.message.contains("forge")),
        "{}",
        report(&v)
    );
}

/// A dead letter too large for a queue keeps its event under the key prefix the template
/// gives the function (EVENTRAIL_FAILED_EVENTS_PREFIX), and the role may s3:PutObject exactly
/// there: a role scoped to one prefix while the runtime writes another (the Lambda name) is
/// AccessDenied on AWS for every large dead letter.
#[test]
fn the_failed_events_prefix_and_the_roles_put_object_are_one_prefix() {
    let t = template();
    let inventory = t.function_by_binary("inventory").unwrap();
    assert_eq!(
        inventory.environment.get("EVENTRAIL_FAILED_EVENTS_PREFIX"),
        Some(&json!("inventory/"))
    );

    // The template before the fix: a role scoped to `inventory/*`, the runtime told nothing
    // (it keyed by the Lambda name, `<stack>-inventory/`).
    let untold = edited(&t, |j| {
        j["Resources"]["Inventory"]["Properties"]["Environment"]["Variables"]
            .as_object_mut()
            .unwrap()
            .remove("EVENTRAIL_FAILED_EVENTS_PREFIX")
            .expect("the template tells the prefix");
    });
    let v = check_invariants(&untold);
    assert!(
        about(&v, "inventory")
            .iter()
            .any(|v| v.message.contains("EVENTRAIL_FAILED_EVENTS_PREFIX is not")),
        "{}",
        report(&v)
    );

    let lambda_name = edited(&t, |j| {
        j["Resources"]["Inventory"]["Properties"]["Environment"]["Variables"]["EVENTRAIL_FAILED_EVENTS_PREFIX"] =
            json!("eventrail-dev-inventory/");
    });
    let v = check_invariants(&lambda_name);
    let found = about(&v, "inventory");
    assert!(
        found.iter().any(|v| v
            .message
            .contains("not the function's own prefix `inventory/`"))
            && found
                .iter()
                .any(|v| v.message.contains("the two must be one prefix")),
        "{}",
        report(&v)
    );

    let other_prefix = edited(&t, |j| {
        let s = policy(j, "InventoryRole")
            .into_iter()
            .map(|mut s| {
                if s["Action"] == json!("s3:PutObject") {
                    s["Resource"] = json!({"Fn::Sub": "${FailedEventsBucket.Arn}/*"});
                }
                s
            })
            .collect();
        set(j, "InventoryRole", s);
    });
    let v = check_invariants(&other_prefix);
    assert!(
        about(&v, "inventory")
            .iter()
            .any(|v| v.message.contains("the two must be one prefix")),
        "{}",
        report(&v)
    );
}

/// `events:source` and `events:detail-type` hold one value per entry of a PutEvents request:
/// a role's allow uses `ForAllValues:StringEquals` on both, and `Null: false` on both, since
/// `ForAllValues` alone also holds when the key is absent.
#[test]
fn put_events_conditions_use_the_set_operator_and_require_the_keys() {
    let t = template();
    let emitter = declared()
        .into_iter()
        .find(|f| f.declaration.emits_events())
        .expect("an emitting function");
    let role = format!("{}Role", emitter.logical_id());
    let rewrite = |edit: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        edited(&t, |j| {
            let s = policy(j, &role)
                .into_iter()
                .map(|mut s| {
                    if s["Action"] == json!("events:PutEvents") {
                        edit(s["Condition"].as_object_mut().unwrap());
                    }
                    s
                })
                .collect();
            set(j, &role, s);
        })
    };

    // The statement before the fix: a single-valued operator, no Null check.
    let single_valued = rewrite(&|c| {
        let keys = c.remove("ForAllValues:StringEquals").unwrap();
        c.remove("Null").unwrap();
        c.insert("StringEquals".to_owned(), keys);
    });
    let v = check_invariants(&single_valued);
    let found = about(&v, &emitter.name);
    for key in ["events:source", "events:detail-type"] {
        assert!(
            found.iter().any(|v| v.message.contains(&format!(
                "without a ForAllValues:StringEquals condition on {key}"
            ))),
            "{}",
            report(&v)
        );
        assert!(
            found
                .iter()
                .any(|v| v.message.contains(&format!("Null {key}: \"false\""))),
            "{}",
            report(&v)
        );
    }

    let absent_allowed = rewrite(&|c| {
        c["Null"]["events:detail-type"] = json!("true");
    });
    let v = check_invariants(&absent_allowed);
    let found = about(&v, &emitter.name);
    assert!(
        found
            .iter()
            .any(|v| v.message.contains("Null events:detail-type: \"false\"")),
        "{}",
        report(&v)
    );
    assert!(
        !found
            .iter()
            .any(|v| v.message.contains("Null events:source")),
        "{}",
        report(&v)
    );
}

/// The statement of the bus policy that denies `PutEvents` to everyone but the emitting roles.
fn bus_deny(j: &mut Value) -> &mut Value {
    let id = j["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, r)| {
            r["Type"] == json!("AWS::Events::EventBusPolicy")
                && r["Properties"]["Statement"]["Effect"] == json!("Deny")
        })
        .map(|(id, _)| id.clone())
        .expect("the template has a deny statement on the bus");
    &mut j["Resources"][id]["Properties"]["Statement"]
}

/// An edit of a policy statement.
type Edit = dyn Fn(&mut Value);

/// The anti-forgery deny is checked for what it denies and to whom: each of these edits was
/// accepted by the invariant before, and each leaves the app's sources open to someone.
#[test]
fn the_bus_deny_is_checked_for_what_it_denies_and_to_whom() {
    let t = template();
    let settings = app().project.settings;
    let pattern = format!("{}*", settings.source_prefix);
    let deny = bus_deny(&mut t.json().clone()).clone();
    assert_eq!(deny["Principal"], json!("*"));
    assert_eq!(deny["Action"], json!("events:PutEvents"));
    assert_eq!(
        deny["Condition"]["ForAnyValue:StringLike"]["events:source"],
        json!([pattern])
    );

    let cases: Vec<(&str, Box<Edit>, &str)> = vec![
        (
            "another source pattern",
            Box::new(|s| {
                s["Condition"]["ForAnyValue:StringLike"]["events:source"] = json!(["other.*"])
            }),
            "not the app's sources",
        ),
        (
            "a single-valued operator",
            Box::new(|s| {
                let c = s["Condition"].as_object_mut().unwrap();
                let v = c.remove("ForAnyValue:StringLike").unwrap();
                c.insert("StringLike".to_owned(), v);
            }),
            "has no ForAnyValue:StringLike condition on events:source",
        ),
        (
            "one principal instead of everyone",
            Box::new(|s| {
                s["Principal"] = json!({"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/x"}})
            }),
            "must name Principal \"*\"",
        ),
        (
            "another action",
            Box::new(|s| s["Action"] = json!("events:PutRule")),
            "does not deny events:PutEvents",
        ),
        (
            "a stranger exempt",
            Box::new(|s| {
                s["Condition"]["ArnNotLike"]["aws:PrincipalArn"]["Fn::If"][2]
                    .as_array_mut()
                    .unwrap()
                    .push(json!("arn:aws:iam::123456789012:role/anyone"))
            }),
            "arn:aws:iam::123456789012:role/anyone",
        ),
        (
            "the trusted publishers dropped",
            Box::new(|s| {
                let roles = s["Condition"]["ArnNotLike"]["aws:PrincipalArn"]["Fn::If"][2].clone();
                s["Condition"]["ArnNotLike"]["aws:PrincipalArn"] = roles;
            }),
            "does not exempt the principals of the TrustedPublisherArns parameter",
        ),
        (
            // The exemption before the fix: an empty parameter gave an empty ARN.
            "the trusted publishers unguarded",
            Box::new(|s| {
                let with = s["Condition"]["ArnNotLike"]["aws:PrincipalArn"]["Fn::If"][1].clone();
                s["Condition"]["ArnNotLike"]["aws:PrincipalArn"] = with;
            }),
            "an empty list adds an empty ARN",
        ),
    ];
    for (what, edit, expected) in cases {
        let broken = edited(&t, |j| edit(bus_deny(j)));
        let v = check_invariants(&broken);
        assert!(
            v.iter()
                .any(|v| v.resource.contains("EventBus") && v.message.contains(expected)),
            "{what}: expected a violation containing {expected:?}:\n{}",
            report(&v)
        );
    }
}

/// The statements of a queue policy.
fn queue_statements<'j>(j: &'j mut Value, policy: &str) -> &'j mut Vec<Value> {
    j["Resources"][policy]["Properties"]["PolicyDocument"]["Statement"]
        .as_array_mut()
        .unwrap()
}

/// Each queue's policy denies sqs:SendMessage to every principal but its sender: the owning
/// role (failure queue: the function's poison letters and Lambda's on-failure records, which
/// Lambda writes with the function's execution role; the outbox), or the rule (delivery DLQ).
#[test]
fn queue_policies_deny_every_other_sender() {
    let t = template();
    let drop_denies = |j: &mut Value, policy: &str| {
        queue_statements(j, policy).retain(|s| s["Effect"] != json!("Deny"));
    };

    for (policy, function) in [
        ("PaymentsFailureQueuePolicy", Some("payments")),
        ("ShippingDeliveryDlqPolicy", Some("shipping")),
        ("OutboxQueuePolicy", None),
    ] {
        let open = edited(&t, |j| drop_denies(j, policy));
        let v = check_invariants(&open);
        let hit = |v: &&Violation| {
            v.resource == policy
                && v.message.contains("no statement denies")
                && function.is_none_or(|f| {
                    v.function
                        .as_deref()
                        .is_some_and(|l| l.contains(&format!("`{f}`")))
                })
        };
        assert!(v.iter().any(|v| hit(&v)), "{policy}:\n{}", report(&v));
    }

    // A deny that exempts someone else than the sender leaves the sender's allow open to them.
    let other_role = edited(&t, |j| {
        for s in queue_statements(j, "FraudFailureQueuePolicy") {
            if s["Effect"] == json!("Deny") {
                s["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] =
                    json!({"Fn::GetAtt": ["InventoryRole", "Arn"]});
            }
        }
    });
    let v = check_invariants(&other_role);
    assert!(
        about(&v, "fraud")
            .iter()
            .any(|v| v.message.contains("no statement denies")),
        "{}",
        report(&v)
    );
    let other_rule = edited(&t, |j| {
        for s in queue_statements(j, "InventoryDeliveryDlqPolicy") {
            if s["Effect"] == json!("Deny") {
                s["Condition"]["ArnNotEquals"]["aws:SourceArn"] =
                    json!("arn:aws:events:us-east-1:000000000000:rule/x/y");
            }
        }
    });
    let v = check_invariants(&other_rule);
    assert!(
        about(&v, "inventory")
            .iter()
            .any(|v| v.message.contains("no statement denies")),
        "{}",
        report(&v)
    );
}

/// The outbox and every dead-letter queue alarm on the age of their oldest message (a letter
/// nobody redrives, a message nobody reads, expires with the queue's retention).
#[test]
fn every_queue_alarms_on_the_age_of_its_oldest_message() {
    let t = template();
    for (alarm, queue) in [
        ("OutboxQueueAgeAlarm", "OutboxQueue"),
        (
            "NotificationsDeliveryDlqAgeAlarm",
            "NotificationsDeliveryDlq",
        ),
        ("InventoryFailureQueueAgeAlarm", "InventoryFailureQueue"),
    ] {
        let unwatched = edited(&t, |j| {
            j["Resources"]
                .as_object_mut()
                .unwrap()
                .remove(alarm)
                .expect("the template has the alarm");
        });
        let v = check_invariants(&unwatched);
        assert!(
            v.iter().any(|v| v.resource == queue
                && v.message
                    .contains("no alarm on ApproximateAgeOfOldestMessage")),
            "{alarm}:\n{}",
            report(&v)
        );
    }
}

#[test]
fn every_function_crate_is_in_the_template_and_builds_from_its_own_dir() {
    let t = template();
    let on_disk: BTreeSet<String> = declared().into_iter().map(|f| f.name).collect();
    let in_template: BTreeSet<String> = t
        .functions()
        .iter()
        .map(|f| f.binary.clone().unwrap_or_else(|| f.logical_id.clone()))
        .collect();
    assert_eq!(
        on_disk, in_template,
        "functions/ and infra/template.yaml disagree"
    );

    let infra = root().join("infra");
    for f in t.functions() {
        let name = f.display_name();
        assert_eq!(
            f.build_method.as_deref(),
            Some("rust-cargolambda"),
            "{name}"
        );
        assert_eq!(
            f.code_uri,
            Some(json!(format!("../functions/{name}"))),
            "{name}"
        );
        let manifest =
            std::fs::read_to_string(infra.join(format!("../functions/{name}/Cargo.toml"))).unwrap();
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "{name}: CodeUri crate is not named {name}"
        );
        assert_eq!(f.runtime, Some(json!("provided.al2023")), "{name}");
        assert_eq!(f.handler, Some(json!("bootstrap")), "{name}");
        assert_eq!(
            f.architectures,
            Some(json!([{"Ref": "Architecture"}])),
            "{name}"
        );
    }
    let arch = t
        .parameters()
        .iter()
        .find(|p| p.name == "Architecture")
        .unwrap();
    assert_eq!(arch.default, Some(json!("arm64")));
}

#[test]
fn subscriptions_are_exactly_the_declarations() {
    let t = template();
    let app = app();
    for f in &app.functions {
        let id = t
            .function_by_binary(&f.name)
            .unwrap_or_else(|| panic!("{} is not in the template", f.name))
            .logical_id
            .clone();
        // The rules that invoke it, or that fill a queue it polls (a buffered consumer's).
        let polled: Vec<String> = t.mappings_to(&id).filter_map(|m| m.queue.clone()).collect();
        let rules: Vec<_> = t
            .rules()
            .iter()
            .filter(|r| {
                r.targets.iter().any(|target| {
                    target.function.as_deref() == Some(id.as_str())
                        || target.resource.as_ref().is_some_and(|q| polled.contains(q))
                })
            })
            .collect();
        if !f.declaration.is_consumer() {
            assert_eq!(rules.len(), 0, "{} is no consumer", f.name);
            continue;
        }
        let pattern = rule_pattern(f, &app.catalog, &app.project.settings).unwrap();
        assert_eq!(rules.len(), 1, "{}: expected one rule", f.name);
        assert_eq!(
            rules[0].pattern.as_ref(),
            Some(&pattern),
            "{}: pattern",
            f.name
        );
        assert_eq!(
            rules[0].bus_resource.as_deref(),
            Some("EventBus"),
            "{}: bus",
            f.name
        );
    }
}

#[test]
fn environment_matches_the_declarations() {
    let t = template();
    for d in declared() {
        let f = t.function_by_binary(&d.name).unwrap();
        let name = &d.name;
        assert_eq!(
            f.environment.get("EVENTRAIL_BUS_NAME"),
            d.declaration
                .emits_events()
                .then(|| json!({"Ref": "EventBus"}))
                .as_ref(),
            "{name}: EVENTRAIL_BUS_NAME"
        );
        assert!(f.environment.contains_key("EVENTRAIL_DLQ_URL"), "{name}");
        assert!(!f.environment.contains_key("EVENTRAIL_DRY_RUN"), "{name}");
        // The app's business key reaches every function; the trace-context mode is the
        // default (write), which the template leaves unset.
        assert_eq!(
            f.environment.get("EVENTRAIL_BUSINESS_KEY"),
            app()
                .project
                .settings
                .business_key
                .map(Value::String)
                .as_ref(),
            "{name}: EVENTRAIL_BUSINESS_KEY"
        );
        assert!(
            f.environment.contains_key("EVENTRAIL_BUSINESS_KEY"),
            "{name}"
        );
        assert!(
            !f.environment.contains_key("EVENTRAIL_TRACE_CONTEXT"),
            "{name}"
        );
        for var in d.declaration.environment.keys() {
            assert!(f.environment.contains_key(var), "{name}: {var}");
        }
    }
    let outbox = t.queue("OutboxQueue").unwrap();
    assert!(outbox.fifo && outbox.encrypted());
    assert_eq!(
        outbox.queue_name,
        Some(json!({"Fn::Sub": "${AWS::StackName}-outbox.fifo"}))
    );
}

#[test]
fn bus_archive_and_outputs() {
    let t = template();
    let archives = t.archives();
    assert_eq!(archives.len(), 1);
    let archive = &archives[0];
    assert_eq!(
        archive.pattern,
        Some(json!({"replay-name": [{"exists": false}]}))
    );
    assert_eq!(archive.source_bus.as_deref(), Some("EventBus"));
    assert_eq!(
        archive.retention_days.as_ref().and_then(|r| r.bounds()),
        Some((1, 3650)),
        "retention comes from the ArchiveRetentionDays parameter"
    );
    assert_eq!(archive.name, Some(json!({"Fn::Sub": "${BusName}-archive"})));
    // LocalStack 4.13.1 cannot create AWS::Events::Archive: only the local stage leaves it out.
    assert_eq!(archive.condition.as_deref(), Some("ArchiveInStack"));
    assert_eq!(
        t.json()["Conditions"]["ArchiveInStack"],
        json!({"Fn::Not": [{"Condition": "IsLocal"}]})
    );
    assert_eq!(
        t.json()["Conditions"]["IsLocal"],
        json!({"Fn::Equals": [{"Ref": "Stage"}, "local"]})
    );
    let policy = t.resource("EventBusPolicy").unwrap();
    assert_eq!(
        policy["Properties"]["Statement"]["Principal"]["AWS"],
        json!({"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"})
    );
    let outputs: BTreeSet<&str> = t.outputs().iter().map(|o| o.name.as_str()).collect();
    for wanted in [
        "EventBusName",
        "EventBusArn",
        "ArchiveArn",
        "ArchiveName",
        "OutboxQueueUrl",
    ] {
        assert!(outputs.contains(wanted), "missing output {wanted}");
    }
    for f in t.functions() {
        let id = &f.logical_id;
        assert!(
            outputs.contains(format!("{id}FunctionName").as_str()),
            "{id}"
        );
        assert!(
            outputs.contains(format!("{id}FailureQueueUrl").as_str()),
            "{id}"
        );
        if t.rules_for(id).next().is_some() {
            assert!(
                outputs.contains(format!("{id}DeliveryDlqUrl").as_str()),
                "{id}"
            );
        }
    }
}

#[test]
fn samconfig_environments_override_only_real_parameters_within_bounds() {
    let t = template();
    let cfg = SamConfig::load(root().join("samconfig.toml")).unwrap();
    for env in ["default", "prod", "local"] {
        let e = cfg.environment(env).unwrap();
        assert!(e.stack_name.is_some(), "{env}: stack_name");
        assert!(e.region.is_some(), "{env}: region");
        assert!(
            e.capabilities.iter().any(|c| c == "CAPABILITY_IAM"),
            "{env}: capabilities"
        );
        for (key, value) in &e.parameter_overrides {
            let p = t
                .parameters()
                .iter()
                .find(|p| &p.name == key)
                .unwrap_or_else(|| panic!("{env}: override {key} is not a template parameter"));
            if !p.allowed_values.is_empty() {
                let allowed: Vec<String> = p
                    .allowed_values
                    .iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                    .collect();
                assert!(
                    allowed.contains(value),
                    "{env}: {key}={value} not in {allowed:?}"
                );
            }
            if p.kind == "Number" {
                let n: f64 = value.parse().unwrap();
                assert!(
                    p.min_value.is_none_or(|m| n >= m),
                    "{env}: {key}={value} below MinValue"
                );
                assert!(
                    p.max_value.is_none_or(|m| n <= m),
                    "{env}: {key}={value} above MaxValue"
                );
            }
        }
    }
    let local = cfg.environment("local").unwrap();
    assert_eq!(
        local.parameter_overrides.get("Stage").map(String::as_str),
        Some("local")
    );
    assert_eq!(
        local
            .parameter_overrides
            .get("Architecture")
            .map(String::as_str),
        Some("x86_64")
    );
}

// ---------------------------------------------------------------- the checker catches mistakes

#[test]
fn a_missing_dead_letter_queue_fails_naming_the_function() {
    let t = template();
    let broken = edited(&t, |j| {
        let props =
            &mut j["Resources"]["Inventory"]["Properties"]["Events"]["OrderPlaced"]["Properties"];
        props
            .as_object_mut()
            .unwrap()
            .remove("DeadLetterConfig")
            .unwrap();
    });
    let violations = check_invariants(&broken);
    eprintln!("template without Inventory's DLQ:\n{}", report(&violations));
    assert!(!violations.is_empty(), "removing a DLQ went unnoticed");
    for v in &violations {
        assert_eq!(
            v.function.as_deref(),
            Some("`inventory` (Inventory)"),
            "{v}"
        );
    }
    assert!(
        violations
            .iter()
            .any(|v| v.to_string().starts_with("function `inventory` (Inventory): rule InventoryOrderPlaced target has no DeadLetterConfig")),
        "{}",
        report(&violations)
    );
}

#[test]
fn a_new_function_without_wiring_fails_naming_it() {
    let t = template();
    let broken = edited(&t, |j| {
        j["Resources"]["Refunds"] = json!({
            "Type": "AWS::Serverless::Function",
            "Metadata": {"BuildMethod": "rust-cargolambda", "BuildProperties": {"Binary": "refunds"}},
            "Properties": {"CodeUri": "../functions/refunds"}
        });
    });
    let violations = check_invariants(&broken);
    eprintln!(
        "template with an unwired Refunds function:\n{}",
        report(&violations)
    );
    let refunds = about(&violations, "refunds");
    let text = report(&violations);
    assert_eq!(refunds.len(), violations.len(), "{text}");
    for needle in [
        "no EventBridge rule",
        "no EventInvokeConfig",
        "EVENTRAIL_DLQ_URL",
        "role SAM generates",
    ] {
        assert!(
            refunds.iter().any(|v| v.message.contains(needle)),
            "missing `{needle}` in:\n{text}"
        );
    }
}

#[test]
fn retry_policy_problems_are_caught() {
    let t = template();
    let no_retry = edited(&t, |j| {
        let props =
            &mut j["Resources"]["Payments"]["Properties"]["Events"]["StockReserved"]["Properties"];
        props.as_object_mut().unwrap().remove("RetryPolicy");
    });
    let v = check_invariants(&no_retry);
    assert!(
        about(&v, "payments")
            .iter()
            .any(|v| v.message.contains("no RetryPolicy")),
        "{}",
        report(&v)
    );

    // A literal outside EventBridge's range (cfn-lint does not catch this).
    let out_of_range = edited(&t, |j| {
        j["Resources"]["Shipping"]["Properties"]["Events"]["PaymentCaptured"]["Properties"]["RetryPolicy"]
            ["MaximumRetryAttempts"] = json!(186);
    });
    let v = check_invariants(&out_of_range);
    assert!(
        about(&v, "shipping")
            .iter()
            .any(|v| v.message.contains("186, outside 0..=185")),
        "{}",
        report(&v)
    );

    // A parameter whose declared bounds allow out-of-range values fails every consumer.
    let loose = edited(&t, |j| {
        j["Parameters"]["DeliveryMaxEventAgeSeconds"]["MaxValue"] = json!(90000);
    });
    let v = check_invariants(&loose);
    for name in consumers() {
        assert!(
            about(&v, &name)
                .iter()
                .any(|v| v.message.contains("DeliveryMaxEventAgeSeconds")),
            "{name} not flagged:\n{}",
            report(&v)
        );
    }
}

#[test]
fn invoke_config_problems_are_caught() {
    let t = template();
    let none = edited(&t, |j| {
        j["Resources"]["Analytics"]["Properties"]
            .as_object_mut()
            .unwrap()
            .remove("EventInvokeConfig");
    });
    let v = check_invariants(&none);
    assert!(
        about(&v, "analytics")
            .iter()
            .any(|v| v.message.contains("no EventInvokeConfig")),
        "{}",
        report(&v)
    );

    let too_many = edited(&t, |j| {
        j["Resources"]["Fraud"]["Properties"]["EventInvokeConfig"]["MaximumRetryAttempts"] =
            json!(3);
    });
    let v = check_invariants(&too_many);
    assert!(
        about(&v, "fraud")
            .iter()
            .any(|v| v.message.contains("3, outside 0..=2")),
        "{}",
        report(&v)
    );

    let no_destination = edited(&t, |j| {
        j["Resources"]["Orders"]["Properties"]["EventInvokeConfig"]
            .as_object_mut()
            .unwrap()
            .remove("DestinationConfig");
    });
    let v = check_invariants(&no_destination);
    assert!(
        about(&v, "orders")
            .iter()
            .any(|v| v.message.contains("no OnFailure destination")),
        "{}",
        report(&v)
    );
}

#[test]
fn privilege_problems_are_caught() {
    let t = template();

    let wildcard = edited(&t, |j| {
        let mut s = policy(j, "FraudRole");
        s.push(json!({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}));
        set(j, "FraudRole", s);
    });
    let v = check_invariants(&wildcard);
    assert!(
        about(&v, "fraud")
            .iter()
            .any(|v| v.message.contains("Resource \"*\"")),
        "{}",
        report(&v)
    );

    let other_queue = edited(&t, |j| {
        let mut s = policy(j, "AnalyticsRole");
        s.push(json!({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": {"Fn::GetAtt": ["OutboxQueue", "Arn"]}}));
        set(j, "AnalyticsRole", s);
    });
    let v = check_invariants(&other_queue);
    assert!(
        about(&v, "analytics")
            .iter()
            .any(|v| v.message.contains("not one of its own queues")),
        "{}",
        report(&v)
    );

    let non_emitter_puts = edited(&t, |j| {
        let mut s = policy(j, "NotificationsRole");
        s.push(json!({"Effect": "Allow", "Action": "events:PutEvents", "Resource": {"Fn::GetAtt": ["EventBus", "Arn"]}}));
        set(j, "NotificationsRole", s);
    });
    let v = check_invariants(&non_emitter_puts);
    assert!(
        about(&v, "notifications")
            .iter()
            .any(|v| v.message.contains("does not emit")),
        "{}",
        report(&v)
    );

    let emitter_cannot_put = edited(&t, |j| {
        let s = policy(j, "InventoryRole")
            .into_iter()
            .filter(|s| s["Action"] != json!("events:PutEvents"))
            .collect();
        set(j, "InventoryRole", s);
    });
    let v = check_invariants(&emitter_cannot_put);
    assert!(
        about(&v, "inventory")
            .iter()
            .any(|v| v.message.contains("may not events:PutEvents")),
        "{}",
        report(&v)
    );

    let managed = edited(&t, |j| {
        j["Resources"]["ShippingRole"]["Properties"]["ManagedPolicyArns"] =
            json!(["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]);
    });
    let v = check_invariants(&managed);
    assert!(
        about(&v, "shipping")
            .iter()
            .any(|v| v.message.contains("managed policy")),
        "{}",
        report(&v)
    );
}

#[test]
fn queue_problems_are_caught_and_name_the_owner() {
    let t = template();
    let plain = edited(&t, |j| {
        j["Resources"]["PaymentsFailureQueue"]["Properties"]
            .as_object_mut()
            .unwrap()
            .remove("SqsManagedSseEnabled");
    });
    let v = check_invariants(&plain);
    assert!(
        about(&v, "payments")
            .iter()
            .any(|v| v.message.contains("not encrypted")),
        "{}",
        report(&v)
    );

    let unalarmed = edited(&t, |j| {
        j["Resources"]
            .as_object_mut()
            .unwrap()
            .remove("NotificationsDeliveryDlqAlarm");
    });
    let v = check_invariants(&unalarmed);
    assert!(
        about(&v, "notifications")
            .iter()
            .any(|v| v.message.contains("NotificationsDeliveryDlq has no alarm")),
        "{}",
        report(&v)
    );

    // The grant lives in the role alone: a queue policy naming the role would allow the send
    // by itself in this account, and a role that lost its statement would still send.
    let granted = edited(&t, |j| {
        queue_statements(j, "InventoryFailureQueuePolicy").push(json!({
            "Sid": "FunctionRoleSendsFailures", "Effect": "Allow",
            "Principal": {"AWS": {"Fn::GetAtt": ["InventoryRole", "Arn"]}},
            "Action": "sqs:SendMessage",
            "Resource": {"Fn::GetAtt": ["InventoryFailureQueue", "Arn"]}
        }));
    });
    let v = check_invariants(&granted);
    assert!(
        about(&v, "inventory")
            .iter()
            .any(|v| v.message.contains("grants InventoryRole sqs:SendMessage")),
        "{}",
        report(&v)
    );

    let no_policy = edited(&t, |j| {
        j["Resources"]
            .as_object_mut()
            .unwrap()
            .remove("ShippingDeliveryDlqPolicy");
    });
    let v = check_invariants(&no_policy);
    assert!(
        about(&v, "shipping")
            .iter()
            .any(|v| v.message.contains("no queue policy")),
        "{}",
        report(&v)
    );

    let other_rule = edited(&t, |j| {
        j["Resources"]["InventoryDeliveryDlqPolicy"]["Properties"]["PolicyDocument"]["Statement"]
            [0]["Condition"]["ArnEquals"]["aws:SourceArn"] = json!({"Fn::Sub":
                "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/${EventBus}/${AWS::StackName}-payments-StockReserved"});
    });
    let v = check_invariants(&other_rule);
    assert!(
        about(&v, "inventory")
            .iter()
            .any(|v| v.message.contains("from rule InventoryOrderPlaced")),
        "{}",
        report(&v)
    );

    let open = edited(&t, |j| {
        queue_statements(j, "FraudFailureQueuePolicy").push(json!({
            "Sid": "Anyone", "Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage",
            "Resource": {"Fn::GetAtt": ["FraudFailureQueue", "Arn"]}
        }));
    });
    let v = check_invariants(&open);
    assert!(
        v.iter().any(|v| v.message.contains("allows any principal")),
        "{}",
        report(&v)
    );
}

// ------------------------------------------------------------------ triggers and buffered delivery

/// The functions of the fixture app: the shop's, plus one of each trigger (declared here, as a
/// temporary app would): `intake` (POST /intake, IAM auth), `nightly` (a schedule), `wrap`
/// (a buffered consumer of OrderPlaced, capped at 2) and `feeder` (a queue of its own).
fn trigger_fixtures() -> Vec<FunctionDeclaration> {
    use eventrail_contract::trigger::{HttpAuth, HttpDeclaration, HttpTrigger, ScheduleTrigger};
    use eventrail_contract::{Declaration, Delivery, QueueSource};
    let f = |name: &str, declaration: Declaration| FunctionDeclaration {
        name: name.to_owned(),
        dir: root().join("functions").join(name),
        declaration,
    };
    let mut functions = declared();
    functions.extend([
        f(
            "intake",
            Declaration {
                http: Some(HttpTrigger::Declared(HttpDeclaration {
                    route: "POST /intake".into(),
                    auth: HttpAuth::Iam,
                    cors: None,
                    request: None,
                })),
                ..Declaration::default()
            },
        ),
        f(
            "nightly",
            Declaration {
                schedule: Some(ScheduleTrigger::Expression("rate(1 day)".into())),
                ..Declaration::default()
            },
        ),
        f(
            "wrap",
            Declaration {
                consumes: vec!["OrderPlaced".into()],
                delivery: Delivery::Queue,
                max_concurrency: Some(2),
                max_receive_count: Some(4),
                ..Declaration::default()
            },
        ),
        f(
            "feeder",
            Declaration {
                queue: Some(QueueSource::New),
                timeout: Some(20),
                ..Declaration::default()
            },
        ),
    ]);
    functions
}

/// The template generated for [`trigger_fixtures`] from the workspace's hand-written part.
fn trigger_template() -> Template {
    let app = app();
    let path = root().join("infra/template.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let generated = eventrail_generate::generate_template(
        &text,
        "infra/template.yaml",
        &trigger_fixtures(),
        &app.catalog,
        &app.project.settings,
    )
    .unwrap();
    Template::parse(&generated, &path).unwrap()
}

fn check_triggers(t: &Template) -> Vec<Violation> {
    eventrail_check::check_invariants(t, &trigger_fixtures(), &app().project.settings)
}

/// The violations about `function` whose message contains `says`; fails listing all when none.
fn named<'a>(violations: &'a [Violation], function: &str, says: &str) -> Vec<&'a Violation> {
    let found: Vec<_> = about(violations, function)
        .into_iter()
        .filter(|v| v.message.contains(says))
        .collect();
    assert!(
        !found.is_empty(),
        "expected a violation of `{function}` saying {says:?}, got:\n{}",
        report(violations)
    );
    found
}

fn properties<'j>(j: &'j mut Value, resource: &str) -> &'j mut Value {
    &mut j["Resources"][resource]["Properties"]
}

#[test]
fn each_trigger_generates_its_resources_and_meets_every_invariant() {
    let t = trigger_template();
    let violations = check_triggers(&t);
    assert!(violations.is_empty(), "{}", report(&violations));
    let route = t
        .api_routes()
        .iter()
        .find(|r| r.function == "Intake")
        .unwrap();
    assert_eq!(route.route(), "POST /intake");
    assert_eq!(route.rest_api.as_deref(), Some("RestApi"));
    assert_eq!(route.authorizer.as_deref(), Some("AWS_IAM"));
    let schedule = t
        .schedules()
        .iter()
        .find(|s| s.function == "Nightly")
        .unwrap();
    assert_eq!(schedule.expression_parameter(), Some("NightlySchedule"));
    assert_eq!(
        schedule.default_expression(t.parameters()).as_deref(),
        Some("rate(1 day)")
    );
    assert_eq!(schedule.dead_letter.as_deref(), Some("NightlyFailureQueue"));
    let wrap: Vec<_> = t.mappings_to("Wrap").collect();
    assert_eq!(wrap.len(), 1);
    assert_eq!(wrap[0].queue.as_deref(), Some("WrapBufferQueue"));
    assert!(wrap[0].reports_batch_item_failures);
    let buffer = t.queue("WrapBufferQueue").unwrap();
    assert_eq!(
        buffer.redrive_dead_letter.as_deref(),
        Some("WrapFailureQueue")
    );
    let rule = t
        .rules()
        .iter()
        .find(|r| r.logical_id == "WrapOrderPlaced")
        .unwrap();
    assert_eq!(rule.targets[0].resource.as_deref(), Some("WrapBufferQueue"));
    let wrap_fn = t.function("Wrap").unwrap();
    assert!(
        wrap_fn.event_invoke_config.is_none(),
        "no async invoke settings"
    );
    assert_eq!(
        wrap_fn.environment.get("EVENTRAIL_MAX_RECEIVE_COUNT"),
        Some(&json!("4"))
    );
    let feeder: Vec<_> = t.mappings_to("Feeder").collect();
    assert_eq!(feeder[0].queue.as_deref(), Some("FeederSourceQueue"));
    let outputs: BTreeSet<&str> = t.outputs().iter().map(|o| o.name.as_str()).collect();
    for output in [
        "RestApiUrl",
        "RestApiId",
        "RestApiStage",
        "NightlyScheduleName",
        "WrapBufferQueueUrl",
        "FeederSourceQueueUrl",
    ] {
        assert!(outputs.contains(output), "{output}");
    }
}

#[test]
fn a_buffer_queue_without_redrive_fails() {
    let t = edited(&trigger_template(), |j| {
        properties(j, "WrapBufferQueue")
            .as_object_mut()
            .unwrap()
            .remove("RedrivePolicy");
    });
    named(&check_triggers(&t), "wrap", "has no RedrivePolicy");
}

#[test]
fn a_buffered_consumer_with_an_on_failure_destination_fails() {
    let t = edited(&trigger_template(), |j| {
        properties(j, "Wrap")["EventInvokeConfig"] = json!({
            "MaximumRetryAttempts": 2,
            "MaximumEventAgeInSeconds": 300,
            "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": {"Fn::GetAtt": ["WrapFailureQueue", "Arn"]}}}
        });
    });
    named(&check_triggers(&t), "wrap", "on-failure destination");
}

#[test]
fn a_visibility_timeout_under_six_times_the_function_timeout_fails() {
    // wrap runs for Globals' 10 s: its buffer needs 60 s; feeder runs 20 s: 120 s.
    for (queue, function, visibility) in [
        ("WrapBufferQueue", "wrap", 59),
        ("FeederSourceQueue", "feeder", 100),
    ] {
        let t = edited(&trigger_template(), |j| {
            properties(j, queue)["VisibilityTimeout"] = json!(visibility);
        });
        named(&check_triggers(&t), function, "visibility timeout");
    }
    let t = edited(&trigger_template(), |j| {
        properties(j, "Feeder")["Timeout"] = json!(30);
    });
    named(&check_triggers(&t), "feeder", "visibility timeout");
}

#[test]
fn a_mapping_without_partial_batch_failures_or_with_other_receives_fails() {
    let t = edited(&trigger_template(), |j| {
        properties(j, "Wrap")["Events"]["Buffer"]["Properties"]
            .as_object_mut()
            .unwrap()
            .remove("FunctionResponseTypes");
    });
    named(&check_triggers(&t), "wrap", "ReportBatchItemFailures");
    let t = edited(&trigger_template(), |j| {
        properties(j, "WrapBufferQueue")["RedrivePolicy"]["maxReceiveCount"] = json!(9);
    });
    named(&check_triggers(&t), "wrap", "EVENTRAIL_MAX_RECEIVE_COUNT");
}

#[test]
fn a_buffer_policy_not_scoped_to_its_rule_fails() {
    let other_rule = json!({"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/${EventBus}/${AWS::StackName}-other-Rule"});
    let t = edited(&trigger_template(), |j| {
        for s in queue_statements(j, "WrapBufferQueuePolicy") {
            if s["Effect"] == "Allow" {
                s["Condition"]["ArnEquals"]["aws:SourceArn"] = other_rule.clone();
            }
        }
    });
    named(&check_triggers(&t), "wrap", "rule WrapOrderPlaced");
    let t = edited(&trigger_template(), |j| {
        for s in queue_statements(j, "WrapBufferQueuePolicy") {
            if s["Effect"] == "Allow" {
                s.as_object_mut().unwrap().remove("Condition");
            }
        }
    });
    let violations = check_triggers(&t);
    assert!(
        violations
            .iter()
            .any(|v| v.resource == "WrapBufferQueuePolicy" && v.message.contains("aws:SourceArn")),
        "{}",
        report(&violations)
    );
}

#[test]
fn a_role_polling_another_queue_or_not_its_own_fails() {
    let t = edited(&trigger_template(), |j| {
        let mut statements = policy(j, "WrapRole");
        statements.retain(|s| s["Sid"] != "PollOwnBufferQueue");
        set(j, "WrapRole", statements);
    });
    named(
        &check_triggers(&t),
        "wrap",
        "may not sqs:ReceiveMessage and sqs:DeleteMessage on WrapBufferQueue",
    );
    let t = edited(&trigger_template(), |j| {
        let mut statements = policy(j, "FeederRole");
        statements.push(json!({
            "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage"],
            "Resource": {"Fn::GetAtt": ["FeederFailureQueue", "Arn"]}
        }));
        set(j, "FeederRole", statements);
    });
    named(
        &check_triggers(&t),
        "feeder",
        "not a queue that feeds the function",
    );
}

#[test]
fn a_schedule_without_dead_letter_queue_or_retry_policy_fails() {
    let schedule = |j: &mut Value| -> Value {
        properties(j, "Nightly")["Events"]["Scheduler"]["Properties"].clone()
    };
    for (field, says) in [
        ("DeadLetterConfig", "no DeadLetterConfig"),
        ("RetryPolicy", "no RetryPolicy"),
    ] {
        let t = edited(&trigger_template(), |j| {
            let mut props = schedule(j);
            props.as_object_mut().unwrap().remove(field);
            properties(j, "Nightly")["Events"]["Scheduler"]["Properties"] = props;
        });
        named(&check_triggers(&t), "nightly", says);
    }
    let t = edited(&trigger_template(), |j| {
        properties(j, "Nightly")["Events"]["Scheduler"]["Properties"]["DeadLetterConfig"]["Arn"] =
            json!({"Fn::GetAtt": ["NightlyDeliveryOther", "Arn"]});
    });
    named(
        &check_triggers(&t),
        "nightly",
        "no DeadLetterConfig to a queue of this template",
    );
}

#[test]
fn a_schedule_role_that_may_do_more_than_invoke_its_function_fails() {
    let t = edited(&trigger_template(), |j| {
        let mut statements = policy(j, "NightlyScheduleRole");
        statements[0]["Resource"] = json!("*");
        set(j, "NightlyScheduleRole", statements);
    });
    named(
        &check_triggers(&t),
        "nightly",
        "allows lambda:InvokeFunction on \"*\"",
    );
    let t = edited(&trigger_template(), |j| {
        properties(j, "Nightly")["Events"]["Scheduler"]["Properties"]
            .as_object_mut()
            .unwrap()
            .remove("RoleArn");
    });
    named(&check_triggers(&t), "nightly", "no RoleArn");
    // The failure queue's fence must let the schedule's role in, or its dead letters are denied.
    let t = edited(&trigger_template(), |j| {
        for s in queue_statements(j, "NightlyFailureQueuePolicy") {
            s["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] =
                json!({"Fn::GetAtt": ["NightlyRole", "Arn"]});
        }
    });
    named(
        &check_triggers(&t),
        "nightly",
        "no statement denies sqs:SendMessage on failure queue",
    );
}

#[test]
fn a_route_off_the_rest_api_or_on_an_unknown_authorizer_fails() {
    let t = edited(&trigger_template(), |j| {
        properties(j, "Intake")["Events"]["Http"]["Properties"]["Auth"]["Authorizer"] =
            json!("Nope");
    });
    named(&check_triggers(&t), "intake", "authorizer Nope");
    let t = edited(&trigger_template(), |j| {
        properties(j, "Intake")["Events"]["Http"]["Properties"]
            .as_object_mut()
            .unwrap()
            .remove("RestApiId");
    });
    named(
        &check_triggers(&t),
        "intake",
        "not on a REST API of this template",
    );
}

/// The triggers index (events/triggers.json) is what the template's routes and schedules say.
#[test]
fn the_triggers_index_is_the_templates_routes_and_schedules() {
    let t = template();
    let index: Value = serde_json::from_str(
        &std::fs::read_to_string(eventrail_generate::triggers_path(&app())).unwrap(),
    )
    .unwrap();
    let name = |id: &str| t.function(id).map(|f| f.display_name().to_owned());
    let routes: BTreeSet<(String, String)> = t
        .api_routes()
        .iter()
        .filter_map(|r| Some((r.route(), name(&r.function)?)))
        .collect();
    let indexed: BTreeSet<(String, String)> = index["routes"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(route, f)| (route.clone(), f.as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(indexed, routes);
    let schedules: BTreeSet<(String, String)> = t
        .schedules()
        .iter()
        .filter_map(|s| Some((name(&s.function)?, s.default_expression(t.parameters())?)))
        .collect();
    let indexed: BTreeSet<(String, String)> = index["schedules"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(f, e)| (f.clone(), e.as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(indexed, schedules);
}
