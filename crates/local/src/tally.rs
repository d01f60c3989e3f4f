//! A deploy's stack events, counted: how many of the stack's resources are done (`stack
//! 87/112`), and when the deploy fails, the report a person reads: the first resource that
//! failed, its reason, and what the rollback left.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// One stack event, as the deploy reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackEvent {
    /// The event's id (each event is counted once).
    pub id: String,
    pub logical_id: String,
    pub resource_type: String,
    /// `CREATE_COMPLETE`, `CREATE_FAILED`, ...
    pub status: String,
    pub reason: Option<String>,
}

impl StackEvent {
    /// The line `--verbose` prints for it, `seconds` into the deploy.
    pub fn line(&self, seconds: f64) -> String {
        format!(
            "  {seconds:>5.1}s  {:<20} {:<32} {}{}",
            self.status,
            self.resource_type,
            self.logical_id,
            self.reason
                .as_deref()
                .map(|r| format!("  ({r})"))
                .unwrap_or_default(),
        )
    }

    fn failed(&self) -> bool {
        self.status.ends_with("_FAILED")
    }
}

/// The events of one deploy of one stack, oldest first, and each resource's latest status.
#[derive(Debug, Clone)]
pub struct Tally {
    stack_name: String,
    /// Ids of the events already counted, or left out as an earlier deploy's.
    seen: BTreeSet<String>,
    /// This deploy's events, oldest first.
    events: Vec<StackEvent>,
    /// Each resource's latest status (the stack itself left out).
    latest: BTreeMap<String, String>,
    /// How many resources the stack will have, when known (the processed template's count).
    expected: Option<usize>,
}

impl Tally {
    pub fn new(stack_name: &str) -> Self {
        Self {
            stack_name: stack_name.to_owned(),
            seen: BTreeSet::new(),
            events: Vec::new(),
            latest: BTreeMap::new(),
            expected: None,
        }
    }

    /// Leaves out the event `id`: it belongs to an earlier deploy.
    pub fn skip(&mut self, id: &str) {
        self.seen.insert(id.to_owned());
    }

    /// True when the event `id` was counted or skipped.
    pub fn has_seen(&self, id: &str) -> bool {
        self.seen.contains(id)
    }

    /// The stack will have `resources` resources once deployed.
    pub fn expect(&mut self, resources: usize) {
        self.expected = Some(resources);
    }

    /// The deploy ended: the total is the resources it touched (the processed template also
    /// counts the resources whose condition left them out).
    pub fn settle(&mut self) {
        self.expected = None;
    }

    /// True once [`Tally::expect`] was told the stack's resource count.
    pub fn expects_a_count(&self) -> bool {
        self.expected.is_some()
    }

    /// Counts `event` unless it was counted (or skipped) before; true when it is new.
    pub fn observe(&mut self, event: StackEvent) -> bool {
        if !self.seen.insert(event.id.clone()) {
            return false;
        }
        if !self.is_the_stack(&event) {
            self.latest
                .insert(event.logical_id.clone(), event.status.clone());
        }
        self.events.push(event);
        true
    }

    fn is_the_stack(&self, event: &StackEvent) -> bool {
        event.logical_id == self.stack_name && event.resource_type == "AWS::CloudFormation::Stack"
    }

    /// Resources whose latest status is a completed one.
    pub fn done(&self) -> usize {
        self.latest
            .values()
            .filter(|status| status.ends_with("_COMPLETE"))
            .count()
    }

    /// Resources the deploy will have touched: the processed template's count when known,
    /// else (and at least) the resources seen so far.
    pub fn total(&self) -> usize {
        self.expected.unwrap_or(0).max(self.latest.len())
    }

    /// Resources of this deploy that failed, in the order they failed.
    pub fn failed(&self) -> impl Iterator<Item = &StackEvent> {
        self.events
            .iter()
            .filter(|e| e.failed() && !self.is_the_stack(e))
    }

    /// The report of a deploy that ended in `status` (not a success).
    pub fn failure(&self, status: &str) -> Failure {
        let mut failed = self.failed();
        let first = failed.next().cloned().or_else(|| {
            // No resource failed: the stack's own failure says why.
            self.events
                .iter()
                .find(|e| e.failed() && self.is_the_stack(e))
                .cloned()
        });
        let mut also_failed: Vec<String> = Vec::new();
        for event in failed {
            if first
                .as_ref()
                .is_none_or(|f| f.logical_id != event.logical_id)
                && !also_failed.contains(&event.logical_id)
            {
                also_failed.push(event.logical_id.clone());
            }
        }
        Failure {
            stack_name: self.stack_name.clone(),
            status: status.to_owned(),
            first,
            also_failed,
        }
    }
}

