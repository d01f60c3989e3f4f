//! The flow graph as Mermaid `flowchart LR` text, which GitHub renders in a ```mermaid block.

use std::fmt::Write as _;

use crate::graph::{EdgeKind, Graph, Node, NodeKind};

impl Graph {
    /// Mermaid `flowchart LR` text (GitHub renders it in a ```mermaid block).
    pub fn to_mermaid(&self) -> String {
        let mut out = String::from("flowchart LR\n");
        let quote = |text: &str| text.replace('"', "#quot;");
        let shape = |n: &Node| {
            let label = quote(&n.label);
            match n.kind {
                NodeKind::Command => format!("{}>\"{label}\"]", n.id),
                NodeKind::Producer | NodeKind::Function => format!("{}[\"{label}\"]", n.id),
                NodeKind::Event => format!("{}([\"{label}\"])", n.id),
                NodeKind::Rule => format!("{}{{{{\"{label}\"}}}}", n.id),
                NodeKind::FailureQueue | NodeKind::Resource => format!("{}[(\"{label}\")]", n.id),
                NodeKind::AllEvents => format!("{}((\"{label}\"))", n.id),
                NodeKind::HttpRoute => format!("{}[/\"{label}\"/]", n.id),
                NodeKind::Schedule => format!("{}[[\"{label}\"]]", n.id),
                NodeKind::SourceQueue | NodeKind::BufferQueue => {
                    format!("{}[(\"{label}\")]", n.id)
                }
            }
        };
        self.write_nodes(
            &mut out,
            shape,
            |g| format!("subgraph {}[\"{}\"]", g.id, quote(&g.label)),
            "end",
        );
        for e in &self.edges {
            let arrow = match e.kind {
                EdgeKind::Fails | EdgeKind::Undeliverable | EdgeKind::Redrives => "-.->",
                EdgeKind::Triggers => "==>",
                _ => "-->",
            };
            match &e.label {
                Some(label) => {
                    let _ = writeln!(out, "  {} {arrow}|\"{}\"| {}", e.from, quote(label), e.to);
                }
                None => {
                    let _ = writeln!(out, "  {} {arrow} {}", e.from, e.to);
                }
            }
        }
        let classes = [
            ("command", NodeKind::Command, "fill:#fff3bf,stroke:#e67700"),
            (
                "producer",
                NodeKind::Producer,
                "fill:#d0ebff,stroke:#1864ab",
            ),
            (
                "function",
                NodeKind::Function,
                "fill:#d0ebff,stroke:#1864ab",
            ),
            ("event", NodeKind::Event, "fill:#d3f9d8,stroke:#2b8a3e"),
            ("rule", NodeKind::Rule, "fill:#f3f0ff,stroke:#5f3dc4"),
            (
                "failure",
                NodeKind::FailureQueue,
                "fill:#ffe3e3,stroke:#c92a2a",
            ),
            (
                "resource",
                NodeKind::Resource,
                "fill:#fff9db,stroke:#e67700",
            ),
            (
                "allEvents",
                NodeKind::AllEvents,
                "fill:#d3f9d8,stroke:#2b8a3e",
            ),
            ("http", NodeKind::HttpRoute, "fill:#ffd8a8,stroke:#d9480f"),
            (
                "schedule",
                NodeKind::Schedule,
                "fill:#c5f6fa,stroke:#0b7285",
            ),
            (
                "sourceQueue",
                NodeKind::SourceQueue,
                "fill:#e7f5ff,stroke:#1864ab",
            ),
            (
                "buffer",
                NodeKind::BufferQueue,
                "fill:#e6fcf5,stroke:#087f5b",
            ),
        ];
        for (class, kind, style) in classes {
            let members: Vec<&str> = self
                .nodes
                .iter()
                .filter(|n| n.kind == kind)
                .map(|n| n.id.as_str())
                .collect();
            if !members.is_empty() {
                let _ = writeln!(out, "  classDef {class} {style}");
                let _ = writeln!(out, "  class {} {class}", members.join(","));
            }
        }
        out
    }
}
