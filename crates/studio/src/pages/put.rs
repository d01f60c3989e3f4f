//! `GET /put`: a form to put an event (or send a command) from a sample of the samples
//! folder or pasted JSON; `POST /put`: the document read and checked exactly as `eventrail
//! put` reads and checks it (`eventrail_observe::put`: the catalog's schemas for events, the
//! command's schema for a command), then sent: events to the bus (the answer shows each
//! event id and the functions it reaches), a command to the function that declares it (a
//! direct invoke; the answer shows the function's answer). A refused document shows every
//! problem, each naming its field, and nothing is sent. Unlike the command line there is no
//! way to skip the check.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use eventrail_observe::CatalogCheck;
use eventrail_observe::put::{PutDocument, PutOverrides, functions_reached};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use crate::layout::{Nav, page};
use crate::pages::forms;
use crate::pages::system::function_href;
use crate::state::AppState;

/// The folder of command samples, inside the samples folder.
const COMMANDS: &str = "commands";

/// This module's routes, merged by the server.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/put", get(form).post(put))
}

/// The samples a user can pick: the samples folder's events (`x.json`) and its command
/// samples (`commands/x.json`), by name, with their JSON.
fn samples(state: &AppState) -> Vec<(String, Value)> {
    let mut out = state.system.app.samples().unwrap_or_default();
    let dir = state.system.app.project.samples_dir().join(COMMANDS);
    let mut commands: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .filter_map(|path| {
            let text = std::fs::read_to_string(&path).ok()?;
            let value = serde_json::from_str(&text).ok()?;
            let name = path.file_name()?.to_string_lossy().into_owned();
            Some((format!("{COMMANDS}/{name}"), value))
        })
        .collect();
    commands.sort_by(|a, b| a.0.cmp(&b.0));
    out.extend(commands);
    out
}

/// The declared command a command sample is (`commands/create-task-urgent.json` is
/// `CreateTask`): the longest declared command whose kebab-case name starts the file's name.
fn command_of_sample(state: &AppState, sample: &str) -> Option<String> {
    let stem = sample
        .strip_prefix(COMMANDS)?
        .trim_start_matches('/')
        .trim_end_matches(".json");
    state
        .system
        .app
        .functions
        .iter()
        .flat_map(|f| f.declaration.commands.iter())
        .filter(|c| {
            let kebab = eventrail_contract::kebab_case(c);
            stem == kebab || stem.starts_with(&format!("{kebab}-"))
        })
        .max_by_key(|c| c.len())
        .cloned()
}

#[derive(Debug, Default, Deserialize)]
struct Pick {
    sample: Option<String>,
}

/// The form's fields (the token travels in the action's query and a hidden field).
#[derive(Debug, Default, Deserialize)]
struct PutForm {
    #[serde(default)]
    json: String,
    #[serde(default)]
    detail_type: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    command: String,
}

fn given(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn put_form(state: &AppState, fields: &PutForm) -> Markup {
    let samples = samples(state);
    forms::when_writable(state, || {
        html! {
            form #put-pick method="get" action="/put" {
                label for="put-sample" { "Sample " }
                select #put-sample name="sample" {
                    option value="" { "(paste JSON below)" }
                    @for (name, _) in &samples {
                        option value=(name) { (name) }
                    }
                }
                " "
                button #put-load type="submit" { "Load" }
            }
            form #put-form method="post" action=(forms::action(state, "/put")) {
                (forms::token_field(state))
                label for="put-json" {
                    "An EventBridge event (or a list of up to 10), an event's detail with a \
                     detail-type, or a command sample"
                }
                textarea #put-json name="json" rows="18" cols="90" spellcheck="false" { (fields.json) }
                div.fields {
                    label { "detail-type " input #put-detail-type name="detail_type" value=(fields.detail_type); }
                    label { "source " input #put-source name="source" value=(fields.source); }
                    label { "command " input #put-command name="command" value=(fields.command); }
                }
                button #put-submit type="submit" { "Check and put" }
            }
        }
    })
}

async fn form(State(state): State<AppState>, Query(pick): Query<Pick>) -> Response {
    let mut fields = PutForm::default();
    if let Some(name) = pick.sample.as_deref().filter(|n| !n.is_empty()) {
        match samples(&state).into_iter().find(|(n, _)| n == name) {
            Some((_, value)) => {
                fields.json = serde_json::to_string_pretty(&value).unwrap_or_default();
                fields.command = command_of_sample(&state, name).unwrap_or_default();
            }
            None => {
                let body = html! {
                    p #put-error .error { "No sample " code { (name) } " in the samples folder." }
                    (put_form(&state, &fields))
                };
                return (StatusCode::NOT_FOUND, page(&state, Nav::Put, "Put", body))
                    .into_response();
            }
        }
    }
    page(&state, Nav::Put, "Put", put_form(&state, &fields)).into_response()
}

/// A refusal: the problems, the form again with what was sent.
fn refused(state: &AppState, fields: &PutForm, problems: &[String]) -> Response {
    let body = html! {
        section #put-error .error {
            h2 { "Put refused, nothing was sent" }
            ul { @for p in problems { li.problem { (p) } } }
        }
        (put_form(state, fields))
    };
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        page(state, Nav::Put, "Put", body),
    )
        .into_response()
}

