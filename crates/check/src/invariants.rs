//! The delivery and least-privilege invariants every function in the template must meet.
//!
//! [`check_invariants`] returns one [`Violation`] per broken rule, each naming the function
//! (by binary name and logical id) or the resource at fault, so "add a function" mistakes fail
//! with a message that says which function and what to add.

use eventrail_contract::{AppSettings, FunctionDeclaration};
use eventrail_model::{RoleSource, Template};
use serde_json::Value;
use std::collections::BTreeMap;

use crate::bus_policy::{PUT_EVENTS_SET_OPERATOR, check_app_sources_policy};
use crate::checker::{Checker, label};
pub use crate::limits::{
    INVOKE_MAX_EVENT_AGE, INVOKE_MAX_RETRY_ATTEMPTS, TARGET_MAX_EVENT_AGE,
    TARGET_MAX_RETRY_ATTEMPTS,
};
pub use crate::violation::Violation;

/// Checks `template` against the functions' declarations and the app's settings (its source
/// prefix): a function that is no consumer (invoked directly, or started by an HTTP route, a
/// schedule or a queue) needs no rule; every declared
/// function is in the template and every function of the template is declared; a role that
/// may `PutEvents` is limited by the `events:source` and `events:detail-type` condition keys
/// with the set operator `ForAllValues:StringEquals` and a `Null` check (a `PutEvents` request
/// carries several entries, so both keys hold a set of values); the bus denies the app's
/// sources to everyone else. Then every check of [`check_invariants_with`].
pub fn check_invariants(
    template: &Template,
    functions: &[FunctionDeclaration],
    settings: &AppSettings,
) -> Vec<Violation> {
    let direct: Vec<&str> = functions
        .iter()
        .filter(|f| !f.declaration.is_consumer())
        .map(|f| f.name.as_str())
        .collect();
    let mut out = check_invariants_with(template, &direct);
    for declared in functions {
        if template.function_by_binary(&declared.name).is_none() {
            out.push(Violation {
                function: Some(format!("`{}`", declared.name)),
                resource: declared.logical_id(),
                message: "is declared (functions/*/Cargo.toml) but not in the template; run \
                          `eventrail infra generate`"
                    .to_owned(),
            });
        }
    }
    out.extend(check_app_sources_policy(template, functions, settings));
    for f in template.functions() {
        let declared = f
            .binary
            .as_deref()
            .is_some_and(|b| functions.iter().any(|d| d.name == b));
        if !declared {
            out.push(Violation {
                function: Some(label(f)),
                resource: f.logical_id.clone(),
                message: "is in the template but no function crate declares it \
                          ([package.metadata.eventrail]); create it with `eventrail new function`"
                    .to_owned(),
            });
        }
        for s in f
            .permissions
            .statements
            .iter()
            .filter(|s| s.allows_any(&["events:PutEvents"]))
        {
            let keys = s
                .condition
                .as_ref()
                .and_then(|c| c.get(PUT_EVENTS_SET_OPERATOR))
                .and_then(Value::as_object);
            let present = s
                .condition
                .as_ref()
                .and_then(|c| c.get("Null"))
                .and_then(Value::as_object);
            let declaration = f
                .binary
                .as_deref()
                .and_then(|b| functions.iter().find(|d| d.name == b));
            if let (Some(declaration), Some(allowed)) =
                (declaration, keys.and_then(|k| k.get("events:detail-type")))
            {
                let mut allowed: Vec<&str> = match allowed {
                    Value::String(one) => vec![one.as_str()],
                    Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                    _ => Vec::new(),
                };
                allowed.sort_unstable();
                let mut emits: Vec<&str> = declaration
                    .declaration
                    .emits
                    .iter()
                    .map(String::as_str)
                    .collect();
                emits.sort_unstable();
                if allowed != emits {
                    out.push(Violation {
                        function: Some(label(f)),
                        resource: f.logical_id.clone(),
                        message: format!(
                            "statement {} lets the role put the detail-types [{}], but the \
                             function declares it emits [{}]; run `eventrail infra generate`",
                            s.sid.as_deref().unwrap_or("(no Sid)"),
                            allowed.join(", "),
                            emits.join(", ")
                        ),
                    });
                }
            }
            for key in ["events:source", "events:detail-type"] {
                let sid = s.sid.as_deref().unwrap_or("(no Sid)");
                if !keys.is_some_and(|k| k.contains_key(key)) {
                    out.push(Violation {
                        function: Some(label(f)),
                        resource: f.logical_id.clone(),
                        message: format!(
                            "statement {sid} allows events:PutEvents without a \
                             {PUT_EVENTS_SET_OPERATOR} condition on {key} (a PutEvents request \
                             carries several entries, so the key holds one value per entry): \
                             the role could then forge another function's events; limit it to \
                             the function's own sources and detail-types"
                        ),
                    });
                }
                let required = present
                    .and_then(|p| p.get(key))
                    .is_some_and(|v| v == &Value::Bool(false) || v.as_str() == Some("false"));
                if !required {
                    out.push(Violation {
                        function: Some(label(f)),
                        resource: f.logical_id.clone(),
                        message: format!(
                            "statement {sid} allows events:PutEvents without the condition \
                             Null {key}: \"false\": ForAllValues holds for a request without \
                             the key, so the statement must also require it"
                        ),
                    });
                }
            }
        }
    }
    out
}

