//! SVG rendering of a flow graph with `layout-rs` (a pure-Rust layered graph layout and SVG
//! writer, crates.io `layout-rs`): no Graphviz needed. Groups are not drawn as boxes (the
//! library has no clusters); the node colours follow the Mermaid and DOT pictures. For a
//! Graphviz-quality picture, pipe `eventrail graph --format dot` into `dot -Tsvg`.
//!
//! Each node's box carries `class="node" data-node="<node id>"`; [`Graph::to_svg_linked`]
//! also makes nodes links (an SVG `<a href>` around the box and its label), for pages that
//! show the graph inline.

use std::collections::BTreeMap;

use layout::backends::svg::SVGWriter;
use layout::core::base::Orientation;
use layout::core::color::Color;
use layout::core::style::{LineStyleKind, StyleAttr};
use layout::std_shapes::shapes::{Arrow, Element, LineEndKind, ShapeKind};
use layout::topo::layout::VisualGraph;

use crate::graph::{EdgeKind, Graph, Node, NodeKind};

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

/// `text` safe inside a double-quoted XML attribute.
fn attribute(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The marker the writer puts on a node's box (its `<g>`), as `layout-rs` writes it.
fn node_marker(id: &str) -> String {
    format!("<g class=\"node\" data-node=\"{}\">", attribute(id))
}

/// `svg` with the box and label of each node in `links` wrapped in `<a href>`: a node's box
/// (`<g ...>...</g>`) is followed by its label (`<text>...</text>`), so the link runs from
/// the box's marker to the end of the next text. A node not found is left as it is.
fn add_links(svg: &str, links: &BTreeMap<String, String>) -> String {
    let mut spans: Vec<(usize, usize, &str)> = links
        .iter()
        .filter_map(|(id, href)| {
            let start = svg.find(&node_marker(id))?;
            let end = start + svg[start..].find("</text>")? + "</text>".len();
            Some((start, end, href.as_str()))
        })
        .collect();
    spans.sort_by_key(|span| span.0);
    let mut out = String::with_capacity(svg.len() + spans.len() * 64);
    let mut at = 0;
    for (start, end, href) in spans {
        if start < at {
            continue;
        }
        out.push_str(&svg[at..start]);
        out.push_str(&format!("<a href=\"{}\">", attribute(href)));
        out.push_str(&svg[start..end]);
        out.push_str("</a>");
        at = end;
    }
    out.push_str(&svg[at..]);
    out
}

impl Graph {
    /// The graph as an SVG document.
    pub fn to_svg(&self) -> Result<String, SvgError> {
        self.to_svg_linked(|_| None)
    }

    /// The graph as an SVG document whose nodes are links where `href` gives one (the box
    /// and its label inside `<a href="...">`; the href is escaped here).
    pub fn to_svg_linked(
        &self,
        href: impl Fn(&Node) -> Option<String>,
    ) -> Result<String, SvgError> {
        let links: BTreeMap<String, String> = self
            .nodes
            .iter()
            .filter_map(|n| Some((n.id.clone(), href(n)?)))
            .collect();
        self.render_svg().map(|svg| add_links(&svg, &links))
    }

    fn render_svg(&self) -> Result<String, SvgError> {
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
                let element = Element::create_with_properties(
                    shape,
                    look(fill, rounded),
                    Orientation::LeftToRight,
                    size,
                    format!("class=\"node\" data-node=\"{}\"", attribute(&n.id)),
                );
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Edge;

    fn node(id: &str, kind: NodeKind, label: &str) -> Node {
        Node {
            id: id.to_owned(),
            kind,
            label: label.to_owned(),
            group: None,
        }
    }

    fn graph() -> Graph {
        Graph {
            groups: Vec::new(),
            nodes: vec![
                node("fn_a", NodeKind::Function, "a & b"),
                node("ev_Thing", NodeKind::Event, "Thing"),
                node("fn_ab", NodeKind::Function, "ab"),
            ],
            edges: vec![
                Edge {
                    from: "fn_a".to_owned(),
                    to: "ev_Thing".to_owned(),
                    kind: EdgeKind::Emits,
                    label: None,
                },
                Edge {
                    from: "ev_Thing".to_owned(),
                    to: "fn_ab".to_owned(),
                    kind: EdgeKind::Matches,
                    label: None,
                },
            ],
        }
    }

    /// The text of the `<a>` element that holds `needle`, if it is inside one.
    fn link_around<'a>(svg: &'a str, needle: &str) -> Option<&'a str> {
        let at = svg.find(needle)?;
        let open = svg[..at].rfind("<a href=\"")?;
        let close = svg[..at].rfind("</a>");
        if close.is_some_and(|close| close > open) {
            return None;
        }
        let end = at + svg[at..].find("</a>")?;
        Some(&svg[open..end])
    }

    #[test]
    fn linked_nodes_wrap_their_box_and_label_in_an_escaped_href() {
        let svg = graph()
            .to_svg_linked(|n| match n.kind {
                NodeKind::Function => Some(format!("/functions/{}?x=1&y=\"2\"", n.label)),
                NodeKind::Event => Some(format!("/catalog/{}", n.label)),
                _ => None,
            })
            .expect("renders");
        let a = link_around(&svg, "data-node=\"fn_a\"").expect("fn_a is a link");
        assert!(
            a.starts_with("<a href=\"/functions/a &amp; b?x=1&amp;y=&quot;2&quot;\">"),
            "{a}"
        );
        assert!(a.contains("<rect"), "the box is inside the link: {a}");
        assert!(a.contains("a &amp; b</tspan>"), "the label too: {a}");
        let a = link_around(&svg, "data-node=\"ev_Thing\"").expect("the event is a link");
        assert!(a.starts_with("<a href=\"/catalog/Thing\">"), "{a}");
        let a = link_around(&svg, "data-node=\"fn_ab\"").expect("fn_ab is its own link");
        assert!(a.starts_with("<a href=\"/functions/ab?"), "{a}");
        assert_eq!(svg.matches("<a href=").count(), 3, "{svg}");
        assert_eq!(svg.matches("</a>").count(), 3, "{svg}");
    }

    #[test]
    fn without_links_the_svg_has_node_markers_and_no_anchor() {
        let svg = graph().to_svg().expect("renders");
        assert!(!svg.contains("<a "), "{svg}");
        for id in ["fn_a", "ev_Thing", "fn_ab"] {
            assert!(svg.contains(&node_marker(id)), "{id} marked: {svg}");
        }
        let linked = graph()
            .to_svg_linked(|n| (n.id == "ev_Thing").then(|| "/x".to_owned()))
            .expect("renders");
        assert_eq!(linked.matches("<a href=\"/x\">").count(), 1);
        assert!(link_around(&linked, "data-node=\"fn_a\"").is_none());
    }
}
