//! SVG rendering of a flow graph with `layout-rs` (a pure-Rust layered graph layout and SVG
//! writer, crates.io `layout-rs`): no Graphviz needed. Groups are not drawn as boxes (the
//! library has no clusters); the node colours follow the Mermaid and DOT pictures. For a
//! Graphviz-quality picture, pipe `eventrail graph --format dot` into `dot -Tsvg`.

use std::collections::BTreeMap;

use layout::backends::svg::SVGWriter;
use layout::core::base::Orientation;
use layout::core::color::Color;
use layout::core::style::{LineStyleKind, StyleAttr};
use layout::std_shapes::shapes::{Arrow, Element, LineEndKind, ShapeKind};
use layout::topo::layout::VisualGraph;

use crate::graph::{EdgeKind, Graph, NodeKind};

/// The layout library failed on this graph.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the SVG layout failed ({0}); render the DOT output with Graphviz instead: \
     `eventrail graph --format dot | dot -Tsvg > flow.svg`"
)]
pub struct SvgError(pub String);

fn look(fill: &str, rounded: usize) -> StyleAttr {
    StyleAttr::new(
        Color::fast("#495057"),
        1,
        Some(Color::fast(fill)),
        rounded,
        13,
    )
}

impl Graph {
    /// The graph as an SVG document.
    pub fn to_svg(&self) -> Result<String, SvgError> {
        if self.nodes.is_empty() {
            return Err(SvgError("the graph is empty".to_owned()));
        }
        let graph = self.clone();
        let rendered = std::panic::catch_unwind(move || {
            let mut vg = VisualGraph::new(Orientation::LeftToRight);
            let mut handles = BTreeMap::new();
            for n in &graph.nodes {
                let (fill, rounded) = match n.kind {
                    NodeKind::Command => ("#fff3bf", 0),
                    NodeKind::Producer | NodeKind::Function => ("#d0ebff", 0),
                    NodeKind::Event | NodeKind::AllEvents => ("#d3f9d8", 14),
                    NodeKind::Rule => ("#f3f0ff", 6),
                    NodeKind::FailureQueue => ("#ffe3e3", 10),
                    NodeKind::Resource => ("#fff9db", 10),
                    NodeKind::HttpRoute => ("#ffd8a8", 0),
                    NodeKind::Schedule => ("#c5f6fa", 6),
                    NodeKind::SourceQueue => ("#e7f5ff", 10),
                    NodeKind::BufferQueue => ("#e6fcf5", 10),
                };
                let label = match n.kind {
                    NodeKind::FailureQueue => {
                        let owner = n.group.as_deref().unwrap_or("").trim_start_matches("g_");
                        format!("{owner}: {}", n.label)
                    }
                    _ => n.label.clone(),
                };
                let shape = ShapeKind::new_box(&label);
                let size = layout::std_shapes::render::get_shape_size(
                    Orientation::LeftToRight,
                    &shape,
                    13,
                    false,
                );
                let element =
                    Element::create(shape, look(fill, rounded), Orientation::LeftToRight, size);
                handles.insert(n.id.clone(), vg.add_node(element));
            }
            for e in &graph.edges {
                let (Some(from), Some(to)) = (handles.get(&e.from), handles.get(&e.to)) else {
                    continue;
                };
                let dashed = matches!(
                    e.kind,
                    EdgeKind::Fails | EdgeKind::Undeliverable | EdgeKind::Redrives
                );
                let arrow = Arrow::new(
                    LineEndKind::None,
                    LineEndKind::Arrow,
                    if dashed {
                        LineStyleKind::Dashed
                    } else {
                        LineStyleKind::Normal
                    },
                    e.label.as_deref().unwrap_or(""),
                    &StyleAttr::new(
                        Color::fast(if dashed { "#c92a2a" } else { "#495057" }),
                        1,
                        None,
                        0,
                        11,
                    ),
                    &None,
                    &None,
                );
                vg.add_edge(arrow, *from, *to);
            }
            let mut svg = SVGWriter::new();
            vg.do_it(false, false, false, &mut svg);
            svg.finalize()
        });
        rendered.map_err(|panic| {
            let reason = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "the layout library panicked".to_owned());
            SvgError(reason)
        })
    }
}
