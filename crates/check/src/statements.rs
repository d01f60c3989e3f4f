//! Questions about policy statements and their conditions that several checks ask.

use eventrail_model::{Statement, references};
use serde_json::Value;

/// Whether a deny statement covers `sqs:SendMessage` for every principal.
pub(crate) fn denies_send_to_all(s: &Statement) -> bool {
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
pub(crate) fn negated_arn_condition<'s>(s: &'s Statement, key: &str) -> Option<&'s Value> {
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
pub(crate) fn unmatched_send_allow(allow: &Statement, statements: &[Statement]) -> Option<String> {
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
pub(crate) fn text_of(v: &Value) -> Option<&str> {
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
pub(crate) fn names_rule(condition: &Value, name: &str) -> bool {
    if text_of(condition).is_some_and(|t| t.ends_with(&format!("/{name}"))) {
        return true;
    }
    match condition {
        Value::Object(o) => o.values().any(|v| names_rule(v, name)),
        Value::Array(items) => items.iter().any(|v| names_rule(v, name)),
        _ => false,
    }
}

pub(crate) fn principal_is_service(s: &Statement, service: &str) -> bool {
    let Some(p) = &s.principal else { return false };
    match p.get("Service") {
        Some(Value::String(svc)) => svc == service,
        Some(Value::Array(list)) => list.iter().any(|v| v.as_str() == Some(service)),
        _ => false,
    }
}

pub(crate) fn grants_anyone(p: &Value) -> bool {
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
