//! `GET /functions/{name}`: one declared function: what starts it, what it consumes and
//! emits, the rules that reach it with their patterns, its queues (failure queue, delivery
//! dead-letter queue, the buffer or source queue that feeds it) and its recent invocations:
//! the events in the store its rules match, newest first.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use eventrail_contract::FunctionDeclaration;
use eventrail_model::FlowRule;
use eventrail_observe::function_queues::feeding_queue;
use maud::{Markup, html};

use crate::layout::{Nav, page};
use crate::pages::system::{event_href, segment};
use crate::rows::clock;
use crate::state::AppState;
use crate::store::{Query, StoredEvent};

/// How many recent invocations the page lists.
const RECENT: usize = 25;

/// This module's routes, merged by the server.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/functions/{name}", get(function))
}

/// The rules that reach `name` (directly, or through its buffer queue).
fn rules_of<'a>(state: &'a AppState, name: &str) -> Vec<&'a FlowRule> {
    state
        .system
        .rules
        .iter()
        .filter(|r| r.functions.iter().any(|f| f == name))
        .collect()
}

/// The newest events of the store any of `rules` matches, at most [`RECENT`].
fn recent(state: &AppState, rules: &[&FlowRule]) -> Vec<Arc<StoredEvent>> {
    let mut events: Vec<Arc<StoredEvent>> = Vec::new();
    for rule in rules {
        let query = Query {
            pattern: Some(rule.compiled.clone()),
            ..Query::default()
        };
        events.extend(state.store.search(&query, RECENT).events);
    }
    events.sort_by_key(|e| std::cmp::Reverse(e.seq));
    events.dedup_by(|a, b| a.seq == b.seq);
    events.truncate(RECENT);
    events
}

fn event_links(names: &[String]) -> Markup {
    html! {
        @if names.is_empty() { span.none { "none" } }
        @for (i, name) in names.iter().enumerate() {
            @if i > 0 { ", " }
            @if name == "*" { "every event" }
            @else { a.event href=(event_href(name)) { (name) } }
        }
    }
}

/// The function's queues: `(what, where)`, from the stack's outputs.
fn queues(state: &AppState, f: &FunctionDeclaration) -> Vec<(String, String)> {
    let outputs = &state.stack.outputs;
    let mut out = Vec::new();
    let known = |r: eventrail_observe::Result<&str>| match r {
        Ok(url) => url.to_owned(),
        Err(e) => format!("unknown ({e})"),
    };
    let sqs_fed = f.declaration.trigger().is_sqs_fed();
    out.push((
        if sqs_fed {
            "failure queue (its queue's dead-letter queue)".to_owned()
        } else {
            "failure queue".to_owned()
        },
        known(outputs.failure_queue_url(&f.name)),
    ));
    if let Ok(url) = outputs.delivery_dlq_url(&f.name) {
        out.push(("delivery dead-letter queue".to_owned(), url.to_owned()));
    }
    if let Some((feeding, url)) = feeding_queue(&state.stack, f) {
        let url = match url {
            Ok(url) => url,
            Err(e) => format!("unknown ({e})"),
        };
        out.push((feeding.label().to_owned(), url));
    }
    out
}

fn rule_section(rule: &FlowRule) -> Markup {
    let pattern = serde_json::to_string_pretty(&rule.pattern).unwrap_or_default();
    html! {
        section.rule data-rule=(rule.id) {
            h3 { "Rule " code { (rule.name) } }
            p {
                "id " code { (rule.id) }
                @if let Some(dlq) = &rule.dead_letter { " · delivery dead-letter queue " code { (dlq) } }
                @if let Some(buffer) = &rule.buffer { " · delivers through " code { (buffer) } }
            }
            @if let Some(summary) = rule.filter_summary() { p.filter { "filter: " (summary) } }
            pre.pattern { code { (pattern) } }
            p { a href={ "/why?rule=" (segment(&rule.name)) } { "why (not) an event matches" } }
        }
    }
}

