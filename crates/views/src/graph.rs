//! The graph's data: nodes, edges and groups, the walks that keep the part of it around an
//! event or a function, and the node listing the Mermaid and DOT texts share. [`crate::flow`]
//! computes it from a system.

use std::collections::BTreeSet;
use std::fmt::Write as _;

/// What a node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// A command callers send a producer.
    Command,
    /// A function invoked directly (a producer).
    Producer,
    /// A function subscribed by a rule.
    Function,
    /// A catalog event.
    Event,
    /// An EventBridge rule.
    Rule,
    /// A function's failure queue or its rule's delivery dead-letter queue.
    FailureQueue,
    /// A queue or other resource a function writes to (a queue it sends messages out on).
    Resource,
    /// Every event of the catalog (the source of a catch-all rule's edge).
    AllEvents,
    /// An HTTP route that triggers a function (`POST /tasks`).
    HttpRoute,
    /// A schedule that triggers a function (`rate(1 day)`).
    Schedule,
    /// An SQS queue a function polls (a queue trigger's source).
    SourceQueue,
    /// A buffered consumer's buffer queue: its rule delivers there, the function polls it.
    BufferQueue,
}

/// What an edge stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    /// A command to its producer.
    Sends,
    /// A function to an event it emits.
    Emits,
    /// An event to a rule that can match it (label: the content filter).
    Matches,
    /// A rule to a function (or other target) it invokes.
    Invokes,
    /// A function to its failure queue (handler failures after retries, poison events).
    Fails,
    /// A rule to its delivery dead-letter queue.
    Undeliverable,
    /// A function to a resource it writes (label: what it does).
    Writes,
    /// A route, schedule or queue to the function it starts (label: a queue's batching).
    Triggers,
    /// A queue to its failure queue, after the receives it allows (label: how many).
    Redrives,
}

/// A node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Unique id, safe in Mermaid and DOT (`fn_planner`, `ev_TaskCreated`).
    pub id: String,
    /// What it is.
    pub kind: NodeKind,
    /// What people read.
    pub label: String,
    /// The group (function) it is drawn in, if any.
    pub group: Option<String>,
}

/// An edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// Node id it starts at.
    pub from: String,
    /// Node id it ends at.
    pub to: String,
    /// What it is.
    pub kind: EdgeKind,
    /// Its label (a rule's content filter, ...).
    pub label: Option<String>,
}

/// A group of nodes: one function with its rule, queues and emitted events, or the events of a
/// source no function of the system has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Unique id (`g_planner`).
    pub id: String,
    /// Its title.
    pub label: String,
}

/// The flow graph.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Graph {
    /// Groups, in the order the choreography runs.
    pub groups: Vec<Group>,
    /// Nodes.
    pub nodes: Vec<Node>,
    /// Edges, grouped by the group of their start node, in group order.
    pub edges: Vec<Edge>,
}

impl Graph {
    /// The node with this id.
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// Whether there is an edge `from -> to`.
    pub fn has_edge(&self, from: &str, to: &str) -> bool {
        self.edges.iter().any(|e| e.from == from && e.to == to)
    }

    fn into(&self, id: &str, kind: EdgeKind) -> Vec<String> {
        self.edges
            .iter()
            .filter(|e| e.to == id && e.kind == kind)
            .map(|e| e.from.clone())
            .collect()
    }

    fn out_of(&self, id: &str, kinds: &[EdgeKind]) -> Vec<String> {
        self.edges
            .iter()
            .filter(|e| e.from == id && kinds.contains(&e.kind))
            .map(|e| e.to.clone())
            .collect()
    }

    /// Everything attached to a function: its commands, triggers (a queue with its failure
    /// queue), failure queue, resources.
    fn attachments(&self, function: &str, keep: &mut BTreeSet<String>) {
        keep.insert(function.to_owned());
        keep.extend(self.into(function, EdgeKind::Sends));
        for trigger in self.into(function, EdgeKind::Triggers) {
            keep.extend(self.out_of(&trigger, &[EdgeKind::Redrives]));
            keep.insert(trigger);
        }
        keep.extend(self.out_of(function, &[EdgeKind::Fails, EdgeKind::Writes]));
    }

