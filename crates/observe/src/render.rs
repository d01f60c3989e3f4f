//! Text for people: a flow as a causal tree, each event with who emitted it and which
//! functions it was delivered to, watched queues' messages and failures under the event they
//! concern.

use std::collections::HashSet;
use std::fmt::Write as _;

use crate::event::ObservedEvent;
use crate::flow::Flow;
use crate::report::FlowReport;
use eventrail_model::Router;

impl FlowReport {
    /// The report rendered for people (see [`flow_report`]).
    pub fn render(&self, routes: Option<&Router>) -> String {
        flow_report(self, routes)
    }
}

/// Renders a report:
///
/// ```text
/// task t-1 · happy path
///   TaskCreated  by intake -> metrics, planner
///   └─ TaskAssigned  by planner -> metrics, worker
///      └─ ...
///            notices: task-done to a@example.com: "Task t-1 is done"
///   = 3 events, 1 notices message, nothing in failure queues
/// ```
pub fn flow_report(report: &FlowReport, routes: Option<&Router>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", report.title);
    let flow = &report.flow;
    if flow.is_empty() {
        let _ = writeln!(out, "  (no events observed)");
    }
    let mut attached_messages = HashSet::new();
    let mut attached_failures = HashSet::new();
    // continues[d]: whether the ancestor at depth d has later siblings (draw a bar).
    let mut continues: Vec<bool> = Vec::new();
    for step in flow.causal_order() {
        continues.truncate(step.depth);
        let mut prefix = String::from("  ");
        for &more in continues.iter().skip(1) {
            prefix.push_str(if more { "│  " } else { "   " });
        }
        if step.depth > 0 {
            prefix.push_str(if step.last_sibling {
                "└─ "
            } else {
                "├─ "
            });
        }
        let _ = writeln!(
            out,
            "{prefix}{}",
            event_line(step.event, flow, routes, step.orphan)
        );
        continues.push(!step.last_sibling);

        // Notes under the event, aligned with its children.
        let mut note_prefix = String::from("  ");
        for &more in continues.iter().skip(1) {
            note_prefix.push_str(if more { "│  " } else { "   " });
        }
        let has_children = !flow.children_of(&step.event.id).is_empty();
        note_prefix.push_str(if has_children { "│  " } else { "   " });
        for (index, message) in report.messages.iter().enumerate() {
            if message.body.event_id == step.event.id {
                attached_messages.insert(index);
                let _ = writeln!(
                    out,
                    "{note_prefix}{}: {} to {}: \"{}\"",
                    message.queue, message.body.kind, message.body.to, message.body.subject
                );
            }
        }
        for (index, record) in report.failures.iter().enumerate() {
            if record.event_id() == Some(step.event.id.as_str()) {
                attached_failures.insert(index);
                let _ = writeln!(out, "{note_prefix}FAILED {}", record.summary());
            }
        }
    }
    for (index, message) in report.messages.iter().enumerate() {
        if !attached_messages.contains(&index) {
            let _ = writeln!(
                out,
                "  {} (caused by unobserved event {}): {} to {}: \"{}\"",
                message.queue,
                message.body.event_id,
                message.body.kind,
                message.body.to,
                message.body.subject
            );
        }
    }
    for (index, record) in report.failures.iter().enumerate() {
        if !attached_failures.contains(&index) {
            let what = match (record.detail_type(), record.event_id()) {
                (Some(t), Some(id)) => format!("{t} {}", short(id)),
                (None, Some(id)) => short(id).to_owned(),
                _ => "an event".to_owned(),
            };
            let _ = writeln!(
                out,
                "  FAILED ({what}, not seen on the tap) {}",
                record.summary()
            );
        }
    }
    for problem in flow.problems() {
        let _ = writeln!(out, "  ! {problem}");
    }
    let mut totals = vec![format!("{} event{}", flow.len(), plural(flow.len()))];
    for name in &report.watched {
        let count = report.messages_in(name).count();
        totals.push(format!("{count} {name} message{}", plural(count)));
    }
    totals.push(format!(
        "{} in failure queues",
        if report.failures.is_empty() {
            "nothing".to_owned()
        } else {
            report.failures.len().to_string()
        }
    ));
    let _ = writeln!(out, "  = {}", totals.join(", "));
    out
}

fn event_line(event: &ObservedEvent, flow: &Flow, routes: Option<&Router>, orphan: bool) -> String {
    let mut line = format!("{}  by {}", event.detail_type, event.emitter());
    let receivers = match routes {
        Some(routes) => routes.functions_for(&event.raw),
        None => {
            // Without the template: the functions whose reaction was observed.
            let mut seen: Vec<String> = flow
                .children_of(&event.id)
                .iter()
                .map(|c| c.emitter().to_owned())
                .collect();
            seen.sort();
            seen.dedup();
            seen
        }
    };
    if !receivers.is_empty() {
        let _ = write!(line, " -> {}", receivers.join(", "));
    }
    let _ = write!(line, "  [{}]", short(&event.id));
    if let Some(replay) = &event.replay_name {
        let _ = write!(line, " (replayed by {replay})");
    }
    if orphan && let Some(cause) = &event.causation_id {
        let _ = write!(line, " (cause {} not observed)", short(cause));
    }
    line
}

