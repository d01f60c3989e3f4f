//! The checks of the template's queues: encrypted, alarmed, and fenced by a policy that lets
//! only their sender in.

use std::collections::BTreeMap;

use eventrail_model::references;

use crate::checker::{Checker, DeadLetterUse, QueueUse};
use crate::statements::{
    denies_send_to_all, grants_anyone, names_rule, negated_arn_condition, principal_is_service,
    text_of, unmatched_send_allow,
};
use crate::violation::Violation;

impl Checker<'_> {
    pub(crate) fn queues(&mut self) {
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
