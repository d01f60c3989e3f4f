//! Flows: the events of one correlation id, ordered by cause (causation id -> parent).

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::event::ObservedEvent;

/// The events of one flow (one correlation id), each once, in the order they were seen.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Flow {
    /// The flow's correlation id.
    pub correlation_id: String,
    events: Vec<ObservedEvent>,
    deliveries: HashMap<String, usize>,
}

/// One event in causal order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CausalStep<'a> {
    /// The event.
    pub event: &'a ObservedEvent,
    /// 0 for a root (no cause, or a cause that was not observed).
    pub depth: usize,
    /// The event that caused it, when observed.
    pub parent: Option<&'a ObservedEvent>,
    /// True when the event names a cause that is not in the flow.
    pub orphan: bool,
    /// True when no later sibling follows (for drawing trees).
    pub last_sibling: bool,
}

/// Something wrong with a flow's causal structure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowProblem {
    /// The event names a cause that was not observed.
    MissingCause {
        /// The event.
        event_id: String,
        /// Its detail-type.
        detail_type: String,
        /// The cause it names.
        causation_id: String,
    },
    /// The event reached the observer more than once (EventBridge delivers at least once).
    DeliveredTwice {
        /// The event.
        event_id: String,
        /// How many times.
        times: usize,
    },
    /// The event is its own ancestor.
    Cycle {
        /// An event on the cycle.
        event_id: String,
    },
}

impl std::fmt::Display for FlowProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MissingCause {
                event_id,
                detail_type,
                causation_id,
            } => write!(
                f,
                "{detail_type} {event_id} names cause {causation_id}, which was not observed"
            ),
            Self::DeliveredTwice { event_id, times } => {
                write!(f, "event {event_id} was delivered {times} times")
            }
            Self::Cycle { event_id } => write!(f, "event {event_id} is its own ancestor"),
        }
    }
}

impl Flow {
    /// An empty flow.
    pub fn new(correlation_id: impl Into<String>) -> Self {
        Self {
            correlation_id: correlation_id.into(),
            ..Self::default()
        }
    }

    /// Adds an event; returns false when an event with that id was already there (the
    /// delivery is counted, the event kept once).
    pub fn push(&mut self, event: ObservedEvent) -> bool {
        let count = self.deliveries.entry(event.id.clone()).or_insert(0);
        *count += 1;
        if *count > 1 {
            return false;
        }
        self.events.push(event);
        true
    }

    /// The events, each once, in the order seen.
    pub fn events(&self) -> &[ObservedEvent] {
        &self.events
    }

    /// Number of distinct events.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// True when no event was seen.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The event with `id`.
    pub fn get(&self, id: &str) -> Option<&ObservedEvent> {
        self.events.iter().find(|e| e.id == id)
    }

    /// The events of one detail-type, in the order seen.
    pub fn of_type(&self, detail_type: &str) -> Vec<&ObservedEvent> {
        self.events
            .iter()
            .filter(|e| e.detail_type == detail_type)
            .collect()
    }

    /// The event that caused `event`, when observed.
    pub fn parent_of(&self, event: &ObservedEvent) -> Option<&ObservedEvent> {
        event.causation_id.as_deref().and_then(|id| self.get(id))
    }

    /// The events caused by `id`, in the order seen.
    pub fn children_of(&self, id: &str) -> Vec<&ObservedEvent> {
        self.events
            .iter()
            .filter(|e| e.causation_id.as_deref() == Some(id))
            .collect()
    }

    /// A copy with only the events `keep` accepts.
    pub fn filtered(&self, keep: impl Fn(&ObservedEvent) -> bool) -> Self {
        let mut flow = Self::new(self.correlation_id.clone());
        for event in self.events.iter().filter(|e| keep(e)) {
            flow.push(event.clone());
        }
        flow
    }

    /// The events in causal order: depth-first from the roots, causes before effects,
    /// siblings by time and then by the order seen. Every event appears exactly once, even
    /// in a malformed flow (orphans become roots; events on a cycle are appended as roots).
    pub fn causal_order(&self) -> Vec<CausalStep<'_>> {
        let ids: HashSet<&str> = self.events.iter().map(|e| e.id.as_str()).collect();
        let mut children: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut roots = Vec::new();
        for (index, event) in self.events.iter().enumerate() {
            match event.causation_id.as_deref() {
                Some(cause) if ids.contains(cause) && cause != event.id => {
                    children.entry(cause).or_default().push(index);
                }
                _ => roots.push(index),
            }
        }
        let by_time = |list: &mut Vec<usize>| {
            list.sort_by(|&a, &b| {
                (self.events[a].time.as_str(), a).cmp(&(self.events[b].time.as_str(), b))
            });
        };
        by_time(&mut roots);
        for list in children.values_mut() {
            by_time(list);
        }

