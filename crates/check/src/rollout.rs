//! The invariants of a function with a gradual rollout (SAM's `DeploymentPreference`): it
//! publishes an alias (`AutoPublishAlias`), rolls back on alarms of its own, and every invoker
//! written outside its SAM events calls that alias.
//!
//! Why the last one: CodeDeploy shifts the alias's traffic from the old version to the new
//! one. A caller of the function itself runs `$LATEST`, the new code, from the first second of
//! the deploy, so its share of the traffic never shifts and the alarms judge a rollout that is
//! not happening. SAM points the events it generates at the alias; a rule, a mapping, a
//! permission, a schedule, an API method or a role written by hand must name the alias too
//! (`!Ref <Function>.Alias`).

use std::collections::BTreeSet;

use eventrail_model::{Function, Template, references};
use serde_json::Value;

use crate::checker::Checker;

/// The function's rollout as written: its `DeploymentPreference` (its own, else `Globals`'),
/// and its `AutoPublishAlias`.
struct Declared<'t> {
    preference: &'t Value,
    alias: Option<&'t Value>,
}

/// How each resource type invokes a function: the pointers to the values naming what it
/// invokes (`/Targets/*` stands for every target). IAM roles and policies are read apart.
const INVOKERS: &[(&str, &str)] = &[
    ("AWS::Events::Rule", "/Targets/*/Arn"),
    ("AWS::Lambda::Permission", "/FunctionName"),
    ("AWS::Lambda::EventSourceMapping", "/FunctionName"),
    ("AWS::Scheduler::Schedule", "/Target/Arn"),
    ("AWS::ApiGateway::Method", "/Integration/Uri"),
    ("AWS::Lambda::Url", "/TargetFunctionArn"),
];

/// How a template names a function's alias (`AutoPublishAlias`) and the function itself.
pub(crate) struct AliasNames {
    /// The alias's name (`live`).
    alias: String,
    /// The function's logical id.
    function: String,
    /// SAM's `<Function>.Alias` reference and the alias resource it generates
    /// (`<Function>Alias<name>`, dashes and underscores spelled as SAM spells them in ids).
    refs: BTreeSet<String>,
    /// `:function:<FunctionName>` when the function's name is a plain `!Sub` text: how an ARN
    /// written out in a `!Sub` names it (and `...:<alias>` its alias).
    arn_tail: Option<String>,
}

/// The text of a `Fn::Sub`, if `value` is one.
fn sub_text(value: &Value) -> Option<&str> {
    match value.get("Fn::Sub")? {
        Value::String(text) => Some(text),
        Value::Array(parts) => parts.first()?.as_str(),
        _ => None,
    }
}

impl AliasNames {
    /// The names of `f`'s alias, when it publishes one.
    pub(crate) fn of(t: &Template, f: &Function) -> Option<Self> {
        let get = |key: &str| {
            t.resource(&f.logical_id)
                .and_then(|r| r.get("Properties"))
                .and_then(|p| p.get(key))
                .or_else(|| t.json().pointer("/Globals/Function")?.get(key))
        };
        let alias = get("AutoPublishAlias")?.as_str()?.to_owned();
        let id = f.logical_id.clone();
        let generated = alias.replace('-', "D").replace('_', "U");
        Some(AliasNames {
            refs: BTreeSet::from([format!("{id}.Alias"), format!("{id}Alias{generated}")]),
            arn_tail: f
                .function_name
                .as_ref()
                .and_then(sub_text)
                .map(|name| format!(":function:{name}")),
            function: id,
            alias,
        })
    }

    /// What an ARN written out in `text` names after each `:function:<name>`: `true` for the
    /// alias, `false` for the function itself (unqualified, or another qualifier).
    fn written_arns(&self, text: &str) -> Vec<bool> {
        let Some(tail) = &self.arn_tail else {
            return Vec::new();
        };
        let qualified = format!(":{}", self.alias);
        text.match_indices(tail.as_str())
            .filter_map(|(at, _)| {
                let rest = &text[at + tail.len()..];
                let next = rest.chars().next();
                // `<name>-more` is another function's name.
                if next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                    return None;
                }
                let alias_ends = rest.strip_prefix(&qualified).map(|r| r.chars().next());
                Some(matches!(alias_ends, Some(None | Some('"' | '/' | '}'))))
            })
            .collect()
    }

    /// Whether `value` names the alias: a reference to it (or `${<Function>.Alias}` in a
    /// `!Sub`), or an ARN written out with the alias's qualifier.
    pub(crate) fn names_alias(&self, value: &Value) -> bool {
        let text = value.to_string();
        references(value).iter().any(|r| self.refs.contains(r))
            || self
                .refs
                .iter()
                .any(|a| text.contains(&format!("${{{a}}}")))
            || sub_text(value).is_some_and(|s| {
                let arns = self.written_arns(s);
                !arns.is_empty() && arns.iter().all(|alias| *alias)
            })
    }

    /// Whether `value` invokes the function itself rather than its alias: it refers to the
    /// function (`!Ref`, `!GetAtt`, `${...}`) without naming the alias, or writes out the
    /// function's ARN without the alias's qualifier.
    fn names_function(&self, value: &Value) -> bool {
        let by_reference = references(value).contains(&self.function) && !self.names_alias(value);
        let written = sub_text(value).is_some_and(|s| self.written_arns(s).contains(&false));
        by_reference || written
    }
}

/// The values at `pointer`, where a `*` segment stands for every item of an array.
fn at<'v>(value: &'v Value, pointer: &str) -> Vec<&'v Value> {
    match pointer.split_once("/*") {
        None => value.pointer(pointer).into_iter().collect(),
        Some((head, tail)) => value
            .pointer(head)
            .and_then(Value::as_array)
            .map(|items| items.iter().flat_map(|i| at(i, tail)).collect())
            .unwrap_or_default(),
    }
}