async fn function(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let Some(f) = state.system.app.function(&name) else {
        let known: Vec<&str> = state
            .system
            .app
            .functions
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        let body = html! {
            p.error { "No function " code { (name) } " in this application." }
            p { "Functions: " (known.join(", ")) }
        };
        return (
            StatusCode::NOT_FOUND,
            page(&state, Nav::System, "Unknown function", body),
        )
            .into_response();
    };
    let d = &f.declaration;
    let rules = rules_of(&state, &name);
    let recent = recent(&state, &rules);
    let body = html! {
        section #function-declaration {
            @if let Some(description) = &d.description { p.description { (description) } }
            table.facts {
                tr { th { "trigger" } td #function-trigger { (eventrail_views::catalog_docs::trigger_text(&state.system, f)) } }
                tr { th { "consumes" } td #function-consumes { (event_links(&d.consumes)) } }
                tr { th { "emits" } td #function-emits { (event_links(&d.emits)) } }
                @if !d.commands.is_empty() {
                    tr { th { "commands" } td { (d.commands.join(", ")) } }
                }
                tr { th { "declared in" } td { code { (state.system.relative(&f.dir.join("Cargo.toml"))) } } }
            }
        }
        section #function-rules {
            h2 { "Rules" }
            @if rules.is_empty() { p.none { "No rule of the template reaches it." } }
            @for rule in &rules { (rule_section(rule)) }
        }
        section #function-queues {
            h2 { "Queues" }
            table.queues {
                @for (what, url) in queues(&state, f) {
                    tr { th { (what) } td { code { (url) } } }
                }
            }
            p { a #function-dlq href={ "/dlq/" (segment(&name)) } { "Dead letters of " (name) } }
        }
        section #function-recent {
            h2 { "Recent invocations" }
            p.hint { "Events the studio has seen that its rules match, newest first." }
            @if recent.is_empty() { p.none { "None seen since the studio started." } }
            ol.events {
                @for event in &recent {
                    li.event data-id=(event.id) {
                        time datetime=(event.time) { (clock(&event.time)) }
                        " "
                        a.dt href={ "/events/" (event.id) } { (event.detail_type) }
                        " "
                        @if let Some(c) = &event.correlation {
                            a.flow href={ "/flows/" (segment(c)) } { "flow" }
                            " "
                        }
                        code { (event.id) }
                        @if let Some(rule) = rules.iter().find(|r| r.compiled.matches_json(event.json()).unwrap_or(false)) {
                            " "
                            a.why href={ "/why?event=" (segment(&event.id)) "&rule=" (segment(&rule.name)) } { "why" }
                        }
                    }
                }
            }
        }
    };
    page(&state, Nav::System, &format!("Function {name}"), body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::testing;

    #[tokio::test]
    async fn a_function_page_shows_its_declaration_rules_and_queues() {
        let state = testing::state(crate::Writes::Allowed).await;
        let f = state
            .system
            .app
            .functions
            .iter()
            .find(|f| !f.declaration.emits.is_empty() && !rules_of(&state, &f.name).is_empty())
            .expect("a function a rule reaches that emits");
        let (status, body) = testing::get(&state, &format!("/functions/{}", f.name)).await;
        assert_eq!(status, 200, "{body}");
        for emitted in &f.declaration.emits {
            assert!(
                body.contains(&format!("href=\"{}\"", event_href(emitted))),
                "{emitted}"
            );
        }
        for rule in rules_of(&state, &f.name) {
            assert!(
                body.contains(&format!("data-rule=\"{}\"", rule.id)),
                "{}",
                rule.id
            );
        }
        let failure = state.stack.outputs.failure_queue_url(&f.name).expect("url");
        assert!(body.contains(failure), "the failure queue's URL");
        assert!(body.contains("None seen since the studio started."));
    }

    #[tokio::test]
    async fn recent_invocations_are_the_stored_events_its_rules_match() {
        let state = testing::state(crate::Writes::Allowed).await;
        // A sample event and a function one of whose rules matches it; another event no
        // rule of that function matches.
        let samples = state.system.app.samples().expect("samples");
        let (function, matched) = samples
            .iter()
            .find_map(|(_, sample)| {
                let text = serde_json::to_vec(sample).ok()?;
                let rule = state.system.rules.iter().find(|r| {
                    !r.functions.is_empty() && r.compiled.matches_json(&text).unwrap_or(false)
                })?;
                Some((rule.functions[0].clone(), sample.clone()))
            })
            .expect("a sample some rule matches");
        let mut event = matched.clone();
        event["id"] = "studio-test-matched".into();
        let observed = eventrail_observe::ObservedEvent::from_value(event).expect("an event");
        state.store.insert(&observed, 1);
        let mut other = serde_json::json!({
            "version": "0", "id": "studio-test-other", "detail-type": "NoRuleMatchesThis",
            "source": "nowhere.test", "account": "0", "time": "2026-12-07T00:00:00Z",
            "region": "us-east-1", "resources": [], "detail": {}
        });
        other["detail-type"] = "NoRuleMatchesThis".into();
        let observed = eventrail_observe::ObservedEvent::from_value(other).expect("an event");
        state.store.insert(&observed, 2);
        let (status, body) = testing::get(&state, &format!("/functions/{function}")).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("data-id=\"studio-test-matched\""), "{body}");
        assert!(
            body.contains("/why?event=studio-test-matched&amp;rule="),
            "a link to why it matched: {body}"
        );
        assert!(!body.contains("studio-test-other"), "{body}");
    }

    #[tokio::test]
    async fn an_unknown_function_is_a_404_naming_the_known_ones() {
        let state = testing::state(crate::Writes::Allowed).await;
        let (status, body) = testing::get(&state, "/functions/no-such-function").await;
        assert_eq!(status, 404);
        assert!(body.contains("no-such-function"));
        let first = &state.system.app.functions[0].name;
        assert!(body.contains(first.as_str()));
    }
}
