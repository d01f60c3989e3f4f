//! `GET /replay`: a form to replay a window of the stack's archive to the bus (every rule)
//! or to one function's rules; `POST /replay`: starts it as `eventrail replay` does
//! (`eventrail_observe::replay`: the same times, `-90m`, `now` or RFC 3339; the same refusal
//! of a window older than an idempotency TTL unless re-notifying is allowed; the same
//! `FilterArns`). `GET /replay?name=` shows where a replay is.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use chrono::Utc;
use eventrail_observe::replay::{self, Renotify, ReplayError, ReplayRequest, parse_time};
use maud::{Markup, html};
use serde::Deserialize;

use crate::layout::{Nav, page, writes_allowed};
use crate::pages::forms;
use crate::pages::system::segment;
use crate::state::AppState;

/// This module's routes, merged by the server.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/replay", get(form).post(start))
}

/// The form's fields.
#[derive(Debug, Deserialize)]
struct ReplayForm {
    #[serde(default = "default_from")]
    from: String,
    #[serde(default = "default_to")]
    to: String,
    /// Empty: every rule of the bus.
    #[serde(default)]
    function: String,
    /// A checkbox: present (`on`) when re-notifying is allowed.
    #[serde(default)]
    allow_renotify: Option<String>,
}

fn default_from() -> String {
    "-1h".to_owned()
}

fn default_to() -> String {
    "now".to_owned()
}

impl Default for ReplayForm {
    fn default() -> Self {
        Self {
            from: default_from(),
            to: default_to(),
            function: String::new(),
            allow_renotify: None,
        }
    }
}

/// Functions a rule reaches (a replay to any other would deliver nothing).
fn rule_functions(state: &AppState) -> Vec<String> {
    let mut names: Vec<String> = state
        .system
        .rules
        .iter()
        .flat_map(|r| r.functions.iter().cloned())
        .collect();
    names.sort();
    names.dedup();
    names
}

fn replay_form(state: &AppState, fields: &ReplayForm) -> Markup {
    let functions = rule_functions(state);
    forms::when_writable(state, || {
        html! {
            form #replay-form method="post" action=(forms::action(state, "/replay")) {
                (forms::token_field(state))
                div.fields {
                    label { "from " input #replay-from name="from" value=(fields.from); }
                    label { "to " input #replay-to name="to" value=(fields.to); }
                    label {
                        "to "
                        select #replay-function name="function" {
                            option value="" selected[fields.function.is_empty()] { "the bus (every rule)" }
                            @for f in &functions {
                                option value=(f) selected[fields.function == *f] { "function " (f) }
                            }
                        }
                    }
                }
                label {
                    input #replay-allow-renotify type="checkbox" name="allow_renotify" checked[fields.allow_renotify.is_some()];
                    " allow a window older than an idempotency TTL (side effects run again)"
                }
                p.hint { "Times: RFC 3339 (2026-11-27T10:00:00Z), now, or an age: -90m, -2h, -1d." }
                button #replay-submit type="submit" { "Replay" }
            }
        }
    })
}

#[derive(Debug, Deserialize)]
struct StatusQuery {
    name: Option<String>,
}

async fn form(State(state): State<AppState>, Query(query): Query<StatusQuery>) -> Markup {
    let status = match query.name.as_deref().filter(|n| !n.is_empty()) {
        Some(name) => Some((name.to_owned(), state.stack.replay_status(name).await)),
        None => None,
    };
    let body = html! {
        @if let Some((name, status)) = &status {
            section #replay-status {
                h2 { "Replay " code { (name) } }
                @match status {
                    Ok(s) => p data-state=(s.state) {
                        span.state { (s.state) }
                        @if let Some(t) = &s.last_replayed { ", replayed up to " (t) }
                        @if let Some(r) = &s.reason { " — " (r) }
                    },
                    Err(e) => p.error { (e.to_string()) },
                }
                p { a #replay-refresh href={ "/replay?name=" (segment(name)) } { "Refresh" } }
            }
        }
        (replay_form(&state, &ReplayForm::default()))
    };
    page(&state, Nav::Replay, "Replay", body)
}

