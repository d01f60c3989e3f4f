//! The delivery and least-privilege invariants every function in the template must meet.
//!
//! [`check_invariants`] returns one [`Violation`] per broken rule, each naming the function
//! (by binary name and logical id) or the resource at fault, so "add a function" mistakes fail
//! with a message that says which function and what to add.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::RangeInclusive;

use serde_json::Value;

use eventrail_contract::declaration::failed_events_prefix;
use eventrail_contract::names::{
    BUS_NAME_VAR, DLQ_URL_VAR, FAILED_EVENTS_BUCKET_VAR, FAILED_EVENTS_PREFIX_VAR,
    TRUSTED_PUBLISHERS_PARAMETER,
};
use eventrail_contract::{AppSettings, FunctionDeclaration, Invoke};

use eventrail_model::Template;
use eventrail_model::{Function, RoleSource, Setting, Statement};
use eventrail_model::{direct_ref, references};

/// EventBridge target `RetryPolicy.MaximumEventAgeInSeconds` range.
pub const TARGET_MAX_EVENT_AGE: RangeInclusive<i64> = 60..=86_400;
/// EventBridge target `RetryPolicy.MaximumRetryAttempts` range.
pub const TARGET_MAX_RETRY_ATTEMPTS: RangeInclusive<i64> = 0..=185;
/// Lambda `EventInvokeConfig.MaximumEventAgeInSeconds` range.
pub const INVOKE_MAX_EVENT_AGE: RangeInclusive<i64> = 60..=21_600;
/// Lambda `EventInvokeConfig.MaximumRetryAttempts` range.
pub const INVOKE_MAX_RETRY_ATTEMPTS: RangeInclusive<i64> = 0..=2;

/// Actions for which AWS only accepts `Resource: "*"`.
const WILDCARD_ONLY_ACTIONS: &[&str] = &[
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "cloudwatch:PutMetricData",
];

/// One broken invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The function at fault, as `binary (LogicalId)`, when the problem belongs to one.
    pub function: Option<String>,
    /// Logical id of the resource where the problem is (function, rule, queue, ...).
    pub resource: String,
    /// What is wrong and what to add.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.function {
            Some(func) => write!(f, "function {func}: {}", self.message),
            None => write!(f, "resource {}: {}", self.resource, self.message),
        }
    }
}

/// Checks `template` against the functions' declarations and the app's settings (its source
/// prefix): a function declared with `invoke = "direct"` needs no rule; every declared
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
        .filter(|f| f.declaration.invoke == Invoke::Direct)
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

/// The set operator the roles' `PutEvents` conditions use on `events:source` and
/// `events:detail-type`.
const PUT_EVENTS_SET_OPERATOR: &str = "ForAllValues:StringEquals";
/// The set operator of the bus policy's deny on `events:source`.
const DENY_SET_OPERATOR: &str = "ForAnyValue:StringLike";
/// The parameter listing the other principals that may put the app's sources.
const TRUSTED_PUBLISHERS: &str = TRUSTED_PUBLISHERS_PARAMETER;