    /// A rule, its dead-letter queue and its targets; returns what it reaches: its targets,
    /// and through a buffer queue the function polling it.
    fn rule_and_targets(&self, rule: &str, keep: &mut BTreeSet<String>) -> Vec<String> {
        keep.insert(rule.to_owned());
        keep.extend(self.out_of(rule, &[EdgeKind::Undeliverable]));
        let mut reached = Vec::new();
        for target in self.out_of(rule, &[EdgeKind::Invokes]) {
            keep.insert(target.clone());
            let polled_by = self.out_of(&target, &[EdgeKind::Triggers]);
            if polled_by.is_empty() {
                reached.push(target);
            } else {
                keep.extend(self.out_of(&target, &[EdgeKind::Redrives]));
                reached.extend(polled_by);
            }
        }
        keep.extend(reached.iter().cloned());
        reached
    }

    /// The rules that reach a function: directly, or through the queue it polls.
    fn rules_into(&self, function: &str) -> Vec<String> {
        let mut rules = self.into(function, EdgeKind::Invokes);
        for trigger in self.into(function, EdgeKind::Triggers) {
            rules.extend(self.into(&trigger, EdgeKind::Invokes));
        }
        rules
    }

    pub(crate) fn around_event(&self, event: &str) -> Graph {
        let mut keep = BTreeSet::from([event.to_owned()]);
        for emitter in self.into(event, EdgeKind::Emits) {
            self.attachments(&emitter, &mut keep);
        }
        for rule in self.out_of(event, &[EdgeKind::Matches]) {
            for target in self.rule_and_targets(&rule, &mut keep) {
                self.attachments(&target, &mut keep);
                keep.extend(self.out_of(&target, &[EdgeKind::Emits]));
            }
        }
        self.keep(&keep)
    }

    pub(crate) fn around_function(&self, function: &str) -> Graph {
        let mut keep = BTreeSet::new();
        self.attachments(function, &mut keep);
        for rule in self.rules_into(function) {
            self.rule_and_targets(&rule, &mut keep);
            for event in self.into(&rule, EdgeKind::Matches) {
                keep.insert(event.clone());
                keep.extend(self.into(&event, EdgeKind::Emits));
            }
        }
        for event in self.out_of(function, &[EdgeKind::Emits]) {
            keep.insert(event.clone());
            for rule in self.out_of(&event, &[EdgeKind::Matches]) {
                self.rule_and_targets(&rule, &mut keep);
            }
        }
        self.keep(&keep)
    }

    fn keep(&self, keep: &BTreeSet<String>) -> Graph {
        let nodes: Vec<Node> = self
            .nodes
            .iter()
            .filter(|n| keep.contains(&n.id))
            .cloned()
            .collect();
        let groups = self
            .groups
            .iter()
            .filter(|g| {
                nodes
                    .iter()
                    .any(|n| n.group.as_deref() == Some(g.id.as_str()))
            })
            .cloned()
            .collect();
        let edges = self
            .edges
            .iter()
            .filter(|e| keep.contains(&e.from) && keep.contains(&e.to))
            .cloned()
            .collect();
        Graph {
            groups,
            nodes,
            edges,
        }
    }

    /// Writes the nodes in text: the ungrouped ones one per line (`node`, indented by two),
    /// then each group that has members, opened by `open` and closed by `close`, with its
    /// members indented by four. The Mermaid and DOT texts share it.
    pub(crate) fn write_nodes(
        &self,
        out: &mut String,
        node: impl Fn(&Node) -> String,
        open: impl Fn(&Group) -> String,
        close: &str,
    ) {
        for n in self.nodes.iter().filter(|n| n.group.is_none()) {
            let _ = writeln!(out, "  {}", node(n));
        }
        for g in &self.groups {
            let mut members = self
                .nodes
                .iter()
                .filter(|n| n.group.as_deref() == Some(g.id.as_str()))
                .peekable();
            if members.peek().is_none() {
                continue;
            }
            let _ = writeln!(out, "  {}", open(g));
            for n in members {
                let _ = writeln!(out, "    {}", node(n));
            }
            let _ = writeln!(out, "  {close}");
        }
    }
}
