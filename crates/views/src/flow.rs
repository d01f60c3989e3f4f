//! The flow graph of a system (`eventrail graph`): commands, producers, events, rules,
//! functions, the events they emit, their failure queues and the resources they write to
//! (queues it sends to), computed from a [`System`] and rendered as Mermaid, Graphviz DOT or SVG.
//!
//! Readability at 7 functions and at 30: each function is a group holding its rule, its
//! failure queues and the events it emits (their source is the function), groups come in the
//! order the choreography runs, and a rule that matches every event of the catalog gets one
//! edge from an "every event" node instead of one per event.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use eventrail_contract::FunctionDeclaration;
use eventrail_contract::declaration::{EnvValue, logical_id};

use eventrail_model::{FlowRule, System};

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

/// Which part of the graph to show.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Focus {
    /// The whole system.
    #[default]
    All,
    /// One event: who emits it, which rules match it, which functions they invoke and what
    /// those emit.
    Event(String),
    /// One function: what reaches it and from whom, what it emits and who receives that.
    Function(String),
}

/// A focus on something the system does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} `{name}` is not in the system; known: {known}")]
pub struct FocusError {
    /// "event" or "function".
    pub what: &'static str,
    /// What was asked for.
    pub name: String,
    /// What there is.
    pub known: String,
}

fn ident(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Node id of a function.
pub fn function_node(name: &str) -> String {
    format!("fn_{}", ident(name))
}

/// Node id of an event.
pub fn event_node(detail_type: &str) -> String {
    format!("ev_{}", ident(detail_type))
}

/// Node id of a rule.
pub fn rule_node(rule: &FlowRule) -> String {
    format!("rule_{}", ident(&rule.id))
}

fn group_id(function: &str) -> String {
    format!("g_{}", ident(function))
}

/// Functions in the order the choreography runs: from each producer, depth first along the
/// events a function emits and the rules they match (rules without a content filter first,
/// so the main path reads before the side branches); functions nothing reaches come next, by
/// name; catch-all consumers (every event) last.
fn choreography_order(system: &System) -> Vec<&FunctionDeclaration> {
    fn visit<'a>(
        system: &'a System,
        f: &'a FunctionDeclaration,
        seen: &mut BTreeSet<&'a str>,
        order: &mut Vec<&'a FunctionDeclaration>,
    ) {
        if f.declaration.consumes_everything() || !seen.insert(f.name.as_str()) {
            return;
        }
        order.push(f);
        for event in &f.declaration.emits {
            let mut rules = system.rules_for(event);
            rules.sort_by_key(|r| r.filter().is_some());
            for rule in rules {
                for name in &rule.functions {
                    if let Some(next) = system.app.function(name) {
                        visit(system, next, seen, order);
                    }
                }
            }
        }
    }
    let functions = &system.app.functions;
    let mut order = Vec::new();
    let mut seen = BTreeSet::new();
    for f in functions.iter().filter(|f| !f.declaration.is_consumer()) {
        visit(system, f, &mut seen, &mut order);
    }
    for f in functions {
        visit(system, f, &mut seen, &mut order);
    }
    order.extend(
        functions
            .iter()
            .filter(|f| f.declaration.consumes_everything()),
    );
    order
}

/// The summary of a rule's envelope tests (for a catch-all rule's edge): `source starts with app.`.
fn envelope_summary(rule: &FlowRule) -> Option<String> {
    let alternatives = rule.compiled.alternatives();
    let first = alternatives.first()?;
    let parts: Vec<String> = first
        .fields
        .iter()
        .filter(|f| !f.path.starts_with("detail."))
        .map(|f| f.to_string())
        .collect();
    (!parts.is_empty()).then(|| parts.join(" and "))
}

struct Builder<'a> {
    system: &'a System,
    graph: Graph,
}

