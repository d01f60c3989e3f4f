//! The checks of SQS-fed functions (a queue trigger, a buffered consumer): the mapping reports
//! partial batch failures; the queue that feeds the function redrives to the function's failure
//! queue after as many receives as the function is told (`EVENTRAIL_MAX_RECEIVE_COUNT`), with a
//! visibility timeout at least six times the function's timeout; the function has no
//! on-failure destination (it is not invoked asynchronously); a buffer's policy lets its rule in
//! (`aws:SourceArn` = that rule) and nobody else.

use std::collections::BTreeSet;

use eventrail_contract::names::MAX_RECEIVE_COUNT_VAR;
use eventrail_generate::VISIBILITY_TIMEOUT_FACTOR;
use eventrail_model::{Function, QueueMapping, Setting, references};
use serde_json::Value;

use crate::checker::Checker;
use crate::statements::{names_rule, principal_is_service, text_of};

/// Lambda's own default timeout, when neither the function nor `Globals` sets one.
const LAMBDA_DEFAULT_TIMEOUT: i64 = 3;
/// SQS's default visibility timeout.
const SQS_DEFAULT_VISIBILITY: i64 = 30;

/// What the feed checks found out about a function.
pub(crate) struct Fed {
    /// The queues that feed it.
    pub(crate) sources: BTreeSet<String>,
    /// Its failure queue: the redrive target of the queue(s) feeding it.
    pub(crate) failure_queue: Option<String>,
}