/// The bus must deny `PutEvents` of the app's sources to every principal but the roles of the
/// functions that emit (and the trusted publishers): otherwise any role or user of the account
/// could forge, say, a payment and have the order shipped. The deny names principal `*`, the
/// action `events:PutEvents`, `ForAnyValue:StringLike` on `events:source` with exactly the
/// app's pattern (`<source prefix>*`; a request's entries give the key several values, and one
/// of them with the prefix is enough to deny), and exempts with `ArnNotLike` on
/// `aws:PrincipalArn` exactly the emitting functions' roles, plus the `TrustedPublisherArns`
/// parameter, when the template has it, only when it lists someone (an empty list parameter
/// would add an empty ARN).
fn check_app_sources_policy(
    template: &Template,
    functions: &[FunctionDeclaration],
    settings: &AppSettings,
) -> Vec<Violation> {
    let pattern = eventrail_model::declared::app_sources_pattern(settings);
    let bus_policies: Vec<(&String, &Value)> = template
        .json()
        .get("Resources")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(_, r)| {
            r.get("Type").and_then(Value::as_str) == Some("AWS::Events::EventBusPolicy")
        })
        .collect();
    let is_deny = |resource: &Value| {
        resource
            .pointer("/Properties/Statement/Effect")
            .and_then(Value::as_str)
            == Some("Deny")
    };
    let Some((id, policy)) = bus_policies.into_iter().find(|(_, r)| is_deny(r)) else {
        return vec![Violation {
            function: None,
            resource: "EventBus".to_owned(),
            message: format!(
                "no bus policy denies events:PutEvents of the app's sources ({DENY_SET_OPERATOR} \
                 on events:source `{pattern}`) to principals other than the functions' roles: \
                 anyone in the account could forge the app's events; run `eventrail infra \
                 generate`, which writes it"
            ),
        }];
    };
    let statement = policy
        .pointer("/Properties/Statement")
        .unwrap_or(&Value::Null);
    let mut out = Vec::new();
    let mut wrong = |message: String| {
        out.push(Violation {
            function: None,
            resource: id.clone(),
            message: format!(
                "the bus policy that keeps the app's sources to its roles {message}; run \
                 `eventrail infra generate`"
            ),
        });
    };
    if !grants_anyone(statement.get("Principal").unwrap_or(&Value::Null)) {
        wrong(
            "must name Principal \"*\": a deny for some principals leaves the others free to forge"
                .to_owned(),
        );
    }
    let actions = match statement.get("Action") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !actions
        .iter()
        .any(|a| a.eq_ignore_ascii_case("events:PutEvents"))
    {
        wrong("does not deny events:PutEvents".to_owned());
    }
    let condition = statement.get("Condition").unwrap_or(&Value::Null);
    match condition
        .get(DENY_SET_OPERATOR)
        .and_then(|c| c.get("events:source"))
    {
        None => wrong(format!(
            "has no {DENY_SET_OPERATOR} condition on events:source (a PutEvents request \
             carries several entries: a plain operator on the set is not what AWS evaluates \
             per value)"
        )),
        Some(values) => {
            let values: Vec<&str> = match values {
                Value::String(one) => vec![one.as_str()],
                Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            if values != [pattern.as_str()] {
                wrong(format!(
                    "matches events:source {values:?}, not the app's sources `{pattern}` \
                     (the workspace's source prefix)"
                ));
            }
        }
    }
    let Some(exempt) = condition
        .get("ArnNotLike")
        .and_then(|c| c.get("aws:PrincipalArn"))
    else {
        wrong(
            "has no ArnNotLike exemption on aws:PrincipalArn for the emitting functions' roles"
                .to_owned(),
        );
        return out;
    };
    let trusted = template
        .parameters()
        .iter()
        .any(|p| p.name == TRUSTED_PUBLISHERS);
    let named = references(exempt);
    if trusted && !named.contains(TRUSTED_PUBLISHERS) {
        wrong(format!(
            "does not exempt the principals of the {TRUSTED_PUBLISHERS} parameter"
        ));
    }
    if unguarded_parameter(exempt, TRUSTED_PUBLISHERS, template) {
        wrong(format!(
            "names {TRUSTED_PUBLISHERS} outside an !If on a condition that it is not empty: \
             an empty list adds an empty ARN to the exemption"
        ));
    }
    let expected: BTreeSet<String> = functions
        .iter()
        .filter(|f| f.declaration.emits_events())
        .map(|f| format!("{}Role", f.logical_id()))
        .collect();
    let roles: BTreeSet<String> = named
        .into_iter()
        .filter(|r| r != TRUSTED_PUBLISHERS && template.resource_type(r).is_some())
        .collect();
    for f in functions {
        let role = format!("{}Role", f.logical_id());
        let message = match (expected.contains(&role), roles.contains(&role)) {
            (true, false) => {
                "emits events but its role is not exempt from the bus policy that keeps the \
                 app's sources to its roles: its events would be refused; run `eventrail infra \
                 generate`"
            }
            (false, true) => {
                "emits nothing but its role is exempt from the bus policy that keeps the app's \
                 sources to its roles; run `eventrail infra generate`"
            }
            _ => continue,
        };
        out.push(Violation {
            function: Some(format!("`{}`", f.name)),
            resource: id.clone(),
            message: message.to_owned(),
        });
    }
    let mut strangers = Vec::new();
    exempt_items(exempt, &mut strangers);
    strangers.retain(|item| match item {
        ExemptItem::Ref(r) => {
            r != TRUSTED_PUBLISHERS
                && !functions
                    .iter()
                    .any(|f| format!("{}Role", f.logical_id()) == *r)
        }
        ExemptItem::Other(_) => true,
    });
    if !strangers.is_empty() {
        let list: Vec<String> = strangers
            .iter()
            .map(|item| match item {
                ExemptItem::Ref(r) => r.clone(),
                ExemptItem::Other(v) => v.to_string(),
            })
            .collect();
        out.push(Violation {
            function: None,
            resource: id.clone(),
            message: format!(
                "the bus policy that keeps the app's sources to its roles exempts {}, which \
                 are neither roles of functions that emit nor {TRUSTED_PUBLISHERS}; run \
                 `eventrail infra generate`",
                list.join(", ")
            ),
        });
    }
    out
}

/// One principal of the bus policy's exemption, as written.
enum ExemptItem {
    /// A reference (`!GetAtt XRole.Arn`, `!Ref Parameter`).
    Ref(String),
    /// Anything else: a literal ARN, an empty string, an unknown function.
    Other(Value),
}

