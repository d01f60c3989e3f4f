//! The flow graph as Graphviz DOT text (`dot -Tsvg` renders it; groups are clusters).

use std::fmt::Write as _;

use crate::graph::{EdgeKind, Graph, Node, NodeKind};

impl Graph {
    /// Graphviz DOT text (`dot -Tsvg` renders it; groups are clusters).
    pub fn to_dot(&self) -> String {
        let quote = |text: &str| format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""));
        let node = |n: &Node| {
            let (shape, fill) = match n.kind {
                NodeKind::Command => ("cds", "#fff3bf"),
                NodeKind::Producer | NodeKind::Function => ("box", "#d0ebff"),
                NodeKind::Event => ("box\", style=\"rounded,filled", "#d3f9d8"),
                NodeKind::Rule => ("hexagon", "#f3f0ff"),
                NodeKind::FailureQueue => ("cylinder", "#ffe3e3"),
                NodeKind::Resource => ("cylinder", "#fff9db"),
                NodeKind::AllEvents => ("circle", "#d3f9d8"),
                NodeKind::HttpRoute => ("parallelogram", "#ffd8a8"),
                NodeKind::Schedule => ("component", "#c5f6fa"),
                NodeKind::SourceQueue => ("cylinder", "#e7f5ff"),
                NodeKind::BufferQueue => ("cylinder", "#e6fcf5"),
            };
            let style = if n.kind == NodeKind::Event {
                String::new()
            } else {
                ", style=filled".to_owned()
            };
            format!(
                "{} [label={}, shape=\"{shape}\"{style}, fillcolor=\"{fill}\"];",
                n.id,
                quote(&n.label)
            )
        };
        let mut out = String::from(
            "digraph eventrail {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=11];\n  edge [fontname=\"Helvetica\", fontsize=9];\n",
        );
        self.write_nodes(
            &mut out,
            node,
            |g| {
                format!(
                    "subgraph cluster_{} {{\n    label={};\n    style=rounded;\n    color=\"#adb5bd\";",
                    g.id,
                    quote(&g.label)
                )
            },
            "}",
        );
        for e in &self.edges {
            let mut attrs = Vec::new();
            if let Some(label) = &e.label {
                attrs.push(format!("label={}", quote(label)));
            }
            if matches!(
                e.kind,
                EdgeKind::Fails | EdgeKind::Undeliverable | EdgeKind::Redrives
            ) {
                attrs.push("style=dashed".to_owned());
                attrs.push("color=\"#c92a2a\"".to_owned());
            }
            if e.kind == EdgeKind::Triggers {
                attrs.push("penwidth=2".to_owned());
            }
            let attrs = if attrs.is_empty() {
                String::new()
            } else {
                format!(" [{}]", attrs.join(", "))
            };
            let _ = writeln!(out, "  {} -> {}{attrs};", e.from, e.to);
        }
        out.push_str("}\n");
        out
    }
}