/// Checks `template`; `direct_invoke_only` lists binary names (or logical ids) of functions
/// that are invoked directly and need no subscribing rule.
///
/// For every function: a rule with a pattern on a bus of this template subscribes it;
/// each of its rule targets has a `DeadLetterConfig` to a declared queue and a `RetryPolicy`
/// within EventBridge's ranges; it has an `EventInvokeConfig` within Lambda's ranges with an
/// SQS `OnFailure` destination, which `EVENTRAIL_DLQ_URL` names; its role is declared in the
/// template, used by no other function, carries no managed policy and scopes `events:*` to a
/// bus of this template (only if the function emits), `sqs:*` to its own queues and `logs:*`
/// to its own log group; a function told a failed-events bucket is told its key prefix there
/// and its role may `s3:PutObject` under exactly that prefix. Every queue is encrypted and
/// alarms on `ApproximateAgeOfOldestMessage`; every dead-letter queue has an alarm on
/// `ApproximateNumberOfMessagesVisible > 0` and a policy; a rule's dead-letter queue has a
/// policy that lets that rule send to it; no queue policy allows anyone (`*`), and each one
/// that allows a sender denies `sqs:SendMessage` to every other principal (`aws:PrincipalArn`
/// for a role, `aws:SourceArn` for a service's source).
///
/// A function started by a REST API route, a schedule or a queue no rule sends to needs no
/// rule. A schedule has a retry policy, the function's failure queue as its dead-letter queue,
/// and a role of the template that may invoke that function and send to that queue, nothing
/// else; the failure queue's fence lets that role in. A route is on a REST API of the template
/// with a stage and names an authorizer it defines (or `AWS_IAM`). An SQS-fed function (a queue
/// trigger, or a buffered consumer whose rule targets its buffer queue) has no on-failure
/// destination; its mapping reports partial batch failures; its queue redrives to its failure
/// queue (which `EVENTRAIL_DLQ_URL` names) after the receives `EVENTRAIL_MAX_RECEIVE_COUNT`
/// says, with a visibility timeout of at least six times the function's timeout; its role may
/// receive and delete on that queue and no other; a buffer's policy lets its rule send
/// (`aws:SourceArn`).
///
/// A function with a gradual rollout (`DeploymentPreference`) publishes an alias, rolls back
/// on alarms of its own, and everything written outside its SAM events that invokes it (a
/// rule target, a permission, a mapping, an invoke config, a schedule, an API method, a
/// role's `lambda:InvokeFunction`) names that alias, not the function.
pub fn check_invariants_with(template: &Template, direct_invoke_only: &[&str]) -> Vec<Violation> {
    let mut checker = Checker {
        t: template,
        out: Vec::new(),
        owners: BTreeMap::new(),
    };
    let mut log_groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut roles: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in template.functions() {
        let exempt = direct_invoke_only
            .iter()
            .any(|n| *n == f.logical_id || Some(*n) == f.binary.as_deref());
        checker.function(f, exempt, &mut log_groups);
        checker.rollout(f);
        if let RoleSource::Resource(role) = &f.role {
            roles.entry(role.clone()).or_default().push(label(f));
        }
    }
    for (group, users) in log_groups.into_iter().filter(|(_, u)| u.len() > 1) {
        checker.push(
            None,
            &group,
            format!(
                "log group is written by several functions ({}); give each function its own",
                users.join(", ")
            ),
        );
    }
    for (role, users) in roles.into_iter().filter(|(_, u)| u.len() > 1) {
        checker.push(
            None,
            &role,
            format!(
                "role is shared by {}; give each function its own role",
                users.join(", ")
            ),
        );
    }
    checker.queues();
    checker.out
}