impl Checker<'_> {
    /// The function's timeout in seconds: its own `Timeout`, else `Globals.Function.Timeout`,
    /// else Lambda's default; `None` when it is not a literal.
    fn timeout_of(&self, f: &Function) -> Option<i64> {
        let own = self
            .t
            .resource(&f.logical_id)
            .and_then(|r| r.pointer("/Properties/Timeout"));
        let global = self.t.json().pointer("/Globals/Function/Timeout");
        match own.or(global) {
            None => Some(LAMBDA_DEFAULT_TIMEOUT),
            Some(v) => v.as_i64().or_else(|| v.as_str()?.parse().ok()),
        }
    }

    /// The queues that feed `f` and the checks of each; `None` when no queue feeds it.
    pub(crate) fn feeds(&mut self, f: &Function) -> Option<Fed> {
        let id = f.logical_id.as_str();
        let mappings: Vec<QueueMapping> = self.t.mappings_to(id).cloned().collect();
        if mappings.is_empty() {
            return None;
        }
        if let Some(c) = &f.event_invoke_config
            && c.on_failure.is_some()
        {
            self.push(
                Some(f),
                id,
                "is fed by an SQS queue but has an EventInvokeConfig on-failure destination: it is \
                 not invoked asynchronously, its failed records go back to its queue, which \
                 redrives them to the failure queue; remove the destination"
                    .to_owned(),
            );
        }
        let told_receives = f
            .environment
            .get(MAX_RECEIVE_COUNT_VAR)
            .and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()));
        let timeout = self.timeout_of(f);
        let mut fed = Fed {
            sources: BTreeSet::new(),
            failure_queue: None,
        };
        for m in &mappings {
            if !m.reports_batch_item_failures {
                self.push(
                    Some(f),
                    id,
                    format!(
                        "its SQS mapping {} does not list ReportBatchItemFailures in \
                         FunctionResponseTypes: one failed record would retry the whole batch",
                        m.name
                    ),
                );
            }
            let Some(queue) = m.queue.as_deref().and_then(|q| self.t.queue(q)).cloned() else {
                self.push(
                    Some(f),
                    id,
                    format!(
                        "its SQS mapping {} does not read a queue of this template (Queue: !GetAtt <Queue>.Arn)",
                        m.name
                    ),
                );
                continue;
            };
            let q = queue.logical_id.as_str();
            fed.sources.insert(q.to_owned());
            match &queue.redrive_dead_letter {
                None => self.push(
                    Some(f),
                    q,
                    format!(
                        "queue {q} feeds the function but has no RedrivePolicy: a record that \
                         keeps failing is received until it expires; redrive it to the function's \
                         failure queue"
                    ),
                ),
                Some(dlq) => {
                    fed.failure_queue.get_or_insert_with(|| dlq.clone());
                }
            }
            match (&queue.max_receive_count, told_receives) {
                (Some(Setting::Literal(n)), Some(told)) if *n == told => {}
                (count, told) => self.push(
                    Some(f),
                    q,
                    format!(
                        "queue {q} redrives after {} receives but the function is told {} \
                         ({MAX_RECEIVE_COUNT_VAR}): on its last receive the runtime writes the \
                         dead letter with the reason itself, so both must be one literal number",
                        count
                            .as_ref()
                            .map_or("(none)".to_owned(), |c| format!("{c:?}")),
                        told.map_or("nothing".to_owned(), |t| t.to_string()),
                    ),
                ),
            }
            let visibility = match &queue.visibility_timeout {
                None => Some(SQS_DEFAULT_VISIBILITY),
                Some(Setting::Literal(n)) => Some(*n),
                Some(_) => None,
            };
            let least = timeout.map(|t| t * i64::from(VISIBILITY_TIMEOUT_FACTOR));
            match (visibility, least) {
                (Some(v), Some(least)) if v >= least => {}
                (v, least) => self.push(
                    Some(f),
                    q,
                    format!(
                        "queue {q} has a visibility timeout of {} s, under {VISIBILITY_TIMEOUT_FACTOR} \
                         times the function's timeout ({} s): a batch still running would be \
                         received again; set VisibilityTimeout to at least that",
                        v.map_or("(not a number)".to_owned(), |v| v.to_string()),
                        least.map_or("(not a number)".to_owned(), |l| l.to_string()),
                    ),
                ),
            }
        }
        for queue in fed.sources.clone() {
            self.buffer_policy(f, &queue);
        }
        Some(fed)
    }

    /// A queue that rules send to (a buffer): its policy lets each of those rules send, by
    /// `aws:SourceArn`.
    fn buffer_policy(&mut self, f: &Function, queue: &str) {
        let rules: Vec<(String, Option<String>)> = self
            .t
            .rules()
            .iter()
            .filter(|r| {
                r.targets
                    .iter()
                    .any(|t| t.resource.as_deref() == Some(queue))
            })
            .map(|r| {
                (
                    r.logical_id.clone(),
                    r.name.as_ref().and_then(text_of).map(str::to_owned),
                )
            })
            .collect();
        let policies = self.t.queue_policies();
        for (rule, name) in rules {
            let allowed = policies
                .iter()
                .filter(|p| p.queues.iter().any(|x| x == queue))
                .flat_map(|p| p.statements.iter())
                .any(|s| {
                    s.effect == "Allow"
                        && s.allows_any(&["sqs:SendMessage"])
                        && principal_is_service(s, "events.amazonaws.com")
                        && s.condition.as_ref().is_some_and(|c| {
                            source_arn(c).is_some_and(|v| {
                                references(v).contains(&rule)
                                    || name.as_deref().is_some_and(|n| names_rule(v, n))
                            })
                        })
                });
            if !allowed {
                self.push(
                    Some(f),
                    queue,
                    format!(
                        "buffer queue {queue} has no policy statement letting events.amazonaws.com \
                         sqs:SendMessage with aws:SourceArn = rule {rule}'s ARN: the rule cannot \
                         deliver (or any rule could)"
                    ),
                );
            }
        }
    }
}

/// The `aws:SourceArn` value of an `ArnEquals`/`ArnLike` condition.
fn source_arn(condition: &Value) -> Option<&Value> {
    let c = condition.as_object()?;
    ["ArnEquals", "ArnLike"]
        .iter()
        .find_map(|op| c.get(*op)?.get("aws:SourceArn"))
}
