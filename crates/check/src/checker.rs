//! The per-function checks of the template: rules, targets, retry ranges, on-failure
//! destinations, the failed-events prefix and the dead-letter queues each function uses. Its
//! role's checks are in `roles.rs`, the queues' in `queues.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

use eventrail_contract::declaration::failed_events_prefix;
use eventrail_contract::names::{DLQ_URL_VAR, FAILED_EVENTS_BUCKET_VAR, FAILED_EVENTS_PREFIX_VAR};
use eventrail_model::{Function, RoleSource, Setting, Statement, Template, direct_ref, references};
use serde_json::Value;

use crate::limits::{
    INVOKE_MAX_EVENT_AGE, INVOKE_MAX_RETRY_ATTEMPTS, TARGET_MAX_EVENT_AGE,
    TARGET_MAX_RETRY_ATTEMPTS,
};
use crate::statements::{denies_send_to_all, negated_arn_condition, text_of};
use crate::violation::Violation;

pub(crate) fn label(f: &Function) -> String {
    match &f.binary {
        Some(b) => format!("`{b}` ({})", f.logical_id),
        None => format!("`{}`", f.logical_id),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum QueueUse {
    Delivery,
    OnFailure,
    Redrive,
}

pub(crate) struct Checker<'t> {
    pub(crate) t: &'t Template,
    pub(crate) out: Vec<Violation>,
    /// Dead-letter queues by logical id.
    pub(crate) owners: BTreeMap<String, DeadLetterUse>,
}

/// How a queue is used as a dead-letter queue.
pub(crate) struct DeadLetterUse {
    /// Label of the function it belongs to, if any.
    pub(crate) owner: Option<String>,
    pub(crate) uses: BTreeSet<QueueUse>,
    /// Rules whose targets send to it.
    pub(crate) rules: BTreeSet<String>,
}

impl Checker<'_> {
    pub(crate) fn push(&mut self, function: Option<&Function>, resource: &str, message: String) {
        self.out.push(Violation {
            function: function.map(label),
            resource: resource.to_owned(),
            message,
        });
    }

    pub(crate) fn is_type(&self, id: &str, ty: &str) -> bool {
        self.t.resource_type(id) == Some(ty)
    }

    pub(crate) fn mark(
        &mut self,
        queue: &str,
        owner: Option<&Function>,
        usage: QueueUse,
        rule: Option<&str>,
    ) {
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

    pub(crate) fn range(
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

    pub(crate) fn function(
        &mut self,
        f: &Function,
        exempt: bool,
        log_groups: &mut BTreeMap<String, Vec<String>>,
    ) {
        let id = f.logical_id.as_str();
        let fed = self.feeds(f);
        let sources = fed.as_ref().map(|x| x.sources.clone()).unwrap_or_default();
        // The rules that invoke it, and those that send to a queue it polls (its buffer).
        let reaches = |t: &eventrail_model::Target| {
            t.function.as_deref() == Some(id)
                || t.resource.as_deref().is_some_and(|q| sources.contains(q))
        };
        let rules: Vec<_> = self
            .t
            .rules()
            .iter()
            .filter(|r| r.targets.iter().any(reaches))
            .collect();
        // A queue no rule sends to is a queue trigger: it starts the function, as a route or a
        // schedule does.
        let triggered = self.has_producer_trigger(f) || (fed.is_some() && rules.is_empty());
        let exempt = exempt || triggered;
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
            for target in rule.targets.iter().filter(|t| reaches(t)) {
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

        let mut failure_queue = fed.as_ref().and_then(|x| x.failure_queue.clone());
        if let Some(q) = &failure_queue {
            own_queues.insert(q.clone());
            own_queues.extend(sources.iter().cloned());
            self.mark(q, Some(f), QueueUse::Redrive, None);
        }
        match &f.event_invoke_config {
            // An SQS-fed function has no asynchronous invoke settings (`feeds` reports a
            // destination it should not have).
            _ if fed.is_some() => {}
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

        let schedule_roles = self.schedules(f, failure_queue.as_deref());
        self.routes(f);
        self.role(
            f,
            &own_queues,
            &sources,
            failure_queue.as_deref(),
            log_groups,
        );
        if let (Some(queue), RoleSource::Resource(role)) = (failure_queue.as_deref(), &f.role) {
            let mut senders = schedule_roles;
            senders.insert(role.clone());
            self.failure_queue_fenced(f, queue, &senders);
        }
        self.failed_events_prefix(f);
    }

    /// A function's failure queue: its policy denies `sqs:SendMessage` to every principal but
    /// the function's role, and grants the role nothing. The grant is the role's own statement
    /// alone: in one account a queue policy naming the role allows the send by itself, so a role
    /// that lost its statement would still send (on AWS, and under the local IAM enforcement),
    /// and the fact would be stated twice.
    /// `senders` are the function's role and its schedules' roles (Scheduler sends a schedule's
    /// dead letters with the schedule's role).
    pub(crate) fn failure_queue_fenced(
        &mut self,
        f: &Function,
        queue: &str,
        senders: &BTreeSet<String>,
    ) {
        let role = senders.iter().cloned().collect::<Vec<_>>().join(", ");
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
                    .is_some_and(|v| references(v) == *senders)
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
                    .is_some_and(|v| !references(v).is_disjoint(senders));
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
    pub(crate) fn failed_events_prefix(&mut self, f: &Function) {
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
}
