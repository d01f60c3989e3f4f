//! The least-privilege checks of a function's role: declared in the template, its own, no
//! managed policy, and each service's actions scoped to the function's own resources.

use std::collections::{BTreeMap, BTreeSet};

use eventrail_contract::names::BUS_NAME_VAR;
use eventrail_model::{Function, RoleSource, direct_ref, references};

use crate::checker::{Checker, label};

/// What only a queue's reader does: allowed on the queues that feed the function, nowhere else.
const POLL_ONLY_ACTIONS: &[&str] = &[
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
];

/// Actions for which AWS only accepts `Resource: "*"`.
pub(crate) const WILDCARD_ONLY_ACTIONS: &[&str] = &[
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "cloudwatch:PutMetricData",
];

impl Checker<'_> {
    pub(crate) fn role(
        &mut self,
        f: &Function,
        own_queues: &BTreeSet<String>,
        sources: &BTreeSet<String>,
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
        let mut polled: BTreeSet<String> = BTreeSet::new();
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
                let polls = s.allows_any(POLL_ONLY_ACTIONS);
                for r in &s.resources {
                    if polls {
                        match direct_ref(r).filter(|q| sources.contains(*q)) {
                            Some(q) => {
                                if s.allows_any(&["sqs:ReceiveMessage"])
                                    && s.allows_any(&["sqs:DeleteMessage"])
                                {
                                    polled.insert(q.to_owned());
                                }
                            }
                            None => self.push(
                                Some(f),
                                id,
                                format!(
                                    "{what} allows receiving or deleting messages of {r}, which                                      is not a queue that feeds the function"
                                ),
                            ),
                        }
                    }
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
        for q in sources.difference(&polled) {
            self.push(
                Some(f),
                id,
                format!(
                    "role may not sqs:ReceiveMessage and sqs:DeleteMessage on {q}, the queue that                      feeds it: Lambda polls it with the function's role"
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
}