        let mut steps = Vec::with_capacity(self.events.len());
        let mut visited = vec![false; self.events.len()];
        // (index, depth, last sibling), depth-first with an explicit stack.
        let mut stack: Vec<(usize, usize, bool)> = Vec::new();
        let push_siblings = |stack: &mut Vec<(usize, usize, bool)>, list: &[usize], depth| {
            for (position, &index) in list.iter().enumerate().rev() {
                stack.push((index, depth, position + 1 == list.len()));
            }
        };
        push_siblings(&mut stack, &roots, 0);
        loop {
            while let Some((index, depth, last_sibling)) = stack.pop() {
                if visited[index] {
                    continue;
                }
                visited[index] = true;
                let event = &self.events[index];
                let parent = if depth == 0 {
                    None
                } else {
                    self.parent_of(event)
                };
                steps.push(CausalStep {
                    event,
                    depth,
                    parent,
                    orphan: depth == 0 && event.causation_id.is_some(),
                    last_sibling,
                });
                if let Some(list) = children.get(event.id.as_str()) {
                    push_siblings(&mut stack, list, depth + 1);
                }
            }
            // Events never reached from a root sit on a cause cycle: show them as roots.
            match visited.iter().position(|v| !v) {
                Some(index) => stack.push((index, 0, true)),
                None => break,
            }
        }
        steps
    }

    /// The causal structure as (cause's detail-type, detail-type) pairs, sorted; the cause
    /// is `None` for a root. Two flows with the same chain of events have equal edges.
    pub fn edges(&self) -> Vec<(Option<String>, String)> {
        let mut edges: Vec<_> = self
            .events
            .iter()
            .map(|event| {
                (
                    self.parent_of(event).map(|p| p.detail_type.clone()),
                    event.detail_type.clone(),
                )
            })
            .collect();
        edges.sort();
        edges
    }

    /// What is wrong with the flow's structure; empty for a well-formed flow.
    pub fn problems(&self) -> Vec<FlowProblem> {
        let mut problems = Vec::new();
        for event in &self.events {
            if let Some(cause) = &event.causation_id
                && self.get(cause).is_none()
            {
                problems.push(FlowProblem::MissingCause {
                    event_id: event.id.clone(),
                    detail_type: event.detail_type.clone(),
                    causation_id: cause.clone(),
                });
            }
            if let Some(&times) = self.deliveries.get(&event.id)
                && times > 1
            {
                problems.push(FlowProblem::DeliveredTwice {
                    event_id: event.id.clone(),
                    times,
                });
            }
            if self.on_cycle(event) {
                problems.push(FlowProblem::Cycle {
                    event_id: event.id.clone(),
                });
            }
        }
        problems
    }

    fn on_cycle(&self, event: &ObservedEvent) -> bool {
        let mut seen = HashSet::new();
        let mut current = event;
        while let Some(parent) = self.parent_of(current) {
            if parent.id == event.id || !seen.insert(parent.id.as_str()) {
                return parent.id == event.id;
            }
            current = parent;
        }
        false
    }
}