/// The stack failed the call: what it said.
fn failed(state: &AppState, fields: &PutForm, error: &str) -> Response {
    let body = html! {
        section #put-error .error {
            h2 { "The stack did not take it" }
            p { (error) }
        }
        (put_form(state, fields))
    };
    (StatusCode::BAD_GATEWAY, page(state, Nav::Put, "Put", body)).into_response()
}

async fn put(State(state): State<AppState>, Form(fields): Form<PutForm>) -> Response {
    if !crate::layout::writes_allowed(&state) {
        return (StatusCode::FORBIDDEN, crate::auth::READ_ONLY).into_response();
    }
    let value: Value = match serde_json::from_str(&fields.json) {
        Ok(value) => value,
        Err(e) => return refused(&state, &fields, &[format!("not JSON: {e}")]),
    };
    let project = &state.system.app.project;
    let catalog = match CatalogCheck::load(project) {
        Ok(catalog) => catalog,
        Err(e) => return failed(&state, &fields, &e.to_string()),
    };
    let overrides = PutOverrides {
        detail_type: given(&fields.detail_type),
        source: given(&fields.source),
        command: given(&fields.command),
    };
    let document = match PutDocument::classify(value, &overrides, project, &catalog) {
        Ok(document) => document,
        Err(e) => return refused(&state, &fields, &[e.to_string()]),
    };
    match document.problems(project, &catalog) {
        Ok(problems) if problems.is_empty() => {}
        Ok(problems) => return refused(&state, &fields, &problems),
        Err(e) => return failed(&state, &fields, &e.to_string()),
    }
    match document {
        PutDocument::Events(events) => {
            let results = match state.stack.put_envelopes(&events).await {
                Ok(results) => results,
                Err(e) => return failed(&state, &fields, &e.to_string()),
            };
            let rows: Vec<(String, Result<String, String>, Vec<String>)> = events
                .iter()
                .zip(results)
                .map(|(event, result)| {
                    let name = event
                        .get("detail-type")
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                        .to_owned();
                    let reaches = state
                        .router
                        .as_ref()
                        .map(|r| functions_reached(r, event))
                        .unwrap_or_default();
                    (name, result, reaches)
                })
                .collect();
            let all_accepted = rows.iter().all(|r| r.1.is_ok());
            let body = html! {
                section #put-result {
                    h2 { @if all_accepted { "Put on the bus" } @else { "Some entries failed" } }
                    ol {
                        @for (name, result, reaches) in &rows {
                            @match result {
                                Ok(id) => li.put-accepted data-event-id=(id) {
                                    (name) " accepted, event id "
                                    a.event-id href={ "/events/" (id) } { (id) }
                                    " → "
                                    @if reaches.is_empty() { "no function" }
                                    @for (i, f) in reaches.iter().enumerate() {
                                        @if i > 0 { ", " }
                                        a.function href=(function_href(f)) { (f) }
                                    }
                                },
                                Err(error) => li.put-failed { (name) " FAILED: " (error) },
                            }
                        }
                    }
                    p.hint { "The flow appears on the Flows page as the tap receives it." }
                }
                (put_form(&state, &fields))
            };
            let status = if all_accepted {
                StatusCode::OK
            } else {
                StatusCode::BAD_GATEWAY
            };
            (status, page(&state, Nav::Put, "Put", body)).into_response()
        }
        PutDocument::Command {
            name,
            function,
            body,
        } => match state.stack.invoke(&function, &body).await {
            Ok(answer) => {
                let answer = serde_json::to_string_pretty(&answer).unwrap_or_default();
                let page_body = html! {
                    section #put-result {
                        h2 { (name) " sent to " a.function href=(function_href(&function)) { (function) } " (direct invoke)" }
                        pre #put-answer { code { (answer) } }
                        p.hint { "Its events appear on the Flows page as the tap receives them." }
                    }
                    (put_form(&state, &fields))
                };
                page(&state, Nav::Put, "Put", page_body).into_response()
            }
            Err(e) => failed(&state, &fields, &e.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Writes;
    use crate::pages::testing::{self, form_value};

    /// A sample event of the catalog with a required string field in its detail, and that
    /// field's name (the catalog's first such event).
    fn event_sample(state: &AppState) -> (Value, String) {
        for (_, sample) in state.system.app.samples().expect("samples") {
            let Some(detail_type) = sample.get("detail-type").and_then(Value::as_str) else {
                continue;
            };
            let Some(schema) = state.system.schemas.get(detail_type) else {
                continue;
            };
            if let Some(field) = schema.fields().into_iter().find(|f| {
                f.required && !f.path.contains('.') && !f.path.contains('[') && f.path != "metadata"
            }) {
                return (sample, field.path);
            }
        }
        panic!("no event sample with a required top-level field");
    }

    #[tokio::test]
    async fn the_form_offers_the_samples_and_loads_one() {
        let state = testing::state(Writes::Allowed).await;
        let (status, body) = testing::get(&state, "/put").await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("id=\"put-submit\""));
        assert!(body.contains(&format!("action=\"/put?token={}\"", testing::TOKEN)));
        let names: Vec<String> = samples(&state).into_iter().map(|s| s.0).collect();
        assert!(!names.is_empty(), "the workspace has samples");
        for name in &names {
            assert!(
                body.contains(&format!("<option value=\"{name}\">")),
                "{name}"
            );
        }
        let (status, body) = testing::get(&state, &format!("/put?sample={}", names[0])).await;
        assert_eq!(status, 200);
        let (_, value) = &samples(&state)[0];
        let first_key = value
            .as_object()
            .and_then(|o| o.keys().next().cloned())
            .expect("a sample is an object");
        assert!(body.contains(&format!("&quot;{first_key}&quot;")), "{body}");
        let (status, _) = testing::get(&state, "/put?sample=nope.json").await;
        assert_eq!(status, 404);
    }

    #[tokio::test]
    async fn an_event_failing_its_schema_is_refused_naming_the_field_and_not_sent() {
        let state = testing::state(Writes::Allowed).await;
        let (mut sample, field) = event_sample(&state);
        let detail = sample
            .get_mut("detail")
            .and_then(Value::as_object_mut)
            .expect("a detail");
        // The field may sit in `detail` or in `detail.data`, as the schema has it.
        detail.remove(&field);
        if let Some(data) = detail.get_mut("data").and_then(Value::as_object_mut) {
            data.remove(&field);
        }
        let form = format!("json={}", form_value(&sample.to_string()));
        let (status, body) = testing::post(&state, "/put", &form).await;
        assert_eq!(status, 422, "{body}");
        assert!(body.contains("refused, nothing was sent"), "{body}");
        assert!(body.contains(&field), "the problem names {field}: {body}");
        // Exactly what `eventrail put` says: the shared check's text.
        let catalog = CatalogCheck::load(&state.system.app.project).expect("catalog");
        let expected = catalog.check(&sample).expect_err("refused");
        let shown = maud::html! { (format!("entry 0: {expected}")) }.into_string();
        assert!(body.contains(&shown), "{shown}\nin\n{body}");
    }

    #[tokio::test]
    async fn a_valid_event_goes_to_the_stack_and_its_failure_is_shown() {
        // The fake stack answers nothing: the put reached it (the check passed) and its
        // failure is shown.
        let state = testing::state(Writes::Allowed).await;
        let (sample, _) = event_sample(&state);
        let form = format!("json={}", form_value(&sample.to_string()));
        let (status, body) = testing::post(&state, "/put", &form).await;
        assert_eq!(status, 502, "{body}");
        assert!(body.contains("The stack did not take it"), "{body}");
        assert!(body.contains("events:PutEvents"), "{body}");
    }

    #[tokio::test]
    async fn a_command_sample_names_its_command_and_goes_to_its_function() {
        let state = testing::state(Writes::Allowed).await;
        let (name, sample) = samples(&state)
            .into_iter()
            .find(|(name, _)| name.starts_with(COMMANDS))
            .expect("a command sample");
        let command = command_of_sample(&state, &name).expect("a declared command");
        let (status, body) = testing::get(&state, &format!("/put?sample={name}")).await;
        assert_eq!(status, 200);
        assert!(body.contains(&format!("value=\"{command}\"")), "{body}");
        let form = format!("json={}&command={command}", form_value(&sample.to_string()));
        let (status, body) = testing::post(&state, "/put", &form).await;
        // The fake stack answers nothing: the invoke of the declaring function failed.
        assert_eq!(status, 502, "{body}");
        assert!(body.contains("lambda:Invoke"), "{body}");
    }

    #[tokio::test]
    async fn not_json_is_refused_and_read_only_hides_the_form_and_refuses_the_post() {
        let state = testing::state(Writes::Allowed).await;
        let (status, body) = testing::post(&state, "/put", "json=%7Bnope").await;
        assert_eq!(status, 422);
        assert!(body.contains("not JSON"), "{body}");

        let state = testing::state(Writes::ReadOnly).await;
        let (status, body) = testing::get(&state, "/put").await;
        assert_eq!(status, 200);
        assert!(
            !body.contains("put-submit"),
            "no form on a read-only studio"
        );
        assert!(body.contains("read-only-notice"));
        let (status, body) = testing::post(&state, "/put", "json=%7B%7D").await;
        assert_eq!(status, 403);
        assert!(body.contains("read-only"), "{body}");
    }
}
