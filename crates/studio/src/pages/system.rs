//! `GET /system`: the application's flow graph (the SVG `eventrail graph --format svg` draws,
//! from `eventrail-views`) inline, each function a link to its page (`/functions/{name}`) and
//! each event to its catalog page (`/catalog/{detail-type}`); under it the same links as
//! lists. The other system pages link with [`function_href`] and [`event_href`].

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use eventrail_views::Graph;
use eventrail_views::flow::{Focus, Node, NodeKind, event_node, function_node};
use maud::{Markup, PreEscaped, html};

use crate::layout::{Nav, page};
use crate::state::AppState;

/// This module's routes, merged by the server.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/system", get(system))
}

/// `text` as one URL path segment (letters, digits and `-._~` as they are, the rest
/// percent-encoded).
pub(crate) fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The page of a function.
pub(crate) fn function_href(name: &str) -> String {
    format!("/functions/{}", segment(name))
}

/// The catalog page of an event.
pub(crate) fn event_href(detail_type: &str) -> String {
    format!("/catalog/{}", segment(detail_type))
}

/// Where a node of the graph links: a function to its page, an event to its catalog page.
fn node_href(state: &AppState, node: &Node) -> Option<String> {
    match node.kind {
        NodeKind::Function | NodeKind::Producer => state
            .system
            .app
            .functions
            .iter()
            .find(|f| function_node(&f.name) == node.id)
            .map(|f| function_href(&f.name)),
        NodeKind::Event => state
            .system
            .app
            .catalog
            .events
            .iter()
            .find(|e| event_node(&e.detail_type) == node.id)
            .map(|e| event_href(&e.detail_type)),
        _ => None,
    }
}

/// The graph as inline SVG (the XML declaration dropped), or why not.
fn graph_svg(state: &AppState) -> Result<String, String> {
    let graph = Graph::build(&state.system, &Focus::All).map_err(|e| e.to_string())?;
    let svg = graph
        .to_svg_linked(|node| node_href(state, node))
        .map_err(|e| e.to_string())?;
    Ok(match svg.find("<svg") {
        Some(start) => svg[start..].to_owned(),
        None => svg,
    })
}

async fn system(State(state): State<AppState>) -> Markup {
    let body = html! {
        section #system-graph .graph {
            @match graph_svg(&state) {
                Ok(svg) => (PreEscaped(svg)),
                Err(why) => p.error { "The graph cannot be drawn: " (why) },
            }
        }
        div.columns {
            section #system-functions {
                h2 { "Functions" }
                ul {
                    @for f in &state.system.app.functions {
                        li {
                            a.function href=(function_href(&f.name)) { (f.name) }
                            " — " (eventrail_views::catalog_docs::trigger_text(&state.system, f))
                        }
                    }
                }
            }
            section #system-events {
                h2 { "Events" }
                ul {
                    @for e in &state.system.app.catalog.events {
                        li {
                            a.event href=(event_href(&e.detail_type)) { (e.detail_type) }
                            " " span.src { (e.source) }
                        }
                    }
                }
            }
        }
    };
    page(&state, Nav::System, "System", body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::testing;

    #[test]
    fn segments_keep_names_and_encode_the_rest() {
        assert_eq!(segment("gift-wrap"), "gift-wrap");
        assert_eq!(segment("A b/c?"), "A%20b%2Fc%3F");
    }

    #[tokio::test]
    async fn the_graph_links_every_function_and_event() {
        let state = testing::state(crate::Writes::Allowed).await;
        let (status, body) = testing::get(&state, "/system").await;
        assert_eq!(status, 200, "{body}");
        let svg_start = body.find("<svg").expect("an inline SVG");
        assert!(!body.contains("<?xml"), "no XML declaration inside HTML");
        let svg = &body[svg_start..];
        for f in &state.system.app.functions {
            let href = format!("<a href=\"{}\">", function_href(&f.name));
            assert!(svg.contains(&href), "{} is a link in the graph", f.name);
        }
        for e in &state.system.app.catalog.events {
            // An event nothing emits nor consumes may be left out of the graph; every event
            // drawn is a link.
            let marker = format!("data-node=\"{}\"", event_node(&e.detail_type));
            if svg.contains(&marker) {
                let href = format!("<a href=\"{}\">", event_href(&e.detail_type));
                assert!(
                    svg.contains(&href),
                    "{} is a link in the graph",
                    e.detail_type
                );
            }
        }
        assert!(
            svg.contains("<a href=\"/catalog/"),
            "at least one event is drawn"
        );
    }
}