/// Groups events by correlation id. Events without eventrail metadata are left out.
pub fn group_by_correlation<'a>(
    events: impl IntoIterator<Item = &'a ObservedEvent>,
) -> BTreeMap<String, Flow> {
    let mut flows: BTreeMap<String, Flow> = BTreeMap::new();
    for event in events {
        if let Some(correlation) = &event.correlation_id {
            flows
                .entry(correlation.clone())
                .or_insert_with(|| Flow::new(correlation.clone()))
                .push(event.clone());
        }
    }
    flows
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(id: &str, detail_type: &str, cause: Option<&str>, time: &str) -> ObservedEvent {
        ObservedEvent::from_value(json!({
            "id": id, "source": "eventrail.test", "detail-type": detail_type, "time": time,
            "detail": {"metadata": {"correlation_id": "c-1", "causation_id": cause,
                                    "idempotency_key": format!("k-{id}")}, "data": {}}
        }))
        .unwrap()
    }

    fn order(flow: &Flow) -> Vec<(usize, &str)> {
        flow.causal_order()
            .iter()
            .map(|s| (s.depth, s.event.detail_type.as_str()))
            .collect()
    }

    #[test]
    fn causes_come_before_effects_whatever_the_arrival_order() {
        let mut flow = Flow::new("c-1");
        // Arrival order scrambled, as a tap may deliver it.
        flow.push(event("e4", "TaskDone", Some("e3"), "t3"));
        flow.push(event("e2", "TaskAssigned", Some("e1"), "t1"));
        flow.push(event("e5", "TaskFlagged", Some("e1"), "t1"));
        flow.push(event("e1", "TaskCreated", None, "t0"));
        flow.push(event("e3", "TaskStarted", Some("e2"), "t2"));
        assert_eq!(
            order(&flow),
            [
                (0, "TaskCreated"),
                (1, "TaskAssigned"),
                (2, "TaskStarted"),
                (3, "TaskDone"),
                (1, "TaskFlagged"),
            ]
        );
        let steps = flow.causal_order();
        assert_eq!(steps[1].parent.map(|p| p.id.as_str()), Some("e1"));
        assert!(!steps[1].last_sibling, "TaskAssigned has a later sibling");
        assert!(steps[4].last_sibling);
        assert!(flow.problems().is_empty());
        assert_eq!(
            flow.edges(),
            [
                (None, "TaskCreated".to_owned()),
                (Some("TaskAssigned".into()), "TaskStarted".into()),
                (Some("TaskCreated".into()), "TaskAssigned".into()),
                (Some("TaskCreated".into()), "TaskFlagged".into()),
                (Some("TaskStarted".into()), "TaskDone".into()),
            ]
        );
    }

    #[test]
    fn siblings_are_ordered_by_time_then_arrival() {
        let mut flow = Flow::new("c-1");
        flow.push(event("e1", "TaskCreated", None, "t0"));
        flow.push(event("b", "Second", Some("e1"), "t5"));
        flow.push(event("a", "First", Some("e1"), "t4"));
        flow.push(event("c", "Third", Some("e1"), "t5"));
        assert_eq!(
            order(&flow),
            [
                (0, "TaskCreated"),
                (1, "First"),
                (1, "Second"),
                (1, "Third")
            ]
        );
    }

    #[test]
    fn duplicates_are_kept_once_and_reported() {
        let mut flow = Flow::new("c-1");
        assert!(flow.push(event("e1", "TaskCreated", None, "t0")));
        assert!(!flow.push(event("e1", "TaskCreated", None, "t0")));
        assert_eq!(flow.len(), 1);
        assert_eq!(
            flow.problems(),
            [FlowProblem::DeliveredTwice {
                event_id: "e1".into(),
                times: 2
            }]
        );
    }

    #[test]
    fn orphans_and_cycles_are_reported_and_still_listed() {
        let mut flow = Flow::new("c-1");
        flow.push(event("e2", "TaskAssigned", Some("gone"), "t1"));
        flow.push(event("x", "A", Some("y"), "t1"));
        flow.push(event("y", "B", Some("x"), "t1"));
        let steps = flow.causal_order();
        assert_eq!(steps.len(), 3, "every event listed once");
        assert!(steps[0].orphan);
        let problems = flow.problems();
        assert!(problems.contains(&FlowProblem::MissingCause {
            event_id: "e2".into(),
            detail_type: "TaskAssigned".into(),
            causation_id: "gone".into()
        }));
        assert!(problems.contains(&FlowProblem::Cycle {
            event_id: "x".into()
        }));
        assert!(problems[0].to_string().contains("was not observed"));
    }

    #[test]
    fn groups_by_correlation_and_skips_foreign_events() {
        let mut other = event("o1", "TaskCreated", None, "t0");
        other.correlation_id = Some("c-2".into());
        let mut foreign = event("f", "Ping", None, "t0");
        foreign.correlation_id = None;
        let events = [event("e1", "TaskCreated", None, "t0"), other, foreign];
        let flows = group_by_correlation(&events);
        assert_eq!(flows.keys().collect::<Vec<_>>(), ["c-1", "c-2"]);
        assert_eq!(flows["c-1"].len(), 1);
        let filtered = flows["c-1"].filtered(|e| e.detail_type != "TaskCreated");
        assert!(filtered.is_empty());
    }
}
