//! `GET /flows/{correlation}`: one flow's causal tree with each event's time and how long
//! after the flow's first event the tap received it.

use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use eventrail_observe::trace::{self, trace_stack};
use maud::html;

use crate::layout::{Nav, page};
use crate::pages::event::not_kept;
use crate::pages::flows::messages_list;
use crate::rows;
use crate::state::AppState;

/// How far back the waterfall looks in the functions' logs.
const TRACE_SINCE: Duration = Duration::from_secs(6 * 3600);

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/flows/{correlation}", get(flow))
        .route("/flows/{correlation}/waterfall", get(waterfall))
}

/// `GET /flows/{correlation}/waterfall`: the flow's spans from the functions' logs, as
/// `eventrail trace <correlation>` prints them (hops, timings, gaps, where it stopped).
async fn waterfall(State(state): State<AppState>, Path(correlation): Path<String>) -> Response {
    let traced = trace_stack(&state.stack, &correlation, TRACE_SINCE).await;
    let body = html! {
        p { a href={ "/flows/" (correlation) } { "← the flow as the tap saw it" } }
        @match &traced {
            Ok(traced) => pre.explanation #waterfall { (trace::waterfall::render(&traced.report)) },
            Err(error) => p.error { "no waterfall: " (error) },
        }
    };
    page(
        &state,
        Nav::Flows,
        &format!("Waterfall of {correlation}"),
        body,
    )
    .into_response()
}

async fn flow(State(state): State<AppState>, Path(correlation): Path<String>) -> Response {
    let events = state.store.flow(&correlation);
    let Some(first) = events.iter().map(|e| e.received_ms).min() else {
        return not_kept(&state, &format!("flow {correlation}"));
    };
    let last = events.iter().map(|e| e.received_ms).max().unwrap_or(first);
    let span = (last - first).max(1);
    let tree = rows::tree(&events);
    let body = html! {
        p.summary {
            (events.len()) " events, received over " (format_ms(last - first)) "."
            @if let Some(key) = events.iter().find_map(|e| e.business_key.as_deref()) {
                " Business key " span.key { (key) } "."
            }
        }
        div #flows data-live="off" {
            section.flow data-correlation=(correlation) {
                ol.events {
                    @for (event, depth) in &tree {
                        (rows::row(&state, event, *depth))
                    }
                }
                (messages_list(&state, &correlation))
            }
        }
        p { a #waterfall-link href={ "/flows/" (correlation) "/waterfall" } {
            "Waterfall from the functions' logs (spans, timings, where it stopped)"
        } }
        h2 { "Timeline (when the tap received each event)" }
        table.waterfall {
            tr { th { "event" } th { "received after the first" } th {} }
            @for (event, depth) in &tree {
                @let offset = event.received_ms - first;
                tr {
                    td style={ "padding-left:" (depth * 16) "px" } {
                        a href={ "/events/" (event.id) } { (event.detail_type) }
                    }
                    td { "+" (format_ms(offset)) }
                    td { span.bar style={ "margin-left:" (offset * 300 / span) "px; width: 4px" } {} }
                }
            }
        }
    };
    page(&state, Nav::Flows, &format!("Flow {correlation}"), body).into_response()
}

/// `850 ms`, `2.4 s`.
fn format_ms(ms: u64) -> String {
    if ms < 1_000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1_000.0)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::Personal;
    use crate::test_support::{event, get, state};

    #[tokio::test]
    async fn a_flow_is_its_tree_in_causal_order_with_a_waterfall_link() {
        let state = state("local", Personal::Masked).await;
        state
            .store
            .insert(&event("r", "Asked", "c1", None, json!({})), 1_000);
        state
            .store
            .insert(&event("b", "Second", "c1", Some("r"), json!({})), 1_900);
        state
            .store
            .insert(&event("a", "First", "c1", Some("r"), json!({})), 1_500);
        state
            .store
            .insert(&event("a1", "Deeper", "c1", Some("a"), json!({})), 2_500);
        let page = get(&state, "/flows/c1").await;
        assert_eq!(page.status, 200);
        let at = |id: &str| page.body.find(&format!(r#"data-id="{id}""#)).unwrap();
        // Children in arrival order, each under its cause.
        assert!(
            at("r") < at("b") && at("b") < at("a") && at("a") < at("a1"),
            "{}",
            page.body
        );
        assert!(page.body.contains("--depth:2"), "a1 is two levels down");
        assert!(
            page.body.contains("+1.5 s"),
            "a1 arrived 1.5 s after the first"
        );
        assert!(page.body.contains(r#"href="/flows/c1/waterfall""#));
        let missing = get(&state, "/flows/nope").await;
        assert_eq!(missing.status, 404);
        // The test stack has no functions: the waterfall page says why there is none.
        let waterfall = get(&state, "/flows/c1/waterfall").await;
        assert_eq!(waterfall.status, 200);
        assert!(
            waterfall.body.contains("no waterfall: "),
            "{}",
            waterfall.body
        );
    }
}