impl Builder<'_> {
    fn node(&mut self, id: String, kind: NodeKind, label: String, group: Option<String>) {
        if !self.graph.nodes.iter().any(|n| n.id == id) {
            self.graph.nodes.push(Node {
                id,
                kind,
                label,
                group,
            });
        }
    }

    fn edge(&mut self, from: String, to: String, kind: EdgeKind, label: Option<String>) {
        let edge = Edge {
            from,
            to,
            kind,
            label,
        };
        if !self.graph.edges.contains(&edge) {
            self.graph.edges.push(edge);
        }
    }

    fn group(&mut self, id: String, label: String) {
        if !self.graph.groups.iter().any(|g| g.id == id) {
            self.graph.groups.push(Group { id, label });
        }
    }

    /// The group an event is drawn in: its source's function, else a group of the source.
    fn event_group(&mut self, source: &str) -> String {
        let prefix = &self.system.app.project.settings.source_prefix;
        let owner = source
            .strip_prefix(prefix.as_str())
            .and_then(|name| self.system.app.function(name));
        match owner {
            Some(f) => group_id(&f.name),
            None => {
                let id = format!("g_src_{}", ident(source));
                self.group(id.clone(), source.to_owned());
                id
            }
        }
    }

    fn resource_label(&self, id: &str) -> String {
        match self.system.template.queue(id) {
            Some(q) if q.fifo => format!("{id} (SQS FIFO)"),
            Some(_) => format!("{id} (SQS)"),
            None => match self.system.template.resource_type(id) {
                Some(t) => format!("{id} ({})", t.trim_start_matches("AWS::")),
                None => id.to_owned(),
            },
        }
    }

    fn build(mut self, collapse_catch_all: bool) -> Graph {
        let system = self.system;
        let order = choreography_order(system);
        for f in &order {
            let direct = !f.declaration.is_consumer();
            let label = if direct {
                format!("{} (direct invoke)", f.name)
            } else {
                f.name.clone()
            };
            self.group(group_id(&f.name), label);
        }
        let catalog_size = system.app.catalog.events.len();
        for f in &order {
            let d = &f.declaration;
            let group = Some(group_id(&f.name));
            let fn_id = function_node(&f.name);
            let kind = if d.is_consumer() {
                NodeKind::Function
            } else {
                NodeKind::Producer
            };
            for command in &d.commands {
                let id = format!("cmd_{}", ident(command));
                self.node(id.clone(), NodeKind::Command, command.clone(), None);
                self.edge(id, fn_id.clone(), EdgeKind::Sends, None);
            }
            for rule in system
                .rules
                .iter()
                .filter(|r| r.functions.len() == 1 && r.functions[0] == f.name)
            {
                self.rule(rule, group.clone(), collapse_catch_all, catalog_size);
            }
            self.node(fn_id.clone(), kind, f.name.clone(), group.clone());
            for event in &d.emits {
                let Some(catalog_event) = system.event(event) else {
                    continue;
                };
                let event_group = self.event_group(&catalog_event.source);
                self.node(
                    event_node(event),
                    NodeKind::Event,
                    event.clone(),
                    Some(event_group),
                );
                self.edge(fn_id.clone(), event_node(event), EdgeKind::Emits, None);
            }
            self.resources(f, &fn_id, group.clone());
        }
        // Rules of several functions (or none): outside the groups.
        for rule in system.rules.iter().filter(|r| r.functions.len() != 1) {
            self.rule(rule, None, collapse_catch_all, catalog_size);
        }
        // Catalog events nobody emits, so the picture shows them too.
        for event in &system.app.catalog.events {
            if !self
                .graph
                .nodes
                .iter()
                .any(|n| n.id == event_node(&event.detail_type))
            {
                let group = self.event_group(&event.source);
                self.node(
                    event_node(&event.detail_type),
                    NodeKind::Event,
                    event.detail_type.clone(),
                    Some(group),
                );
            }
        }
        self.order_edges();
        self.graph
    }

    fn rule(&mut self, rule: &FlowRule, group: Option<String>, collapse: bool, catalog: usize) {
        let system = self.system;
        let id = rule_node(rule);
        self.node(
            id.clone(),
            NodeKind::Rule,
            format!("rule {}", rule.name),
            group.clone(),
        );
        let events = system.events_of(rule);
        let filter = rule.filter_summary();
        if collapse && catalog > 1 && events.len() == catalog {
            self.node(
                "all_events".to_owned(),
                NodeKind::AllEvents,
                "every event".to_owned(),
                None,
            );
            let label = match (&filter, envelope_summary(rule)) {
                (Some(f), Some(e)) => Some(format!("{e} and {f}")),
                (Some(f), None) => Some(f.clone()),
                (None, e) => e,
            };
            self.edge(
                "all_events".to_owned(),
                id.clone(),
                EdgeKind::Matches,
                label,
            );
        } else {
            for event in events {
                let event_group = self.event_group(&event.source);
                self.node(
                    event_node(&event.detail_type),
                    NodeKind::Event,
                    event.detail_type.clone(),
                    Some(event_group),
                );
                self.edge(
                    event_node(&event.detail_type),
                    id.clone(),
                    EdgeKind::Matches,
                    filter.clone(),
                );
            }
        }
        for function in &rule.functions {
            self.edge(id.clone(), function_node(function), EdgeKind::Invokes, None);
        }
        for target in &rule.targets {
            let target_id = format!("res_{}", ident(target));
            let label = self.resource_label(target);
            self.node(target_id.clone(), NodeKind::Resource, label, None);
            self.edge(id.clone(), target_id, EdgeKind::Invokes, None);
        }
        if let Some(dlq) = &rule.dead_letter {
            let q = format!("q_{}", ident(dlq));
            self.node(
                q.clone(),
                NodeKind::FailureQueue,
                "delivery DLQ".to_owned(),
                group,
            );
            self.edge(
                id,
                q,
                EdgeKind::Undeliverable,
                Some("undeliverable".to_owned()),
            );
        }
    }

    /// The function's failure queue, its own queues, and the template resources its
    /// environment and permissions name.
    fn resources(&mut self, f: &FunctionDeclaration, fn_id: &str, group: Option<String>) {
        let system = self.system;
        let d = &f.declaration;
        let id = f.logical_id();
        let failure = system
            .template
            .function(&id)
            .and_then(|t| t.event_invoke_config.as_ref())
            .and_then(|c| c.on_failure.as_ref())
            .and_then(|o| o.resource.clone());
        if let Some(queue) = failure {
            let q = format!("q_{}", ident(&queue));
            self.node(
                q.clone(),
                NodeKind::FailureQueue,
                "failure queue".to_owned(),
                group.clone(),
            );
            self.edge(
                fn_id.to_owned(),
                q,
                EdgeKind::Fails,
                Some("fails".to_owned()),
            );
        }
        for (name, queue) in &d.queues {
            let q_id = format!("{id}{}Queue", logical_id(name));
            let q = format!("q_{}", ident(&q_id));
            let label = if queue.fifo {
                format!("{name} (SQS FIFO)")
            } else {
                format!("{name} (SQS)")
            };
            self.node(q.clone(), NodeKind::Resource, label, group.clone());
            self.edge(
                fn_id.to_owned(),
                q,
                EdgeKind::Writes,
                Some("writes".to_owned()),
            );
        }
        let mut used: Vec<(String, String)> = Vec::new();
        for p in &d.permissions {
            for r in &p.resources {
                let verb = if p
                    .actions
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case("sqs:SendMessage"))
                {
                    "writes".to_owned()
                } else {
                    p.actions.join(", ")
                };
                used.push((r.clone(), verb));
            }
        }
        for value in d.environment.values() {
            let referenced = match value {
                EnvValue::Ref { reference } => Some(reference.clone()),
                EnvValue::GetAtt { get_att } => get_att.split('.').next().map(str::to_owned),
                EnvValue::Literal(_) => None,
            };
            if let Some(r) = referenced
                && !used.iter().any(|(u, _)| *u == r)
            {
                used.push((r, "uses".to_owned()));
            }
        }
        for (resource, verb) in used {
            let node = format!("res_{}", ident(&resource));
            let label = self.resource_label(&resource);
            self.node(node.clone(), NodeKind::Resource, label, None);
            self.edge(fn_id.to_owned(), node, EdgeKind::Writes, Some(verb));
        }
    }

    /// Edges in group order (by the group of their start node), so text reads in the
    /// choreography's order.
    fn order_edges(&mut self) {
        let group_of = |id: &str| -> usize {
            let group = self
                .graph
                .nodes
                .iter()
                .find(|n| n.id == id)
                .and_then(|n| n.group.clone());
            match group {
                Some(g) => self
                    .graph
                    .groups
                    .iter()
                    .position(|x| x.id == g)
                    .unwrap_or(usize::MAX),
                None => usize::MAX,
            }
        };
        let mut keyed: Vec<(usize, usize, Edge)> = self
            .graph
            .edges
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let g = group_of(&e.from);
                // Edges into a rule read best with the rule's group.
                let g = if e.kind == EdgeKind::Matches {
                    group_of(&e.to).min(g)
                } else {
                    g
                };
                (g, i, e.clone())
            })
            .collect();
        keyed.sort_by_key(|(g, i, _)| (*g, *i));
        self.graph.edges = keyed.into_iter().map(|(_, _, e)| e).collect();
    }
}

