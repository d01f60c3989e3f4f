//! Gradual rollout (`rollout = "<type>"` in a declaration), offline: the generated template
//! gives the function an alias, a deployment preference switched by `GradualRollout` and its
//! own alarms as rollback triggers, and every invoker written outside SAM's events names the
//! alias; the invariant names any invoker that calls the function itself. The shop's functions
//! declare no rollout, so scratch functions (one per trigger) are declared here, as a
//! temporary app would.

use std::path::{Path, PathBuf};

use eventrail_check::Violation;
use eventrail_contract::trigger::{HttpAuth, HttpDeclaration, HttpTrigger, ScheduleTrigger};
use eventrail_contract::{Declaration, Delivery, QueueSource, Rollout};
use eventrail_model::{App, FunctionDeclaration, Template};
use serde_json::{Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The shop's functions plus one scratch function with a rollout per trigger: `canary` (a
/// rule invokes it), `intake` (POST /intake), `nightly` (a schedule), `wrap` (a buffered
/// consumer) and `feeder` (a queue of its own).
fn functions() -> Vec<FunctionDeclaration> {
    let f = |name: &str, rollout: Rollout, declaration: Declaration| FunctionDeclaration {
        name: name.to_owned(),
        dir: root().join("functions").join(name),
        declaration: Declaration {
            rollout: Some(rollout),
            ..declaration
        },
    };
    let mut functions = App::load(root()).unwrap().functions;
    functions.extend([
        f(
            "canary",
            Rollout::Canary10Percent5Minutes,
            Declaration {
                consumes: vec!["OrderPlaced".into()],
                ..Declaration::default()
            },
        ),
        f(
            "intake",
            Rollout::Linear10PercentEvery1Minute,
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
            Rollout::AllAtOnce,
            Declaration {
                schedule: Some(ScheduleTrigger::Expression("rate(1 day)".into())),
                ..Declaration::default()
            },
        ),
        f(
            "wrap",
            Rollout::Canary10Percent30Minutes,
            Declaration {
                consumes: vec!["OrderPlaced".into()],
                delivery: Delivery::Queue,
                ..Declaration::default()
            },
        ),
        f(
            "feeder",
            Rollout::Linear10PercentEvery10Minutes,
            Declaration {
                queue: Some(QueueSource::New),
                ..Declaration::default()
            },
        ),
    ]);
    functions
}

const WITH_ROLLOUT: [&str; 5] = ["Canary", "Intake", "Nightly", "Wrap", "Feeder"];

/// The generated template's text for [`functions`], from the workspace's hand-written part.
fn generated() -> String {
    let app = App::load(root()).unwrap();
    let text = std::fs::read_to_string(root().join("infra/template.yaml")).unwrap();
    eventrail_generate::generate_template(
        &text,
        "infra/template.yaml",
        &functions(),
        &app.catalog,
        &app.project.settings,
    )
    .unwrap()
}

fn template() -> Template {
    Template::parse(&generated(), root().join("infra/template.yaml")).unwrap()
}

fn check(t: &Template) -> Vec<Violation> {
    let settings = App::load(root()).unwrap().project.settings;
    eventrail_check::check_invariants(t, &functions(), &settings)
}

fn edited(t: &Template, edit: impl FnOnce(&mut Value)) -> Template {
    let mut json = t.json().clone();
    edit(&mut json);
    Template::from_json(json, t.file()).unwrap()
}

fn report(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The one violation at `resource` saying `says`; fails listing all otherwise.
fn named(violations: &[Violation], resource: &str, says: &str) {
    let found = violations
        .iter()
        .filter(|v| v.resource == resource && v.message.contains(says))
        .count();
    assert_eq!(
        found,
        1,
        "expected one violation at {resource} saying {says:?}, got:\n{}",
        report(violations)
    );
}

#[test]
fn a_rollout_gives_the_function_an_alias_its_alarms_and_the_switch() {
    let t = template();
    let violations = check(&t);
    assert!(violations.is_empty(), "{}", report(&violations));
    for id in WITH_ROLLOUT {
        let properties = &t.resource(id).unwrap()["Properties"];
        assert_eq!(properties["AutoPublishAlias"], json!("live"), "{id}");
        let preference = &properties["DeploymentPreference"];
        assert_eq!(preference["Enabled"], json!({"Ref": "GradualRollout"}));
        let alarms: Vec<Value> = [
            "DestinationDeliveryFailures",
            "AsyncEventsDropped",
            "Errors",
            "Throttles",
        ]
        .iter()
        .map(|m| json!({"Ref": format!("{id}{m}Alarm")}))
        .collect();
        assert_eq!(preference["Alarms"], json!(alarms), "{id}");
        for alarm in alarms {
            let alarm = alarm["Ref"].as_str().unwrap();
            assert_eq!(
                t.resource_type(alarm),
                Some("AWS::CloudWatch::Alarm"),
                "{alarm}"
            );
            // By name, not `!Ref <Function>`: the function lists the alarm, so a reference back
            // would be a cycle in the template as written, around which LocalStack 4.13.1's
            // CloudFormation (it models the untransformed template too) recurses without end.
            let dimension = &t.resource(alarm).unwrap()["Properties"]["Dimensions"][0];
            assert_eq!(dimension["Name"], json!("FunctionName"));
            assert_eq!(dimension["Value"], properties["FunctionName"], "{alarm}");
        }
    }
    let types: Vec<&Value> = WITH_ROLLOUT
        .iter()
        .map(|id| &t.resource(id).unwrap()["Properties"]["DeploymentPreference"]["Type"])
        .collect();
    assert_eq!(
        types,
        [
            "Canary10Percent5Minutes",
            "Linear10PercentEvery1Minute",
            "AllAtOnce",
            "Canary10Percent30Minutes",
            "Linear10PercentEvery10Minutes"
        ]
    );
    // The schedule's own role (written by the generator, not by SAM) invokes the alias.
    let role = &t.resource("NightlyScheduleRole").unwrap()["Properties"]["Policies"][0]["PolicyDocument"]
        ["Statement"][0];
    assert_eq!(
        role["Resource"],
        json!({"Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-nightly:live"})
    );
    let switch = t
        .parameters()
        .iter()
        .find(|p| p.name == "GradualRollout")
        .expect("the GradualRollout parameter");
    assert_eq!(switch.default, Some(json!("true")));
    // The shop's functions declare none: no alias, no switch in the checked-in template.
    let shop = Template::load(root().join("infra/template.yaml")).unwrap();
    for f in shop.functions() {
        let properties = &shop.resource(&f.logical_id).unwrap()["Properties"];
        assert!(
            properties.get("AutoPublishAlias").is_none(),
            "{}",
            f.logical_id
        );
    }
    assert!(shop.parameters().iter().all(|p| p.name != "GradualRollout"));
}

#[test]
fn an_invoker_of_the_function_itself_is_named() {
    let t = template();
    // The schedule's role granted on the function, not the alias.
    let role = edited(&t, |j| {
        j["Resources"]["NightlyScheduleRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            [0]["Resource"] = json!({"Fn::GetAtt": ["Nightly", "Arn"]});
    });
    named(&check(&role), "NightlyScheduleRole", "not its alias `live`");
    // ... or on the function's ARN written out without the alias's qualifier.
    let unqualified = edited(&t, |j| {
        j["Resources"]["NightlyScheduleRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            [0]["Resource"] = json!({"Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-nightly"});
    });
    named(
        &check(&unqualified),
        "NightlyScheduleRole",
        "not its alias `live`",
    );
    // SAM's own reference to the alias is as good on AWS (LocalStack 4.13.1 refuses it before
    // the transform, so the generator writes the ARN out).
    let by_reference = edited(&t, |j| {
        j["Resources"]["NightlyScheduleRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            [0]["Resource"] = json!({"Ref": "Nightly.Alias"});
    });
    let violations = check(&by_reference);
    assert!(violations.is_empty(), "{}", report(&violations));
    // Hand-written invokers beside SAM's events: a rule target, a permission, an invoke config.
    let by_hand = edited(&t, |j| {
        let resources = j["Resources"].as_object_mut().unwrap();
        resources.insert(
            "CanaryByHandRule".into(),
            json!({"Type": "AWS::Events::Rule", "Properties": {
                "EventBusName": {"Ref": "EventBus"},
                "EventPattern": {"source": ["x"]},
                "Targets": [{"Id": "canary", "Arn": {"Fn::GetAtt": ["Canary", "Arn"]}}]}}),
        );
        resources.insert(
            "CanaryByHandPermission".into(),
            json!({"Type": "AWS::Lambda::Permission", "Properties": {
                "Action": "lambda:InvokeFunction", "Principal": "events.amazonaws.com",
                "FunctionName": {"Ref": "Canary"}}}),
        );
        resources.insert(
            "CanaryLatestInvokeConfig".into(),
            json!({"Type": "AWS::Lambda::EventInvokeConfig", "Properties": {
                "FunctionName": {"Ref": "Canary"}, "Qualifier": "$LATEST",
                "MaximumRetryAttempts": 0}}),
        );
    });
    let violations = check(&by_hand);
    named(
        &violations,
        "CanaryByHandRule",
        "invokes the function itself",
    );
    named(
        &violations,
        "CanaryByHandPermission",
        "invokes the function itself",
    );
    named(&violations, "CanaryLatestInvokeConfig", "\"$LATEST\"");
    // The same, naming the alias, is fine.
    let via_alias = edited(&by_hand, |j| {
        j["Resources"]["CanaryByHandRule"]["Properties"]["Targets"][0]["Arn"] =
            json!({"Ref": "Canary.Alias"});
        j["Resources"]["CanaryByHandPermission"]["Properties"]["FunctionName"] =
            json!({"Ref": "CanaryAliaslive"});
        j["Resources"]["CanaryLatestInvokeConfig"]["Properties"]["Qualifier"] = json!("live");
    });
    let violations = check(&via_alias);
    assert!(
        violations.iter().all(|v| !v.resource.starts_with("Canary")),
        "{}",
        report(&violations)
    );
    // No alias, or no alarms to roll back on.
    let no_alias = edited(&t, |j| {
        let properties = j["Resources"]["Wrap"]["Properties"]
            .as_object_mut()
            .unwrap();
        properties.remove("AutoPublishAlias");
    });
    named(&check(&no_alias), "Wrap", "no AutoPublishAlias");
    let no_alarms = edited(&t, |j| {
        j["Resources"]["Feeder"]["Properties"]["DeploymentPreference"]["Alarms"] = json!([]);
    });
    named(&check(&no_alarms), "Feeder", "has no Alarms");
    let foreign_alarm = edited(&t, |j| {
        j["Resources"]["Feeder"]["Properties"]["DeploymentPreference"]["Alarms"] =
            json!([{"Ref": "CanaryErrorsAlarm"}]);
    });
    named(
        &check(&foreign_alarm),
        "Feeder",
        "not an alarm of this template on the function's own metrics",
    );
}

#[test]
fn the_local_environment_turns_rollouts_off() {
    let text = std::fs::read_to_string(root().join("samconfig.toml")).unwrap();
    let off = [(
        "GradualRollout".to_owned(),
        eventrail_generate::LOCAL_GRADUAL_ROLLOUT.to_owned(),
    )];
    let patched = eventrail_generate::with_local_overrides(&text, &off).unwrap();
    let config = eventrail_model::SamConfig::parse(&patched, "samconfig.toml").unwrap();
    assert_eq!(
        config.environment("local").unwrap().parameter_overrides["GradualRollout"],
        "false"
    );
    for aws in ["default", "prod"] {
        assert_eq!(
            config
                .environment(aws)
                .unwrap()
                .parameter_overrides
                .get("GradualRollout"),
            None,
            "{aws} keeps the template's default (true)"
        );
    }
}

/// cfn-lint (which runs SAM's translator first) accepts the template with the rollouts, with
/// the switch on and off.
#[test]
#[ignore = "needs cfn-lint (the pinned tools): cargo xtask test"]
fn cfn_lint_accepts_the_rollouts() {
    let installed = eventrail_local::tools::Installer::new(root())
        .venv_dir("tools")
        .join("bin/cfn-lint");
    let cfn_lint = if installed.exists() {
        installed
    } else {
        PathBuf::from("cfn-lint")
    };
    let dir = std::env::temp_dir().join(format!("eventrail-rollout-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("infra")).unwrap();
    let file = dir.join("infra/template.yaml");
    std::fs::write(&file, generated()).unwrap();
    for switch in ["true", "false"] {
        let out = std::process::Command::new(&cfn_lint)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .args(["--regions", "us-east-1", "--parameters"])
            .arg(format!("GradualRollout={switch}"))
            .arg("--")
            .arg(&file)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", cfn_lint.display()));
        assert!(
            out.status.success(),
            "cfn-lint (GradualRollout={switch}):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