fn items(value: Option<&Value>) -> Vec<&Value> {
    match value {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(other) => vec![other],
        None => Vec::new(),
    }
}

/// Whether an IAM statement allows invoking a Lambda function.
fn allows_invoke(statement: &Value) -> bool {
    statement.get("Effect").and_then(Value::as_str) == Some("Allow")
        && items(statement.get("Action"))
            .into_iter()
            .filter_map(Value::as_str)
            .map(str::to_ascii_lowercase)
            .any(|a| a == "lambda:invokefunction" || a == "lambda:*" || a == "*")
}

/// The policy documents of an IAM role or policy.
fn policy_documents<'v>(resource_type: &str, properties: &'v Value) -> Vec<&'v Value> {
    match resource_type {
        "AWS::IAM::Role" => items(properties.get("Policies"))
            .into_iter()
            .filter_map(|p| p.get("PolicyDocument"))
            .collect(),
        "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy" => {
            properties.get("PolicyDocument").into_iter().collect()
        }
        _ => Vec::new(),
    }
}

/// The function's rollout, when it has one.
fn declared_rollout<'t>(t: &'t Template, f: &Function) -> Option<Declared<'t>> {
    let own = t.resource(&f.logical_id)?.get("Properties");
    let globals = t.json().pointer("/Globals/Function");
    let get = |key: &str| {
        own.and_then(|p| p.get(key))
            .or_else(|| globals.and_then(|g| g.get(key)))
    };
    Some(Declared {
        preference: get("DeploymentPreference")?,
        alias: get("AutoPublishAlias"),
    })
}

impl Checker<'_> {
    /// The invariants of `f`'s rollout, if it has one.
    pub(crate) fn rollout(&mut self, f: &Function) {
        let t = self.t;
        let Some(declared) = declared_rollout(t, f) else {
            return;
        };
        let id = f.logical_id.as_str();
        let Some(alias) = declared.alias.and_then(Value::as_str) else {
            self.push(
                Some(f),
                id,
                "has a DeploymentPreference but no AutoPublishAlias: there is no alias whose \
                 traffic CodeDeploy could shift; set AutoPublishAlias (the generator writes \
                 `live`)"
                    .to_owned(),
            );
            return;
        };
        let alarms = items(declared.preference.get("Alarms"));
        if alarms.is_empty() {
            self.push(
                Some(f),
                id,
                "DeploymentPreference has no Alarms: a failing version would take all the traffic \
                 and stay; list the function's own alarms (Errors, Throttles, ...)"
                    .to_owned(),
            );
        }
        // The function's alarms name it by reference or, to keep the template as written free
        // of a cycle through `Alarms`, by its `FunctionName` (see eventrail-generate's alarms).
        let function_name = t
            .resource(id)
            .and_then(|r| r.pointer("/Properties/FunctionName"));
        let names_function = |dimension: &Value| {
            dimension.get("Name").and_then(Value::as_str) == Some("FunctionName")
                && dimension
                    .get("Value")
                    .is_some_and(|v| references(v).contains(id) || Some(v) == function_name)
        };
        for alarm in &alarms {
            let watches_function = references(alarm).into_iter().any(|a| {
                self.is_type(&a, "AWS::CloudWatch::Alarm")
                    && items(
                        t.resource(&a)
                            .and_then(|r| r.pointer("/Properties/Dimensions")),
                    )
                    .into_iter()
                    .any(names_function)
            });
            if !watches_function {
                self.push(
                    Some(f),
                    id,
                    format!(
                        "DeploymentPreference alarm {alarm} is not an alarm of this template on \
                         the function's own metrics, so it cannot tell a bad version apart"
                    ),
                );
            }
        }
        let Some(names) = AliasNames::of(t, f) else {
            return;
        };
        let resources = t.json().get("Resources").and_then(Value::as_object);
        for (resource, body) in resources.into_iter().flatten() {
            let ty = body.get("Type").and_then(Value::as_str).unwrap_or_default();
            let Some(properties) = body.get("Properties") else {
                continue;
            };
            let mut direct: Vec<String> = INVOKERS
                .iter()
                .filter(|(t, _)| *t == ty)
                .flat_map(|(_, pointer)| at(properties, pointer))
                .filter(|v| names.names_function(v))
                .map(Value::to_string)
                .collect();
            if ty == "AWS::Lambda::EventInvokeConfig"
                && properties
                    .get("FunctionName")
                    .is_some_and(|v| references(v).contains(id))
                && properties.get("Qualifier").and_then(Value::as_str) != Some(alias)
            {
                direct.push(format!(
                    "{} (Qualifier {})",
                    properties
                        .get("FunctionName")
                        .map_or_else(String::new, Value::to_string),
                    properties
                        .get("Qualifier")
                        .map_or_else(|| "missing".to_owned(), Value::to_string)
                ));
            }
            for document in policy_documents(ty, properties) {
                for statement in items(document.get("Statement")) {
                    if !allows_invoke(statement) {
                        continue;
                    }
                    direct.extend(
                        items(statement.get("Resource"))
                            .into_iter()
                            .filter(|v| names.names_function(v))
                            .map(Value::to_string),
                    );
                }
            }
            for target in direct {
                self.push(
                    Some(f),
                    resource,
                    format!(
                        "{resource} ({ty}) invokes the function itself ({target}), not its alias \
                         `{alias}`: that traffic runs each new version at once and never shifts \
                         with the rollout; name the alias (!Ref {id}.Alias)"
                    ),
                );
            }
        }
    }
}