/// The principals an `ArnNotLike` value lists, through `!If`, `!Split` and `!Join`.
fn exempt_items(value: &Value, out: &mut Vec<ExemptItem>) {
    if let Some(id) = direct_ref(value) {
        out.push(ExemptItem::Ref(id.to_owned()));
        return;
    }
    match value {
        Value::Array(items) => items.iter().for_each(|v| exempt_items(v, out)),
        Value::Object(o) if o.len() == 1 => match o.iter().next() {
            Some((f, Value::Array(args))) if f == "Fn::If" && args.len() == 3 => {
                args[1..].iter().for_each(|v| exempt_items(v, out));
            }
            Some((f, Value::Array(args)))
                if (f == "Fn::Split" || f == "Fn::Join") && args.len() == 2 =>
            {
                exempt_items(&args[1], out);
            }
            _ => out.push(ExemptItem::Other(value.clone())),
        },
        other => out.push(ExemptItem::Other(other.clone())),
    }
}

/// Whether `value` mentions the list parameter `parameter` anywhere but in the true branch of
/// an `Fn::If` whose condition mentions it (a condition that it is not empty).
fn unguarded_parameter(value: &Value, parameter: &str, template: &Template) -> bool {
    match value {
        Value::Array(items) => items
            .iter()
            .any(|v| unguarded_parameter(v, parameter, template)),
        Value::Object(o) => {
            if let Some(Value::Array(parts)) = o.get("Fn::If")
                && let [Value::String(condition), when, otherwise] = parts.as_slice()
            {
                let guards = template
                    .json()
                    .pointer(&format!("/Conditions/{condition}"))
                    .is_some_and(|c| references(c).contains(parameter));
                return (!guards && unguarded_parameter(when, parameter, template))
                    || unguarded_parameter(otherwise, parameter, template);
            }
            if o.get("Ref").and_then(Value::as_str) == Some(parameter) {
                return true;
            }
            o.values()
                .any(|v| unguarded_parameter(v, parameter, template))
        }
        _ => false,
    }
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

fn label(f: &Function) -> String {
    match &f.binary {
        Some(b) => format!("`{b}` ({})", f.logical_id),
        None => format!("`{}`", f.logical_id),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum QueueUse {
    Delivery,
    OnFailure,
    Redrive,
}

struct Checker<'t> {
    t: &'t Template,
    out: Vec<Violation>,
    /// Dead-letter queues by logical id.
    owners: BTreeMap<String, DeadLetterUse>,
}

/// How a queue is used as a dead-letter queue.
struct DeadLetterUse {
    /// Label of the function it belongs to, if any.
    owner: Option<String>,
    uses: BTreeSet<QueueUse>,
    /// Rules whose targets send to it.
    rules: BTreeSet<String>,
}

impl Checker<'_> {
    fn push(&mut self, function: Option<&Function>, resource: &str, message: String) {
        self.out.push(Violation {
            function: function.map(label),
            resource: resource.to_owned(),
            message,
        });
    }

    fn is_type(&self, id: &str, ty: &str) -> bool {
        self.t.resource_type(id) == Some(ty)
    }

    fn mark(&mut self, queue: &str, owner: Option<&Function>, usage: QueueUse, rule: Option<&str>) {
        let entry = self
            .owners
            .entry(queue.to_owned())
            .or_insert_with(|| DeadLetterUse {
                owner: owner.map(label),
                uses: BTreeSet::new(),
                rules: BTreeSet::new(),
            });
        entry.uses.insert(usage);
        if let Some(rule) = rule {
            entry.rules.insert(rule.to_owned());
        }
    }

    fn range(
        &mut self,
        f: &Function,
        resource: &str,
        what: &str,
        value: Option<&Setting>,
        range: &RangeInclusive<i64>,
    ) {
        let (lo, hi) = (range.start(), range.end());
        let problem = match value {
            None => format!("{what} is missing; set it to a value in {lo}..={hi}"),
            Some(v) => match (v, v.bounds()) {
                (_, Some((min, max))) if range.contains(&min) && range.contains(&max) => return,
                (Setting::Literal(n), _) => format!("{what} is {n}, outside {lo}..={hi}"),
                (Setting::Parameter { name, .. }, _) => format!(
                    "{what} uses parameter {name}, which must declare MinValue/MaxValue \
                     (and a Default) within {lo}..={hi}"
                ),
                (Setting::Other(raw), _) => {
                    format!("{what} is {raw}, which cannot be checked against {lo}..={hi}")
                }
            },
        };
        self.push(Some(f), resource, problem);
    }

    fn function(
        &mut self,
        f: &Function,
        exempt: bool,
        log_groups: &mut BTreeMap<String, Vec<String>>,
    ) {
        let id = f.logical_id.as_str();
        let rules: Vec<_> = self.t.rules_for(id).collect();
        let subscribed = rules.iter().any(|r| {
            r.pattern
                .as_ref()
                .and_then(Value::as_object)
                .is_some_and(|p| !p.is_empty())
        });
        if !subscribed && !exempt {
            self.push(
                Some(f),
                id,
                "no EventBridge rule with an event pattern subscribes it; add an EventBridgeRule \
                 event on the custom bus (or declare invoke = \"direct\" if it is invoked directly)"
                    .to_owned(),
            );
        }

        let mut own_queues: BTreeSet<String> = BTreeSet::new();
        for rule in rules {
            match rule.bus_resource.as_deref() {
                Some(bus) if self.is_type(bus, "AWS::Events::EventBus") => {}
                _ => self.push(
                    Some(f),
                    &rule.logical_id,
                    format!(
                        "rule {} is not on an event bus of this template; set EventBusName to the custom bus",
                        rule.logical_id
                    ),
                ),
            }
            for target in rule
                .targets
                .iter()
                .filter(|t| t.function.as_deref() == Some(id))
            {
                let rid = rule.logical_id.as_str();
                match &target.dead_letter {
                    None => self.push(
                        Some(f),
                        rid,
                        format!("rule {rid} target has no DeadLetterConfig; add one pointing at its own SQS queue"),
                    ),
                    Some(d) if d.generated => self.push(
                        Some(f),
                        rid,
                        format!(
                            "rule {rid} target uses a DLQ that SAM generates (unencrypted, no alarm); \
                             declare an AWS::SQS::Queue and set DeadLetterConfig.Arn to it"
                        ),
                    ),
                    Some(d) => match d.queue.as_deref() {
                        Some(q) if self.is_type(q, "AWS::SQS::Queue") => {
                            own_queues.insert(q.to_owned());
                            self.mark(q, Some(f), QueueUse::Delivery, Some(rid));
                        }
                        _ => self.push(
                            Some(f),
                            rid,
                            format!("rule {rid} target DeadLetterConfig.Arn is not a queue of this template"),
                        ),
                    },
                }
                match &target.retry_policy {
                    None => self.push(
                        Some(f),
                        rid,
                        format!("rule {rid} target has no RetryPolicy; add MaximumEventAgeInSeconds and MaximumRetryAttempts"),
                    ),
                    Some(p) => {
                        self.range(
                            f,
                            rid,
                            &format!("rule {rid} RetryPolicy.MaximumEventAgeInSeconds"),
                            p.maximum_event_age_in_seconds.as_ref(),
                            &TARGET_MAX_EVENT_AGE,
                        );
                        self.range(
                            f,
                            rid,
                            &format!("rule {rid} RetryPolicy.MaximumRetryAttempts"),
                            p.maximum_retry_attempts.as_ref(),
                            &TARGET_MAX_RETRY_ATTEMPTS,
                        );
                    }
                }
            }
        }

        let mut failure_queue = None;
        match &f.event_invoke_config {
            None => self.push(
                Some(f),
                id,
                "has no EventInvokeConfig; add MaximumRetryAttempts, MaximumEventAgeInSeconds and an \
                 SQS OnFailure destination"
                    .to_owned(),
            ),
            Some(c) => {
                self.range(
                    f,
                    id,
                    "EventInvokeConfig.MaximumRetryAttempts",
                    c.maximum_retry_attempts.as_ref(),
                    &INVOKE_MAX_RETRY_ATTEMPTS,
                );
                self.range(
                    f,
                    id,
                    "EventInvokeConfig.MaximumEventAgeInSeconds",
                    c.maximum_event_age_in_seconds.as_ref(),
                    &INVOKE_MAX_EVENT_AGE,
                );
                match c.on_failure.as_ref().and_then(|d| d.resource.as_deref()) {
                    Some(q) if self.is_type(q, "AWS::SQS::Queue") => {
                        failure_queue = Some(q.to_owned());
                        own_queues.insert(q.to_owned());
                        self.mark(q, Some(f), QueueUse::OnFailure, None);
                    }
                    _ => self.push(
                        Some(f),
                        id,
                        "has no OnFailure destination to an SQS queue of this template; add \
                         EventInvokeConfig.DestinationConfig.OnFailure (Type: SQS)"
                            .to_owned(),
                    ),
                }
            }
        }

        match (f.environment.get(DLQ_URL_VAR), &failure_queue) {
            (None, _) if !exempt => self.push(
                Some(f),
                id,
                format!("has no {DLQ_URL_VAR}; set it to !Ref of its on-failure queue so poison events go there"),
            ),
            (Some(v), Some(q)) if direct_ref(v) != Some(q.as_str()) => self.push(
                Some(f),
                id,
                format!("{DLQ_URL_VAR} does not name its on-failure queue {q}"),
            ),
            _ => {}
        }
        for v in f.environment.values() {
            if let Some(q) = direct_ref(v).filter(|q| self.is_type(q, "AWS::SQS::Queue")) {
                own_queues.insert(q.to_owned());
            }
        }

        self.role(f, &own_queues, failure_queue.as_deref(), log_groups);
        if let (Some(queue), RoleSource::Resource(role)) = (failure_queue.as_deref(), &f.role) {
            self.failure_queue_fenced(f, queue, role);
        }
        self.failed_events_prefix(f);
    }

    /// A function's failure queue: its policy denies `sqs:SendMessage` to every principal but
    /// the function's role, and grants the role nothing. The grant is the role's own statement
    /// alone: in one account a queue policy naming the role allows the send by itself, so a role
    /// that lost its statement would still send (on AWS, and under the local IAM enforcement),
    /// and the fact would be stated twice.
    fn failure_queue_fenced(&mut self, f: &Function, queue: &str, role: &str) {
        let policies = self.t.queue_policies();
        let statements: Vec<&Statement> = policies
            .iter()
            .filter(|p| p.queues.iter().any(|x| x == queue))
            .flat_map(|p| p.statements.iter())
            .collect();
        // Named by its policy (where the fix goes), or by the queue when it has none.
        let resource = policies
            .iter()
            .find(|p| p.queues.iter().any(|x| x == queue))
            .map_or(queue, |p| p.logical_id.as_str())
            .to_owned();
        let fenced = statements.iter().any(|s| {
            denies_send_to_all(s)
                && negated_arn_condition(s, "aws:PrincipalArn")
                    .is_some_and(|v| references(v) == BTreeSet::from([role.to_owned()]))
        });
        if !fenced {
            self.push(
                Some(f),
                &resource,
                format!(
                    "no statement denies sqs:SendMessage on failure queue {queue} to every principal \
                     but {role} (Effect Deny, Principal \"*\", ArnNotEquals aws:PrincipalArn: \
                     !GetAtt {role}.Arn)"
                ),
            );
        }
        for s in statements {
            let grants_role = s.effect == "Allow"
                && s.allows_any(&["sqs:SendMessage"])
                && s.principal
                    .as_ref()
                    .and_then(|p| p.get("AWS"))
                    .is_some_and(|v| references(v).contains(role));
            if grants_role {
                let sid = s.sid.as_deref().unwrap_or("(no Sid)");
                self.push(
                    Some(f),
                    &resource,
                    format!(
                        "the policy of failure queue {queue} grants {role} sqs:SendMessage \
                         (statement {sid}): in one account that alone allows the send, so the \
                         role's own statement could go missing unnoticed; grant it in the role only"
                    ),
                );
            }
        }
    }

    /// A function told a failed-events bucket (`EVENTRAIL_FAILED_EVENTS_BUCKET`) is told its key
    /// prefix there too (`EVENTRAIL_FAILED_EVENTS_PREFIX`, its declared name and a slash), and
    /// its role may `s3:PutObject` exactly under that prefix of that bucket: the key the runtime
    /// writes is the resource the role may write, or every large dead letter is AccessDenied.
    fn failed_events_prefix(&mut self, f: &Function) {
        let id = f.logical_id.as_str();
        let put_resources: Vec<&Value> = f
            .permissions
            .statements
            .iter()
            .filter(|s| s.allows_any(&["s3:PutObject"]))
            .flat_map(|s| s.resources.iter())
            .collect();
        let bucket = f
            .environment
            .get(FAILED_EVENTS_BUCKET_VAR)
            .and_then(direct_ref)
            .map(str::to_owned);
        let Some(bucket) = bucket else {
            if !put_resources.is_empty() {
                self.push(
                    Some(f),
                    id,
                    format!(
                        "role may s3:PutObject but the function is told no failed-events bucket \
                         ({FAILED_EVENTS_BUCKET_VAR} as !Ref of a bucket of this template); drop the grant"
                    ),
                );
            }
            return;
        };
        let prefix = f
            .environment
            .get(FAILED_EVENTS_PREFIX_VAR)
            .and_then(Value::as_str)
            .map(str::to_owned);
        let Some(prefix) = prefix.filter(|p| p.ends_with('/') && p.len() > 1) else {
            self.push(
                Some(f),
                id,
                format!(
                    "{FAILED_EVENTS_BUCKET_VAR} is set but {FAILED_EVENTS_PREFIX_VAR} is not a \
                     literal key prefix ending in `/`; the runtime would key stored events by the \
                     Lambda name, which the role may not write; run `eventrail infra generate`"
                ),
            );
            return;
        };
        if let Some(binary) = f.binary.as_deref() {
            let declared = failed_events_prefix(binary);
            if prefix != declared {
                self.push(
                    Some(f),
                    id,
                    format!(
                        "{FAILED_EVENTS_PREFIX_VAR} is `{prefix}`, not the function's own prefix \
                         `{declared}`; run `eventrail infra generate`"
                    ),
                );
            }
        }
        let expected = format!("${{{bucket}.Arn}}/{prefix}*");
        if put_resources.is_empty() {
            self.push(
                Some(f),
                id,
                format!(
                    "role may not s3:PutObject on {expected}, where the function stores the events \
                     of dead letters too large for its queue; run `eventrail infra generate`"
                ),
            );
        }
        for r in put_resources {
            if text_of(r) != Some(expected.as_str()) || r.get("Fn::Sub").is_none() {
                self.push(
                    Some(f),
                    id,
                    format!(
                        "role may s3:PutObject on {r}, but the function writes under \
                         !Sub \"{expected}\" ({FAILED_EVENTS_PREFIX_VAR}); the two must be one \
                         prefix, or the large dead letters are denied (or another prefix is writable)"
                    ),
                );
            }
        }
    }

    fn role(
        &mut self,
        f: &Function,
        own_queues: &BTreeSet<String>,
        failure_queue: Option<&str>,
        log_groups: &mut BTreeMap<String, Vec<String>>,
    ) {
        let id = f.logical_id.as_str();
        match &f.role {
            RoleSource::Generated => self.push(
                Some(f),
                id,
                "uses the role SAM generates, which attaches AWSLambdaBasicExecutionRole (logs on \
                 Resource \"*\"); declare an AWS::IAM::Role with explicit statements and set Role"
                    .to_owned(),
            ),
            RoleSource::External(v) => self.push(
                Some(f),
                id,
                format!("role {v} is not declared in this template, so its permissions cannot be checked"),
            ),
            RoleSource::Resource(_) => {}
        }
        for m in &f.permissions.managed {
            if m.as_str() == Some("AWSLambdaBasicExecutionRole") && f.role == RoleSource::Generated
            {
                continue;
            }
            self.push(
                Some(f),
                id,
                format!(
                    "role carries managed policy or policy template {m}; use explicit statements"
                ),
            );
        }

        let emits = f.environment.contains_key(BUS_NAME_VAR);
        let mut may_put_events = false;
        let mut may_send_failure = false;
        let mut may_log = false;
        let mut own_logs = BTreeSet::new();
        for s in f
            .permissions
            .statements
            .iter()
            .filter(|s| s.effect == "Allow")
        {
            let what = s.sid.as_deref().map_or_else(
                || format!("{:?}", s.actions),
                |sid| format!("statement {sid}"),
            );
            if s.not_action || s.not_resource {
                self.push(
                    Some(f),
                    id,
                    format!("{what} uses NotAction/NotResource; list actions and resources"),
                );
                continue;
            }
            if s.resources.iter().any(|r| r.as_str() == Some("*"))
                && !s
                    .actions
                    .iter()
                    .all(|a| WILDCARD_ONLY_ACTIONS.contains(&a.as_str()))
            {
                self.push(
                    Some(f),
                    id,
                    format!("{what} grants Resource \"*\"; scope it to the resources it needs"),
                );
            }
            if s.allows_any(&["events:PutEvents"]) {
                may_put_events = true;
                if !emits {
                    self.push(
                        Some(f),
                        id,
                        format!("{what} allows events:PutEvents but the function does not emit (no {BUS_NAME_VAR})"),
                    );
                }
            }
            if s.actions
                .iter()
                .any(|a| a.to_ascii_lowercase().starts_with("events:") || a == "*")
            {
                for r in &s.resources {
                    if !direct_ref(r).is_some_and(|b| self.is_type(b, "AWS::Events::EventBus")) {
                        self.push(Some(f), id, format!("{what} allows events actions on {r}, not on the bus of this template"));
                    }
                }
            }
            if s.actions
                .iter()
                .any(|a| a.to_ascii_lowercase().starts_with("dynamodb:") || a == "*")
            {
                for r in &s.resources {
                    if !direct_ref(r).is_some_and(|t| self.is_type(t, "AWS::DynamoDB::Table")) {
                        self.push(Some(f), id, format!("{what} allows dynamodb actions on {r}, not on a table of this template"));
                    }
                }
            }
            if s.actions
                .iter()
                .any(|a| a.to_ascii_lowercase().starts_with("sqs:") || a == "*")
            {
                for r in &s.resources {
                    match direct_ref(r) {
                        Some(q) if own_queues.contains(q) => {
                            if Some(q) == failure_queue && s.allows_any(&["sqs:SendMessage"]) {
                                may_send_failure = true;
                            }
                        }
                        _ => self.push(
                            Some(f),
                            id,
                            format!("{what} allows sqs actions on {r}, which is not one of its own queues"),
                        ),
                    }
                }
            }
            if s.actions
                .iter()
                .any(|a| a.to_ascii_lowercase().starts_with("logs:") || a == "*")
            {
                for r in &s.resources {
                    let groups: Vec<String> = references(r)
                        .into_iter()
                        .filter(|g| self.is_type(g, "AWS::Logs::LogGroup"))
                        .collect();
                    if groups.is_empty() {
                        self.push(Some(f), id, format!("{what} allows logs actions on {r}, not on a log group of this template"));
                    }
                    own_logs.extend(groups);
                }
                may_log |= s.allows_any(&["logs:PutLogEvents"]);
            }
        }
        for g in own_logs {
            log_groups.entry(g).or_default().push(label(f));
        }
        if emits && !may_put_events {
            self.push(
                Some(f),
                id,
                format!(
                    "emits ({BUS_NAME_VAR} is set) but its role may not events:PutEvents on the bus"
                ),
            );
        }
        if let Some(q) = failure_queue
            && !may_send_failure
        {
            self.push(
                Some(f),
                id,
                format!(
                    "role may not sqs:SendMessage to its on-failure queue {q}; Lambda delivers \
                     destinations with the function's role, and poison events are sent by the function"
                ),
            );
        }
        if matches!(f.role, RoleSource::Resource(_)) && !may_log {
            self.push(
                Some(f),
                id,
                "role may not logs:PutLogEvents to its own log group".to_owned(),
            );
        }
    }

    fn queues(&mut self) {
        for q in self.t.queues() {
            if let Some(dlq) = &q.redrive_dead_letter {
                self.mark(dlq, None, QueueUse::Redrive, None);
            }
        }
        let owner_of = |owners: &BTreeMap<String, DeadLetterUse>, q: &str| {
            owners.get(q).and_then(|d| d.owner.clone())
        };
        let mut found = Vec::new();
        for q in self.t.queues() {
            if !q.encrypted() {
                found.push((
                    owner_of(&self.owners, &q.logical_id),
                    q.logical_id.clone(),
                    format!(
                        "queue {} is not encrypted; set SqsManagedSseEnabled: true",
                        q.logical_id
                    ),
                ));
            }
            let aged = self.t.alarms().iter().any(|a| {
                a.dimension_resource.as_deref() == Some(q.logical_id.as_str())
                    && a.watches_oldest_message_age()
            });
            if !aged {
                found.push((
                    owner_of(&self.owners, &q.logical_id),
                    q.logical_id.clone(),
                    format!(
                        "queue {} has no alarm on ApproximateAgeOfOldestMessage; add one below its \
                         retention, or a message nobody reads (a letter nobody redrives) expires unread",
                        q.logical_id
                    ),
                ));
            }
            let sized = self
                .t
                .resource(&q.logical_id)
                .and_then(|r| r.pointer("/Properties/MaximumMessageSize"))
                .is_some();
            if !sized {
                found.push((
                    owner_of(&self.owners, &q.logical_id),
                    q.logical_id.clone(),
                    format!(
                        "queue {} does not set MaximumMessageSize; set it explicitly (1048576), so \
                         what fits in a message is stated, not a service default",
                        q.logical_id
                    ),
                ));
            }
        }
        let policies = self.t.queue_policies();
        for (queue, DeadLetterUse { owner, uses, rules }) in &self.owners {
            let alarmed = self.t.alarms().iter().any(|a| {
                a.dimension_resource.as_deref() == Some(queue) && a.fires_on_any_visible_message()
            });
            if !alarmed {
                found.push((
                    owner.clone(),
                    queue.clone(),
                    format!(
                        "dead-letter queue {queue} has no alarm on ApproximateNumberOfMessagesVisible > 0; add an AWS::CloudWatch::Alarm"
                    ),
                ));
            }
            let policed = policies.iter().any(|p| p.queues.iter().any(|x| x == queue));
            if !policed {
                found.push((
                    owner.clone(),
                    queue.clone(),
                    format!(
                        "dead-letter queue {queue} has no queue policy; add one that allows its \
                         sender and denies sqs:SendMessage to every other principal"
                    ),
                ));
            }
            if uses.contains(&QueueUse::Delivery) {
                for rule in rules {
                    let named = self
                        .t
                        .rules()
                        .iter()
                        .find(|r| &r.logical_id == rule)
                        .and_then(|r| r.name.as_ref())
                        .and_then(text_of);
                    let allowed = policies
                        .iter()
                        .filter(|p| p.queues.iter().any(|x| x == queue))
                        .any(|p| {
                            p.statements.iter().any(|s| {
                                s.allows_any(&["sqs:SendMessage"])
                                    && principal_is_service(s, "events.amazonaws.com")
                                    && s.condition.as_ref().is_some_and(|c| {
                                        references(c).contains(rule)
                                            || named.is_some_and(|n| names_rule(c, n))
                                    })
                            })
                        });
                    if !allowed {
                        found.push((
                            owner.clone(),
                            queue.clone(),
                            format!(
                                "dead-letter queue {queue} has no queue policy letting events.amazonaws.com \
                                 send from rule {rule} (aws:SourceArn = the rule ARN); EventBridge cannot deliver to it"
                            ),
                        ));
                    }
                }
            }
        }
        for p in policies {
            let owner = p.queues.iter().find_map(|q| owner_of(&self.owners, q));
            let fenced = p.statements.iter().any(|s| {
                denies_send_to_all(s)
                    && (negated_arn_condition(s, "aws:PrincipalArn").is_some()
                        || negated_arn_condition(s, "aws:SourceArn").is_some())
            });
            if !fenced {
                found.push((
                    owner.clone(),
                    p.logical_id.clone(),
                    format!(
                        "queue policy {}: no statement denies sqs:SendMessage to every principal but \
                         the queue's sender (Effect Deny, Principal \"*\", ArnNotEquals on \
                         aws:PrincipalArn or aws:SourceArn)",
                        p.logical_id
                    ),
                ));
            }
            for s in p
                .statements
                .iter()
                .filter(|s| s.allows_any(&["sqs:SendMessage"]))
            {
                if let Some(problem) = unmatched_send_allow(s, &p.statements) {
                    found.push((
                        owner.clone(),
                        p.logical_id.clone(),
                        format!("queue policy {}: {problem}", p.logical_id),
                    ));
                }
            }
            for s in p.statements.iter().filter(|s| s.effect == "Allow") {
                if s.principal.as_ref().is_some_and(grants_anyone) {
                    found.push((
                        None,
                        p.logical_id.clone(),
                        format!("queue policy {} allows any principal (\"*\"); name the service or role", p.logical_id),
                    ));
                }
            }
        }
        for (owner, resource, message) in found {
            self.out.push(Violation {
                function: owner,
                resource,
                message,
            });
        }
    }
}

/// Whether a deny statement covers `sqs:SendMessage` for every principal.
fn denies_send_to_all(s: &Statement) -> bool {
    s.effect == "Deny"
        && !s.not_action
        && s.principal.as_ref().is_some_and(grants_anyone)
        && s.actions.iter().any(|a| {
            let a = a.to_ascii_lowercase();
            a == "sqs:sendmessage" || a == "sqs:*" || a == "*"
        })
}

/// The value a deny's negated ARN condition (`ArnNotEquals`/`ArnNotLike`, with or without
/// `IfExists`) gives `key`.
fn negated_arn_condition<'s>(s: &'s Statement, key: &str) -> Option<&'s Value> {
    let c = s.condition.as_ref()?.as_object()?;
    [
        "ArnNotEquals",
        "ArnNotLike",
        "ArnNotEqualsIfExists",
        "ArnNotLikeIfExists",
    ]
    .iter()
    .find_map(|op| c.get(*op)?.get(key))
}

