//! The bus policy invariant: the bus denies `PutEvents` of the app's sources to every
//! principal but the roles of the functions that emit and the trusted publishers.

use std::collections::BTreeSet;

use eventrail_contract::names::TRUSTED_PUBLISHERS_PARAMETER;
use eventrail_contract::{AppSettings, FunctionDeclaration};
use eventrail_model::{Template, direct_ref, references};
use serde_json::Value;

use crate::statements::grants_anyone;
use crate::violation::Violation;

/// The set operator the roles' `PutEvents` conditions use on `events:source` and
/// `events:detail-type`.
pub(crate) const PUT_EVENTS_SET_OPERATOR: &str = "ForAllValues:StringEquals";
/// The set operator of the bus policy's deny on `events:source`.
pub(crate) const DENY_SET_OPERATOR: &str = "ForAnyValue:StringLike";
/// The parameter listing the other principals that may put the app's sources.
pub(crate) const TRUSTED_PUBLISHERS: &str = TRUSTED_PUBLISHERS_PARAMETER;

/// The bus must deny `PutEvents` of the app's sources to every principal but the roles of the
/// functions that emit (and the trusted publishers): otherwise any role or user of the account
/// could forge, say, a payment and have the order shipped. The deny names principal `*`, the
/// action `events:PutEvents`, `ForAnyValue:StringLike` on `events:source` with exactly the
/// app's pattern (`<source prefix>*`; a request's entries give the key several values, and one
/// of them with the prefix is enough to deny), and exempts with `ArnNotLike` on
/// `aws:PrincipalArn` exactly the emitting functions' roles, plus the `TrustedPublisherArns`
/// parameter, when the template has it, only when it lists someone (an empty list parameter
/// would add an empty ARN).
pub(crate) fn check_app_sources_policy(
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
pub(crate) enum ExemptItem {
    /// A reference (`!GetAtt XRole.Arn`, `!Ref Parameter`).
    Ref(String),
    /// Anything else: a literal ARN, an empty string, an unknown function.
    Other(Value),
}

/// The principals an `ArnNotLike` value lists, through `!If`, `!Split` and `!Join`.
pub(crate) fn exempt_items(value: &Value, out: &mut Vec<ExemptItem>) {
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
pub(crate) fn unguarded_parameter(value: &Value, parameter: &str, template: &Template) -> bool {
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
