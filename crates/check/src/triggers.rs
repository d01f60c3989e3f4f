//! The checks of a function's producer triggers: its schedules (a dead-letter queue that is the
//! function's failure queue, a retry policy within Scheduler's ranges, a role of the template
//! that may invoke this function and send to that queue, nothing else) and its HTTP routes (on
//! a REST API of the template, with an authorizer it defines).

use std::collections::BTreeSet;

use eventrail_model::{Function, Schedule, references};
use serde_json::Value;

use crate::checker::{Checker, QueueUse};
use crate::limits::{TARGET_MAX_EVENT_AGE, TARGET_MAX_RETRY_ATTEMPTS};
use crate::rollout::AliasNames;

/// Authorizers a SAM `Api` event may name without defining them on the API.
const BUILT_IN_AUTHORIZERS: &[&str] = &["AWS_IAM", "NONE"];

/// What a schedule's role may do.
const SCHEDULE_ROLE_ACTIONS: &[&str] = &["lambda:InvokeFunction", "sqs:SendMessage"];

fn strings(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn values(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(other) => vec![other],
        None => Vec::new(),
    }
}

impl Checker<'_> {
    /// Whether a REST API route, a schedule or a queue starts `f` (then no rule needs to).
    pub(crate) fn has_producer_trigger(&self, f: &Function) -> bool {
        let id = f.logical_id.as_str();
        self.t.api_routes().iter().any(|r| r.function == id)
            || self.t.schedules().iter().any(|s| s.function == id)
    }

    /// The `RoleArn` a schedule's target runs with, as written.
    fn schedule_role_arn(&self, f: &Function, s: &Schedule) -> Option<Value> {
        if let Some(resource) = self.t.resource(&s.logical_id) {
            return resource.pointer("/Properties/Target/RoleArn").cloned();
        }
        let events = self
            .t
            .resource(&f.logical_id)?
            .pointer("/Properties/Events")?
            .as_object()?;
        events
            .iter()
            .find(|(name, _)| format!("{}{name}", f.logical_id) == s.logical_id)
            .and_then(|(_, e)| e.pointer("/Properties/RoleArn").cloned())
    }

    /// The checks of the schedules invoking `f`; returns their roles' logical ids (they may send
    /// to the failure queue too).
    pub(crate) fn schedules(
        &mut self,
        f: &Function,
        failure_queue: Option<&str>,
    ) -> BTreeSet<String> {
        let id = f.logical_id.clone();
        let schedules: Vec<Schedule> = self
            .t
            .schedules()
            .iter()
            .filter(|s| s.function == id)
            .cloned()
            .collect();
        let mut roles = BTreeSet::new();
        for s in schedules {
            let sid = s.logical_id.as_str();
            match (s.dead_letter.as_deref(), failure_queue) {
                (Some(dlq), Some(q)) if dlq == q => {
                    self.mark(q, Some(f), QueueUse::OnFailure, None)
                }
                (Some(dlq), _) if self.is_type(dlq, "AWS::SQS::Queue") => self.push(
                    Some(f),
                    sid,
                    format!(
                        "schedule {sid} sends undeliverable firings to {dlq}, not to the \
                         function's failure queue{}",
                        failure_queue.map(|q| format!(" {q}")).unwrap_or_default()
                    ),
                ),
                _ => self.push(
                    Some(f),
                    sid,
                    format!(
                        "schedule {sid} has no DeadLetterConfig to a queue of this template: a \
                         firing Scheduler cannot deliver is lost; set DeadLetterConfig.Arn to the \
                         function's failure queue"
                    ),
                ),
            }
            match &s.retry_policy {
                None => self.push(
                    Some(f),
                    sid,
                    format!("schedule {sid} has no RetryPolicy; add MaximumEventAgeInSeconds and MaximumRetryAttempts"),
                ),
                Some(p) => {
                    self.range(
                        f,
                        sid,
                        &format!("schedule {sid} RetryPolicy.MaximumEventAgeInSeconds"),
                        p.maximum_event_age_in_seconds.as_ref(),
                        &TARGET_MAX_EVENT_AGE,
                    );
                    self.range(
                        f,
                        sid,
                        &format!("schedule {sid} RetryPolicy.MaximumRetryAttempts"),
                        p.maximum_retry_attempts.as_ref(),
                        &TARGET_MAX_RETRY_ATTEMPTS,
                    );
                }
            }
            let role = self
                .schedule_role_arn(f, &s)
                .map(|v| references(&v))
                .and_then(|r| r.into_iter().find(|r| self.is_type(r, "AWS::IAM::Role")));
            match role {
                None => self.push(
                    Some(f),
                    sid,
                    format!(
                        "schedule {sid} has no RoleArn to a role of this template (SAM would \
                         generate one whose grants cannot be checked here); declare one that may \
                         invoke only this function and send only to its failure queue"
                    ),
                ),
                Some(role) => {
                    self.schedule_role(f, sid, &role, failure_queue);
                    roles.insert(role);
                }
            }
        }
        roles
    }

    /// A schedule's role: trusted by Scheduler, allowed `lambda:InvokeFunction` on the function
    /// and `sqs:SendMessage` on its failure queue, and nothing else.
    fn schedule_role(
        &mut self,
        f: &Function,
        schedule: &str,
        role: &str,
        failure_queue: Option<&str>,
    ) {
        let Some(props) = self
            .t
            .resource(role)
            .and_then(|r| r.get("Properties"))
            .cloned()
        else {
            return;
        };
        let trusted = values(props.pointer("/AssumeRolePolicyDocument/Statement"))
            .into_iter()
            .any(|s| strings(s.pointer("/Principal/Service")).contains(&"scheduler.amazonaws.com"));
        let mut problems = Vec::new();
        if !trusted {
            problems.push("is not assumable by scheduler.amazonaws.com".to_owned());
        }
        if props.get("ManagedPolicyArns").is_some() {
            problems.push("carries managed policies; use explicit statements".to_owned());
        }
        // A function with an alias is invoked through it (see `rollout.rs`).
        let alias = AliasNames::of(self.t, f);
        let (mut invokes, mut sends) = (false, false);
        for policy in values(props.get("Policies")) {
            for s in values(policy.pointer("/PolicyDocument/Statement")) {
                if s.get("Effect").and_then(Value::as_str) != Some("Allow") {
                    continue;
                }
                let actions = strings(s.get("Action"));
                let resources: BTreeSet<String> = values(s.get("Resource"))
                    .into_iter()
                    .flat_map(references)
                    .collect();
                for a in &actions {
                    if !SCHEDULE_ROLE_ACTIONS.contains(a) {
                        problems.push(format!("allows {a}, beyond invoking the function and sending to its failure queue"));
                    }
                }
                let only = |target: Option<&str>| {
                    target.is_some_and(|t| resources == BTreeSet::from([t.to_owned()]))
                        && values(s.get("Resource")).len() == 1
                };
                if actions.contains(&"lambda:InvokeFunction") {
                    let on_alias = alias.as_ref().is_some_and(|a| {
                        let named = values(s.get("Resource"));
                        named.len() == 1 && named.iter().all(|v| a.names_alias(v))
                    });
                    if only(Some(&f.logical_id)) || on_alias {
                        invokes = true;
                    } else {
                        problems.push(format!(
                            "allows lambda:InvokeFunction on {}, not on {} alone",
                            s.get("Resource")
                                .map_or("(nothing)".to_owned(), Value::to_string),
                            f.logical_id
                        ));
                    }
                }
                if actions.contains(&"sqs:SendMessage") {
                    if only(failure_queue) {
                        sends = true;
                    } else {
                        problems.push(format!(
                            "allows sqs:SendMessage on {}, not on the failure queue alone",
                            s.get("Resource")
                                .map_or("(nothing)".to_owned(), Value::to_string)
                        ));
                    }
                }
            }
        }
        if !invokes {
            problems.push(format!("may not lambda:InvokeFunction {}", f.logical_id));
        }
        if !sends {
            problems.push("may not sqs:SendMessage to the function's failure queue (Scheduler sends dead letters with the schedule's role)".to_owned());
        }
        for p in problems {
            self.push(
                Some(f),
                role,
                format!("role {role} of schedule {schedule} {p}"),
            );
        }
    }

    /// The function's HTTP routes: on a REST API of this template that has a stage, with an
    /// authorizer that is built in or defined on that API.
    pub(crate) fn routes(&mut self, f: &Function) {
        let routes: Vec<_> = self
            .t
            .api_routes()
            .iter()
            .filter(|r| r.function == f.logical_id)
            .cloned()
            .collect();
        for r in routes {
            let what = format!("route {} ({})", r.route(), r.event);
            let api = r
                .rest_api
                .as_deref()
                .and_then(|a| self.t.rest_apis().iter().find(|x| x.logical_id == a))
                .cloned();
            let Some(api) = api else {
                self.push(
                    Some(f),
                    &f.logical_id,
                    format!(
                        "{what} is not on a REST API of this template (RestApiId: !Ref <Api>); \
                         SAM's implicit API has no declared stage, CORS or authorizers"
                    ),
                );
                continue;
            };
            if api.stage_name.is_none() {
                self.push(
                    Some(f),
                    &api.logical_id,
                    format!(
                        "REST API {} has no StageName; set it to !Ref Stage",
                        api.logical_id
                    ),
                );
            }
            if let Some(authorizer) = r.authorizer.as_deref()
                && !BUILT_IN_AUTHORIZERS.contains(&authorizer)
                && !api.authorizers.iter().any(|a| a == authorizer)
            {
                self.push(
                    Some(f),
                    &f.logical_id,
                    format!(
                        "{what} names the authorizer {authorizer}, which REST API {} does not define",
                        api.logical_id
                    ),
                );
            }
        }
    }
}
