//! The flow graph of a system (`eventrail graph`): commands, producers, events, rules,
//! functions, the events they emit, their failure queues and the resources they write to
//! (queues it sends to), computed from a [`System`] and rendered as Mermaid, Graphviz DOT or SVG.
//!
//! Readability at 7 functions and at 30: each function is a group holding its rule, its
//! failure queues and the events it emits (their source is the function), groups come in the
//! order the choreography runs, and a rule that matches every event of the catalog gets one
//! edge from an "every event" node instead of one per event.

use std::collections::BTreeSet;

use eventrail_contract::FunctionDeclaration;
use eventrail_contract::declaration::{EnvValue, logical_id};

use eventrail_model::triggers::batching_text;
use eventrail_model::{FlowRule, FunctionTrigger, System};

pub use crate::graph::{Edge, EdgeKind, Graph, Group, Node, NodeKind};

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

/// Node id of a queue (a failure, buffer or source queue) by its logical id.
pub fn queue_node(logical_id: &str) -> String {
    format!("q_{}", ident(logical_id))
}

/// Node id of an HTTP route (`POST /tasks` -> `http_POST__tasks`).
pub fn http_node(route: &str) -> String {
    format!("http_{}", ident(route))
}

/// Node id of a function's schedule.
pub fn schedule_node(function: &str) -> String {
    format!("sched_{}", ident(function))
}

/// A function's group title: its name and, unless a rule invokes it directly, what starts it.
fn group_label(name: &str, trigger: &FunctionTrigger) -> String {
    let how = match trigger {
        FunctionTrigger::Rule => return name.to_owned(),
        FunctionTrigger::Buffered(_) => "buffered",
        FunctionTrigger::Direct => "direct invoke",
        FunctionTrigger::Http(h) if h.direct_invoke => "HTTP and direct invoke",
        FunctionTrigger::Http(_) => "HTTP",
        FunctionTrigger::Schedule(_) => "scheduled",
        FunctionTrigger::Queue(_) => "queue",
    };
    format!("{name} ({how})")
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

    /// What starts a function (a rule for one the declarations do not have).
    fn trigger(&self, name: &str) -> FunctionTrigger {
        self.system.trigger(name).unwrap_or(FunctionTrigger::Rule)
    }

    /// The label of a queue's edge to the function polling it: its batching.
    fn feed_label(&self, function: &str) -> Option<String> {
        self.trigger(function)
            .queue()
            .map(|q| batching_text(&q.batching))
    }

    /// The node that starts a producer (its route, schedule or source queue) and its edge
    /// to the function; a queue's redrive to its failure queue, for a queue and a buffer.
    fn trigger_nodes(&mut self, name: &str, fn_id: &str, group: Option<String>) {
        let trigger = self.trigger(name);
        let source = match &trigger {
            FunctionTrigger::Http(h) => {
                let label = match h.auth_text().as_str() {
                    "none" => h.route.clone(),
                    auth => format!("{} ({auth})", h.route),
                };
                Some((http_node(&h.route), NodeKind::HttpRoute, label, None))
            }
            FunctionTrigger::Schedule(s) => Some((
                schedule_node(name),
                NodeKind::Schedule,
                s.expression.clone(),
                None,
            )),
            FunctionTrigger::Queue(q) => Some((
                queue_node(&q.queue),
                NodeKind::SourceQueue,
                self.resource_label(&q.queue),
                if q.own { group.clone() } else { None },
            )),
            _ => None,
        };
        if let Some((id, kind, label, node_group)) = source {
            self.node(id.clone(), kind, label, node_group);
            self.edge(
                id.clone(),
                fn_id.to_owned(),
                EdgeKind::Triggers,
                self.feed_label(name),
            );
            if kind == NodeKind::Schedule {
                self.schedule_dead_letter(name, id, group.clone());
            }
        }
        let Some(queue) = trigger.queue() else {
            return;
        };
        let queue_id = queue_node(&queue.queue);
        if !self.graph.nodes.iter().any(|n| n.id == queue_id) {
            return;
        }
        let failure = queue
            .failure_queue
            .clone()
            .filter(|q| self.system.template.queue(q).is_some());
        if let Some(failure) = failure {
            let q = queue_node(&failure);
            self.node(
                q.clone(),
                NodeKind::FailureQueue,
                "failure queue".to_owned(),
                group,
            );
            self.edge(
                queue_id,
                q,
                EdgeKind::Redrives,
                Some(format!("after {} receives", queue.max_receive_count)),
            );
        }
    }

    /// A schedule's dead-letter queue (the firings Scheduler could not deliver), as the
    /// template has it.
    fn schedule_dead_letter(&mut self, name: &str, schedule: String, group: Option<String>) {
        let system = self.system;
        let Some(f) = system.app.function(name) else {
            return;
        };
        let id = f.logical_id();
        let dead_letter = system
            .template
            .schedules()
            .iter()
            .find(|s| s.function == id)
            .and_then(|s| s.dead_letter.clone())
            .filter(|q| system.template.queue(q).is_some());
        if let Some(queue) = dead_letter {
            let q = queue_node(&queue);
            self.node(
                q.clone(),
                NodeKind::FailureQueue,
                "failure queue".to_owned(),
                group,
            );
            self.edge(
                schedule,
                q,
                EdgeKind::Undeliverable,
                Some("undeliverable".to_owned()),
            );
        }
    }

    fn build(mut self, collapse_catch_all: bool) -> Graph {
        let system = self.system;
        let order = choreography_order(system);
        for f in &order {
            let label = group_label(&f.name, &self.trigger(&f.name));
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
            self.trigger_nodes(&f.name, &fn_id, group.clone());
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
        match &rule.buffer {
            Some(buffer) => {
                let q = queue_node(buffer);
                self.node(
                    q.clone(),
                    NodeKind::BufferQueue,
                    format!("{buffer} (SQS buffer)"),
                    group.clone(),
                );
                self.edge(id.clone(), q.clone(), EdgeKind::Invokes, None);
                for function in &rule.functions {
                    let label = self.feed_label(function);
                    self.edge(
                        q.clone(),
                        function_node(function),
                        EdgeKind::Triggers,
                        label,
                    );
                }
            }
            None => {
                for function in &rule.functions {
                    self.edge(id.clone(), function_node(function), EdgeKind::Invokes, None);
                }
            }
        }
        for target in &rule.targets {
            let target_id = format!("res_{}", ident(target));
            let label = self.resource_label(target);
            self.node(target_id.clone(), NodeKind::Resource, label, None);
            self.edge(id.clone(), target_id, EdgeKind::Invokes, None);
        }
        if let Some(dlq) = &rule.dead_letter {
            let q = queue_node(dlq);
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
            .failure_queue(&f.name)
            .filter(|q| system.template.queue(q).is_some());
        if let Some(queue) = failure {
            let q = queue_node(&queue);
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
}