/// A queue policy that lets one sender `sqs:SendMessage` must deny it to every other principal:
/// an allow only adds, and any role of the account with `sqs:*` on `*` could still write the
/// queue. For a role (`Principal: {AWS: role}`) the deny exempts that role's ARN
/// (`aws:PrincipalArn`); for a service limited to one source (`aws:SourceArn`, the rule of a
/// delivery DLQ) it exempts that source. `None` when the policy has the matching deny.
fn unmatched_send_allow(allow: &Statement, statements: &[Statement]) -> Option<String> {
    let sid = allow.sid.as_deref().unwrap_or("(no Sid)");
    let principal = allow.principal.as_ref()?;
    let denies = statements.iter().filter(|s| denies_send_to_all(s));
    if let Some(role) = principal.get("AWS") {
        let exempt = references(role);
        let matched = denies
            .filter_map(|d| negated_arn_condition(d, "aws:PrincipalArn"))
            .any(|v| references(v) == exempt && !exempt.is_empty());
        return (!matched).then(|| {
            format!(
                "statement {sid} lets {role} sqs:SendMessage, but no statement denies it \
                 (Effect Deny, Principal \"*\", ArnNotEquals aws:PrincipalArn) to every other \
                 principal"
            )
        });
    }
    if principal.get("Service").is_some() {
        let source = allow
            .condition
            .as_ref()
            .and_then(Value::as_object)
            .and_then(|c| {
                ["ArnEquals", "ArnLike"]
                    .iter()
                    .find_map(|op| c.get(*op)?.get("aws:SourceArn"))
            });
        let Some(source) = source else {
            return Some(format!(
                "statement {sid} lets a service sqs:SendMessage without an aws:SourceArn \
                 condition; limit it to the one source that sends"
            ));
        };
        let matched = denies
            .filter_map(|d| negated_arn_condition(d, "aws:SourceArn"))
            .any(|v| v == source);
        return (!matched).then(|| {
            format!(
                "statement {sid} lets a service send from {source}, but no statement denies \
                 sqs:SendMessage (Effect Deny, Principal \"*\", ArnNotEquals aws:SourceArn) to \
                 every request from another source"
            )
        });
    }
    None
}