/// The first 8 characters of an id.
fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::failure::{FailureKind, FailureRecord};
    use crate::outputs::FailureLayer;
    use crate::watched::{MessageBody, WatchedMessage};

    fn event(id: &str, source: &str, detail_type: &str, cause: Option<&str>) -> ObservedEvent {
        ObservedEvent::from_value(json!({
            "id": id, "source": source, "detail-type": detail_type, "time": "t",
            "detail": {"metadata": {"correlation_id": "c-1", "causation_id": cause,
                                    "idempotency_key": format!("k-{id}")}, "data": {}}
        }))
        .unwrap()
    }

    fn report() -> FlowReport {
        let mut flow = Flow::new("c-1");
        flow.push(event("e1aaaaaaaa", "eventrail.intake", "TaskCreated", None));
        flow.push(event(
            "e2bbbbbbbb",
            "eventrail.auditor",
            "TaskFlagged",
            Some("e1aaaaaaaa"),
        ));
        flow.push(event(
            "e3cccccccc",
            "eventrail.planner",
            "TaskAssigned",
            Some("e1aaaaaaaa"),
        ));
        flow.push(event(
            "e4dddddddd",
            "eventrail.worker",
            "TaskBlocked",
            Some("e3cccccccc"),
        ));
        let failure_body = json!({
            "requestContext": {"condition": "RetriesExhausted", "approximateInvokeCount": 3,
                               "functionArn": "arn", "requestId": "r"},
            "requestPayload": {"id": "e3cccccccc", "detail-type": "TaskAssigned"},
            "responsePayload": {"errorType": "E", "errorMessage": "gateway down"}
        });
        FlowReport {
            title: "task t-1 · test".to_owned(),
            flow,
            watched: vec!["notices".to_owned()],
            messages: vec![WatchedMessage {
                queue: "notices".into(),
                message_id: "m".into(),
                deduplication_id: Some("k".into()),
                group_id: Some("t-1".into()),
                body: MessageBody {
                    to: "a@example.com".into(),
                    kind: "task-blocked".into(),
                    subject: "Task t-1: blocked".into(),
                    correlation_id: "c-1".into(),
                    event_id: "e4dddddddd".into(),
                    idempotency_key: "k".into(),
                },
            }],
            failures: vec![FailureRecord {
                queue_function: "worker".into(),
                layer: FailureLayer::Function,
                message_id: "f".into(),
                kind: FailureKind::decode(&failure_body.to_string(), &BTreeMap::new()),
            }],
        }
    }

    #[test]
    fn renders_a_causal_tree_with_notes_under_their_events() {
        let text = flow_report(&report(), None);
        let expected = "\
task t-1 · test
  TaskCreated  by intake -> auditor, planner  [e1aaaaaa]
  ├─ TaskFlagged  by auditor  [e2bbbbbb]
  └─ TaskAssigned  by planner -> worker  [e3cccccc]
     │  FAILED handler failed 3 times (RetriesExhausted) -> worker failure queue: E: gateway down
     └─ TaskBlocked  by worker  [e4dddddd]
           notices: task-blocked to a@example.com: \"Task t-1: blocked\"
  = 4 events, 1 notices message, 1 in failure queues
";
        assert_eq!(text, expected, "\n{text}");
    }

    #[test]
    fn lists_what_it_cannot_attach_and_the_flow_problems() {
        let mut report = report();
        report.flow = Flow::new("c-1");
        report.flow.push(event(
            "e9zzzzzzzz",
            "eventrail.closer",
            "TaskDone",
            Some("gone"),
        ));
        let text = flow_report(&report, None);
        assert!(text.contains("(cause gone not observed)"), "{text}");
        assert!(
            text.contains("notices (caused by unobserved event e4dddddddd)"),
            "{text}"
        );
        assert!(
            text.contains("FAILED (TaskAssigned e3cccccc, not seen on the tap)"),
            "{text}"
        );
        assert!(
            text.contains("! TaskDone e9zzzzzzzz names cause gone"),
            "{text}"
        );
        let empty = FlowReport::of_flow("t", Flow::new("c"));
        let text = flow_report(&empty, None);
        assert!(text.contains("(no events observed)"), "{text}");
        assert!(
            text.ends_with("= 0 events, nothing in failure queues\n"),
            "no watched queue, no count of its messages: {text}"
        );
    }
}