async fn start(State(state): State<AppState>, Form(fields): Form<ReplayForm>) -> Response {
    if !writes_allowed(&state) {
        return (StatusCode::FORBIDDEN, crate::auth::READ_ONLY).into_response();
    }
    let now = Utc::now();
    let function = {
        let f = fields.function.trim();
        (!f.is_empty()).then(|| f.to_owned())
    };
    let request = parse_time("--from", &fields.from, now).and_then(|from| {
        Ok(ReplayRequest {
            from,
            to: parse_time("--to", &fields.to, now)?,
            function,
            renotify: if fields.allow_renotify.is_some() {
                Renotify::Allow
            } else {
                Renotify::Refuse
            },
        })
    });
    let started = match request {
        Ok(request) => replay::start(&state.stack, &state.system.app.project, &request, now)
            .await
            .map(|started| (request, started)),
        Err(e) => Err(e),
    };
    match started {
        Ok((request, started)) => {
            let body = html! {
                section #replay-result data-name=(started.name) {
                    @if let Some(why) = &started.renotify_warning {
                        p.warning { "warning (allowed): " (why) }
                    }
                    p {
                        "Replay " code #replay-name { (started.name) } " started: archive "
                        code { (started.archive) } " from " (request.from.to_rfc3339())
                        " to " (request.to.to_rfc3339()) " → " (started.destination())
                    }
                    p { a #replay-status-link href={ "/replay?name=" (segment(&started.name)) } { "Where is it?" } }
                }
                (replay_form(&state, &fields))
            };
            page(&state, Nav::Replay, "Replay", body).into_response()
        }
        Err(e) => {
            let status = match e {
                ReplayError::Stack(_) => StatusCode::BAD_GATEWAY,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            let body = html! {
                section #replay-error .error { p { (e.to_string()) } }
                (replay_form(&state, &fields))
            };
            (status, page(&state, Nav::Replay, "Replay", body)).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Writes;
    use crate::pages::testing;

    #[tokio::test]
    async fn the_form_offers_the_bus_and_each_function_a_rule_reaches() {
        let state = testing::state(Writes::Allowed).await;
        let (status, body) = testing::get(&state, "/replay").await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("id=\"replay-submit\""));
        for f in rule_functions(&state) {
            assert!(body.contains(&format!("<option value=\"{f}\"")), "{f}");
        }
    }

    #[tokio::test]
    async fn bad_windows_are_refused_before_anything_starts() {
        let state = testing::state(Writes::Allowed).await;
        let (status, body) = testing::post(&state, "/replay", "from=yesterday&to=now").await;
        assert_eq!(status, 422, "{body}");
        assert!(body.contains("--from `yesterday` is not a time"), "{body}");
        let (status, body) = testing::post(&state, "/replay", "from=-1h&to=-2h").await;
        assert_eq!(status, 422, "{body}");
        assert!(body.contains("must be before"), "{body}");
    }

    #[tokio::test]
    async fn a_window_reaches_the_stack_and_read_only_refuses() {
        let state = testing::state(Writes::Allowed).await;
        // A recent window passes every check; the fake stack then fails the call.
        let (status, body) = testing::post(&state, "/replay", "from=-5m&to=now").await;
        assert_eq!(status, 502, "{body}");
        assert!(body.contains("replay-error"), "{body}");
        let state = testing::state(Writes::ReadOnly).await;
        let (status, body) = testing::get(&state, "/replay").await;
        assert_eq!(status, 200);
        assert!(!body.contains("replay-submit"));
        let (status, _) = testing::post(&state, "/replay", "from=-5m&to=now").await;
        assert_eq!(status, 403);
    }
}