/// The text of a literal string or of a `Fn::Sub` template.
fn text_of(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s),
        Value::Object(o) if o.len() == 1 => match o.get("Fn::Sub")? {
            Value::String(s) => Some(s),
            Value::Array(parts) => parts.first()?.as_str(),
            _ => None,
        },
        _ => None,
    }
}

/// True when some ARN in `condition` ends with `/<rule name>` (`rule/<bus>/<name>`), comparing
/// the `Fn::Sub` texts as written.
fn names_rule(condition: &Value, name: &str) -> bool {
    if text_of(condition).is_some_and(|t| t.ends_with(&format!("/{name}"))) {
        return true;
    }
    match condition {
        Value::Object(o) => o.values().any(|v| names_rule(v, name)),
        Value::Array(items) => items.iter().any(|v| names_rule(v, name)),
        _ => false,
    }
}

fn principal_is_service(s: &Statement, service: &str) -> bool {
    let Some(p) = &s.principal else { return false };
    match p.get("Service") {
        Some(Value::String(svc)) => svc == service,
        Some(Value::Array(list)) => list.iter().any(|v| v.as_str() == Some(service)),
        _ => false,
    }
}

fn grants_anyone(p: &Value) -> bool {
    match p {
        Value::String(s) => s == "*",
        Value::Object(o) => o.values().any(|v| match v {
            Value::String(s) => s == "*",
            Value::Array(list) => list.iter().any(|x| x.as_str() == Some("*")),
            _ => false,
        }),
        _ => false,
    }
}
