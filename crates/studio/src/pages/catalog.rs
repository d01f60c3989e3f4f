//! `GET /catalog`: the catalog's events; `GET /catalog/{detail-type}`: one event: its source
//! and version, the functions that emit it and those whose rules match it, its schema as a
//! field table (personal fields marked), the schema itself, and its sample from the samples
//! folder (a repository file, shown as written) with a link to put it.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use eventrail_contract::CatalogEvent;
use maud::{Markup, html};
use serde_json::Value;

use crate::layout::{Nav, page};
use crate::pages::system::{event_href, function_href, segment};
use crate::state::AppState;

/// This module's routes, merged by the server.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/catalog", get(index))
        .route("/catalog/{detail_type}", get(event))
}

/// The sample of `event` in the samples folder: the file named after its schema
/// (`x.json` for `schemas/x.json`), else the first of its detail-type. `(file name, JSON)`.
pub(crate) fn sample_of(state: &AppState, event: &CatalogEvent) -> Option<(String, Value)> {
    let samples = state.system.app.samples().ok()?;
    let named = std::path::Path::new(&event.schema)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned());
    let of_type = |s: &&(String, Value)| {
        s.1.get("detail-type").and_then(Value::as_str) == Some(event.detail_type.as_str())
    };
    samples
        .iter()
        .find(|s| Some(&s.0) == named.as_ref() && of_type(s))
        .or_else(|| samples.iter().find(of_type))
        .cloned()
}

/// The functions whose rules can match events of `detail_type`, each once.
fn consumers(state: &AppState, detail_type: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for rule in state.system.rules_for(detail_type) {
        for function in &rule.functions {
            if !out.iter().any(|(f, r)| f == function && *r == rule.name) {
                out.push((function.clone(), rule.name.clone()));
            }
        }
    }
    out
}

async fn index(State(state): State<AppState>) -> Markup {
    let body = html! {
        table #catalog-index .catalog {
            thead { tr { th { "event" } th { "source" } th { "version" } th { "emitted by" } th { "consumed by" } } }
            tbody {
                @for e in &state.system.app.catalog.events {
                    tr {
                        td { a.event href=(event_href(&e.detail_type)) { (e.detail_type) } }
                        td { code { (e.source) } }
                        td { (e.version) }
                        td {
                            @for (i, f) in state.system.emitters(&e.detail_type).iter().enumerate() {
                                @if i > 0 { ", " }
                                a.function href=(function_href(&f.name)) { (f.name) }
                            }
                        }
                        td {
                            @for (i, (f, _)) in consumers(&state, &e.detail_type).iter().enumerate() {
                                @if i > 0 { ", " }
                                a.function href=(function_href(f)) { (f) }
                            }
                        }
                    }
                }
            }
        }
    };
    page(&state, Nav::Catalog, "Catalog", body)
}

async fn event(State(state): State<AppState>, Path(detail_type): Path<String>) -> Response {
    let Some(event) = state.system.event(&detail_type) else {
        let body = html! {
            p.error { "No event " code { (detail_type) } " in the catalog." }
            p { "Known: " (state.system.app.catalog.known()) }
        };
        return (
            StatusCode::NOT_FOUND,
            page(&state, Nav::Catalog, "Unknown event", body),
        )
            .into_response();
    };
    let schema = state.system.schemas.get(&detail_type);
    let emitters = state.system.emitters(&detail_type);
    let consumers = consumers(&state, &detail_type);
    let sample = sample_of(&state, event);
    let body = html! {
        table.facts {
            tr { th { "source" } td { code { (event.source) } } }
            tr { th { "detail-type" } td { code { (event.detail_type) } } }
            tr { th { "version" } td { (event.version) } }
            tr { th { "schema" } td { code { (event.schema) } } }
        }
        section #catalog-emitters {
            h2 { "Emitted by" }
            @if emitters.is_empty() { p.none { "No function of the system emits it." } }
            ul { @for f in &emitters { li { a.function href=(function_href(&f.name)) { (f.name) } } } }
        }
        section #catalog-consumers {
            h2 { "Consumed by" }
            @if consumers.is_empty() { p.none { "No rule matches it." } }
            ul {
                @for (f, rule) in &consumers {
                    li { a.function href=(function_href(f)) { (f) } " (rule " code { (rule) } ")" }
                }
            }
        }
        section #catalog-schema {
            h2 { "Fields of " code { "detail" } }
            @match schema {
                None => p.none { "The catalog names no schema for it." },
                Some(schema) => {
                    table.fields {
                        thead { tr { th { "field" } th { "type" } th { "required" } th { "personal" } th { "description" } } }
                        tbody {
                            @for field in schema.fields() {
                                tr class=[field.personal.then_some("personal")] data-path=(field.path) {
                                    td { code { (field.path) } }
                                    td { (field.types.join(" or ")) }
                                    td { @if field.required { "yes" } @else { "no" } }
                                    td { @if field.personal { span.badge.personal title="masked in the studio unless --show-personal" { "personal" } } }
                                    td { (field.description.as_deref().unwrap_or("")) }
                                }
                            }
                        }
                    }
                    details {
                        summary { "The JSON Schema" }
                        pre { code { (serde_json::to_string_pretty(schema.json()).unwrap_or_default()) } }
                    }
                }
            }
        }
        section #catalog-sample {
            h2 { "Sample" }
            @match &sample {
                None => p.none { "No sample in the samples folder." },
                Some((file, value)) => {
                    p { code { (file) } " · " a #catalog-put-sample href={ "/put?sample=" (segment(file)) } { "put it" } }
                    pre { code { (serde_json::to_string_pretty(value).unwrap_or_default()) } }
                }
            }
        }
        p { a href={ "/?detail_type=" (segment(&detail_type)) } { "Its events in the flows" } }
    };
    page(&state, Nav::Catalog, &detail_type, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::testing;

    #[tokio::test]
    async fn an_event_page_shows_schema_personal_fields_sample_and_who_uses_it() {
        let state = testing::state(crate::Writes::Allowed).await;
        // An event with a personal field, if the catalog has one; else any event with a sample.
        let events = &state.system.app.catalog.events;
        let personal = events
            .iter()
            .find(|e| !state.system.personal_paths(&e.detail_type).is_empty());
        let event = personal
            .or_else(|| events.iter().find(|e| sample_of(&state, e).is_some()))
            .expect("an event");
        let (status, body) = testing::get(&state, &event_href(&event.detail_type)).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains(&event.source), "its source");
        for path in state.system.personal_paths(&event.detail_type) {
            assert!(
                body.contains(&format!("class=\"personal\" data-path=\"{path}\"")),
                "{path} is marked personal"
            );
        }
        for f in state.system.emitters(&event.detail_type) {
            assert!(body.contains(&function_href(&f.name)), "emitter {}", f.name);
        }
        for (f, _) in consumers(&state, &event.detail_type) {
            assert!(body.contains(&function_href(&f)), "consumer {f}");
        }
        if let Some((file, _)) = sample_of(&state, event) {
            assert!(body.contains(&format!("/put?sample={}", segment(&file))));
        }
    }

    #[tokio::test]
    async fn the_index_lists_every_event_and_an_unknown_one_is_404() {
        let state = testing::state(crate::Writes::Allowed).await;
        let (status, body) = testing::get(&state, "/catalog").await;
        assert_eq!(status, 200);
        for e in &state.system.app.catalog.events {
            assert!(
                body.contains(&event_href(&e.detail_type)),
                "{}",
                e.detail_type
            );
        }
        let (status, _) = testing::get(&state, "/catalog/NoSuchEvent").await;
        assert_eq!(status, 404);
    }
}