/// How many names of the other failed resources the report lists.
const ALSO_FAILED_SHOWN: usize = 5;

/// What went wrong in a deploy: the first failed resource and its reason, the rollback's
/// outcome, and the other resources that failed after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub stack_name: String,
    /// The stack's status when the deploy ended (`ROLLBACK_COMPLETE`, ...).
    pub status: String,
    /// The first resource that failed (else the stack's own failure), when any event says.
    pub first: Option<StackEvent>,
    /// The other resources that failed, in order (often cancelled because of the first).
    pub also_failed: Vec<String>,
}

/// What a stack's final status says the rollback did.
pub fn rollback_outcome(status: &str) -> &'static str {
    match status {
        "ROLLBACK_COMPLETE" => "rolled back: the resources it created are deleted",
        "ROLLBACK_FAILED" => {
            "the rollback failed: some resources are left; `eventrail local down` starts afresh"
        }
        "UPDATE_ROLLBACK_COMPLETE" => "rolled back: the stack is as the previous deploy left it",
        "UPDATE_ROLLBACK_FAILED" => {
            "the rollback failed: the stack is neither the old nor the new one; `eventrail local down` starts afresh"
        }
        "CREATE_FAILED" | "UPDATE_FAILED" => "not rolled back: the resources stay as they failed",
        "DELETE_COMPLETE" => "the stack is deleted",
        "DELETE_FAILED" => "the stack's deletion failed: some resources are left",
        _ => "unknown: the stack's status says no more",
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.first {
            Some(first) => {
                writeln!(
                    f,
                    "first failed resource: {} ({}), {}",
                    first.logical_id, first.resource_type, first.status
                )?;
                // One line, so the report stays a block of its own (LocalStack's reasons
                // carry a provider's multi-line message).
                let reason = first.reason.as_deref().map_or_else(
                    || "none given".to_owned(),
                    |r| r.split_whitespace().collect::<Vec<_>>().join(" "),
                );
                writeln!(f, "  reason: {reason}")?;
            }
            None => writeln!(f, "first failed resource: no stack event names one")?,
        }
        write!(
            f,
            "rollback: {} ({})",
            rollback_outcome(&self.status),
            self.status
        )?;
        if !self.also_failed.is_empty() {
            let shown: Vec<&str> = self
                .also_failed
                .iter()
                .take(ALSO_FAILED_SHOWN)
                .map(String::as_str)
                .collect();
            write!(f, "\nalso failed after it: {}", shown.join(", "))?;
            let more = self.also_failed.len().saturating_sub(ALSO_FAILED_SHOWN);
            if more > 0 {
                write!(f, " and {more} more")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(
        id: u32,
        logical_id: &str,
        kind: &str,
        status: &str,
        reason: Option<&str>,
    ) -> StackEvent {
        StackEvent {
            id: format!("e{id}"),
            logical_id: logical_id.to_owned(),
            resource_type: kind.to_owned(),
            status: status.to_owned(),
            reason: reason.map(str::to_owned),
        }
    }

    const STACK: &str = "eventrail-local";
    const STACK_TYPE: &str = "AWS::CloudFormation::Stack";

    /// A creation where `Planner`'s memory size is refused, `Bus` is cancelled after it, and
    /// the stack rolls back.
    fn failed_creation() -> Tally {
        let mut tally = Tally::new(STACK);
        tally.skip("old");
        tally.expect(4);
        let events = [
            event(0, "old", STACK_TYPE, "UPDATE_COMPLETE", None),
            event(1, STACK, STACK_TYPE, "CREATE_IN_PROGRESS", None),
            event(
                2,
                "Table",
                "AWS::DynamoDB::Table",
                "CREATE_IN_PROGRESS",
                None,
            ),
            event(3, "Table", "AWS::DynamoDB::Table", "CREATE_COMPLETE", None),
            event(
                4,
                "Planner",
                "AWS::Lambda::Function",
                "CREATE_IN_PROGRESS",
                None,
            ),
            event(
                5,
                "Planner",
                "AWS::Lambda::Function",
                "CREATE_FAILED",
                Some("MemorySize 64 is not in\n[128, 10240]"),
            ),
            event(
                6,
                "Bus",
                "AWS::Events::EventBus",
                "CREATE_FAILED",
                Some("Resource creation cancelled"),
            ),
            event(
                7,
                STACK,
                STACK_TYPE,
                "CREATE_FAILED",
                Some("The following resource(s) failed to create: [Planner, Bus]"),
            ),
            event(8, "Table", "AWS::DynamoDB::Table", "DELETE_COMPLETE", None),
            event(9, STACK, STACK_TYPE, "ROLLBACK_COMPLETE", None),
        ];
        for e in events {
            tally.observe(e);
        }
        tally
    }

    #[test]
    fn counts_each_resource_once_by_its_latest_status_and_leaves_the_stack_out() {
        let mut tally = Tally::new(STACK);
        tally.expect(3);
        assert!(tally.observe(event(1, STACK, STACK_TYPE, "CREATE_IN_PROGRESS", None)));
        assert!(tally.observe(event(
            2,
            "Table",
            "AWS::DynamoDB::Table",
            "CREATE_IN_PROGRESS",
            None
        )));
        assert_eq!((tally.done(), tally.total()), (0, 3));
        assert!(tally.observe(event(
            3,
            "Table",
            "AWS::DynamoDB::Table",
            "CREATE_COMPLETE",
            None
        )));
        assert!(!tally.observe(event(
            3,
            "Table",
            "AWS::DynamoDB::Table",
            "CREATE_COMPLETE",
            None
        )));
        assert_eq!((tally.done(), tally.total()), (1, 3));
        tally.settle();
        assert_eq!((tally.done(), tally.total()), (1, 1));
        // Without an expected count, the total is the resources seen so far.
        let mut seen = Tally::new(STACK);
        seen.observe(event(1, "A", "AWS::SQS::Queue", "UPDATE_COMPLETE", None));
        seen.observe(event(2, "B", "AWS::SQS::Queue", "UPDATE_IN_PROGRESS", None));
        assert_eq!((seen.done(), seen.total()), (1, 2));
    }

    #[test]
    fn a_failure_names_the_first_failed_resource_its_reason_and_the_rollback() {
        let failure = failed_creation().failure("ROLLBACK_COMPLETE");
        let first = failure.first.as_ref().map(|e| e.logical_id.as_str());
        assert_eq!(first, Some("Planner"));
        assert_eq!(failure.also_failed, vec!["Bus".to_owned()]);
        let text = failure.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            vec![
                "first failed resource: Planner (AWS::Lambda::Function), CREATE_FAILED",
                "  reason: MemorySize 64 is not in [128, 10240]",
                "rollback: rolled back: the resources it created are deleted (ROLLBACK_COMPLETE)",
                "also failed after it: Bus",
            ]
        );
    }

    #[test]
    fn a_failed_rollback_says_resources_are_left() {
        let text = failed_creation().failure("ROLLBACK_FAILED").to_string();
        assert!(
            text.contains("rollback: the rollback failed: some resources are left"),
            "{text}"
        );
    }

    #[test]
    fn without_a_failed_resource_the_stacks_own_reason_is_given() {
        let mut tally = Tally::new(STACK);
        tally.observe(event(
            1,
            STACK,
            STACK_TYPE,
            "UPDATE_FAILED",
            Some("Template format error"),
        ));
        let failure = tally.failure("UPDATE_ROLLBACK_COMPLETE");
        let text = failure.to_string();
        assert!(
            text.starts_with(&format!("first failed resource: {STACK} ({STACK_TYPE})")),
            "{text}"
        );
        assert!(text.contains("reason: Template format error"), "{text}");
        assert!(text.contains("as the previous deploy left it"), "{text}");
        let silent = Tally::new(STACK).failure("ROLLBACK_COMPLETE").to_string();
        assert!(
            silent.starts_with("first failed resource: no stack event names one"),
            "{silent}"
        );
    }

    #[test]
    fn the_other_failures_are_listed_up_to_five() {
        let mut tally = Tally::new(STACK);
        for i in 0..8 {
            tally.observe(event(
                i,
                &format!("R{i}"),
                "AWS::SQS::Queue",
                "CREATE_FAILED",
                None,
            ));
        }
        let text = tally.failure("ROLLBACK_COMPLETE").to_string();
        assert!(
            text.contains("also failed after it: R1, R2, R3, R4, R5 and 2 more"),
            "{text}"
        );
        assert!(text.contains("reason: none given"), "{text}");
    }
}
