//! `GET /events/{id}`: one event: its envelope (pretty JSON, personal fields masked), where
//! it sits in its flow, the functions it reached, and every rule of the system with whether
//! it matched (each with a link to why, or why not).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{Markup, html};

use crate::layout::{Nav, page};
use crate::rows;
use crate::state::AppState;
use crate::store::StoredEvent;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/events/{id}", get(event))
}

/// The page of an event the store no longer (or never) held.
pub(crate) fn not_kept(state: &AppState, what: &str) -> Response {
    let body = html! {
        p.error { (what) " is not in the studio's store (it keeps the last "
            (state.store.capacity()) " events it saw since it started)." }
        p { a href="/" { "Back to the flows" } }
    };
    (
        StatusCode::NOT_FOUND,
        page(state, Nav::Flows, "Not found", body),
    )
        .into_response()
}

async fn event(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let Some(event) = state.store.get(&id) else {
        return not_kept(&state, &format!("event {id}"));
    };
    page(
        &state,
        Nav::Flows,
        &format!("{} {}", event.detail_type, event.id),
        body(&state, &event),
    )
    .into_response()
}

fn body(state: &AppState, event: &StoredEvent) -> Markup {
    let value = event.value();
    let shown = state.masks.event(value.clone());
    let pretty = serde_json::to_string_pretty(&shown).unwrap_or_default();
    let functions = rows::functions_reached(state, event);
    let masked = state.masks.covers(&event.detail_type);
    html! {
        table.facts {
            tr { th { "detail-type" } td { a href={ "/catalog/" (event.detail_type) } { (event.detail_type) } } }
            tr { th { "source" } td { (event.source) } }
            tr { th { "time" } td { (event.time) } }
            tr { th { "received by the tap" } td data-received-ms=(event.received_ms) { (event.received_ms) " ms since the epoch" } }
            @if let Some(correlation) = &event.correlation {
                tr { th { "flow" } td { a href={ "/flows/" (correlation) } { (correlation) } } }
            }
            @if let Some(cause) = &event.causation {
                tr { th { "caused by" } td { a href={ "/events/" (cause) } { (cause) } } }
            }
            @if let Some(key) = &event.business_key {
                tr { th { "business key" } td { (key) } }
            }
            @if let Some(replay) = &event.replay {
                tr { th { "replay" } td { (replay) } }
            }
            tr { th { "reached" } td {
                @if functions.is_empty() { "no function" }
                @for (at, function) in functions.iter().enumerate() {
                    @if at > 0 { ", " }
                    a href={ "/functions/" (function) } { (function) }
                }
            } }
        }
        h2 { "Envelope" }
        @if masked {
            p.masked { "Personal fields are shown as •••; start the studio with --show-personal to see them." }
        }
        pre.json #envelope { (pretty) }
        h2 { "Rules" }
        table.rules {
            tr { th { "rule" } th { "functions" } th { "matched" } th {} }
            @for rule in &state.system.rules {
                @let matched = rule.compiled.matches(&value);
                tr data-rule=(rule.name) data-matched=(matched) {
                    td { (rule.name) }
                    td { (rule.functions.join(", ")) }
                    td { @if matched { span.yes { "matched" } } @else { span.no { "no" } } }
                    td { a href={ "/why?event=" (event.id) "&rule=" (rule.name) } {
                        @if matched { "why" } @else { "why not" }
                    } }
                }
            }
        }
    }
}