impl Graph {
    /// The graph of a system, focused as asked.
    pub fn build(system: &System, focus: &Focus) -> Result<Self, FocusError> {
        let collapse = *focus == Focus::All;
        let full = Builder {
            system,
            graph: Graph::default(),
        }
        .build(collapse);
        match focus {
            Focus::All => Ok(full),
            Focus::Event(event) => {
                if system.event(event).is_none() {
                    return Err(FocusError {
                        what: "event",
                        name: event.clone(),
                        known: system.app.catalog.known(),
                    });
                }
                Ok(full.around_event(&event_node(event)))
            }
            Focus::Function(name) => {
                if system.app.function(name).is_none() {
                    let known: Vec<&str> = system
                        .app
                        .functions
                        .iter()
                        .map(|f| f.name.as_str())
                        .collect();
                    return Err(FocusError {
                        what: "function",
                        name: name.clone(),
                        known: known.join(", "),
                    });
                }
                Ok(full.around_function(&function_node(name)))
            }
        }
    }

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

    /// Everything attached to a function: its commands, failure queue, resources.
    fn attachments(&self, function: &str, keep: &mut BTreeSet<String>) {
        keep.insert(function.to_owned());
        keep.extend(self.into(function, EdgeKind::Sends));
        keep.extend(self.out_of(function, &[EdgeKind::Fails, EdgeKind::Writes]));
    }

    fn rule_and_targets(&self, rule: &str, keep: &mut BTreeSet<String>) -> Vec<String> {
        keep.insert(rule.to_owned());
        keep.extend(self.out_of(rule, &[EdgeKind::Undeliverable]));
        let targets = self.out_of(rule, &[EdgeKind::Invokes]);
        keep.extend(targets.iter().cloned());
        targets
    }

    fn around_event(&self, event: &str) -> Graph {
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

    fn around_function(&self, function: &str) -> Graph {
        let mut keep = BTreeSet::new();
        self.attachments(function, &mut keep);
        for rule in self.into(function, EdgeKind::Invokes) {
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
