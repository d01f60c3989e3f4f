//! Dead letters, as `eventrail dlq list|show|redrive` sees them (`eventrail_observe::dlq`,
//! `function_queues`, `redrive`):
//! - `GET /dlq`: per function, each failure queue's messages, in-flight count and oldest age,
//!   and the depth of the queue that feeds an SQS-fed function;
//! - `GET /dlq/{function}`: its records (kind, reason, attempts, age, the original event with
//!   its personal fields masked), read without taking them out;
//! - `POST /dlq/{function}/redrive`: `mode=dry-run` says what a redrive would do with each
//!   record and where it would go, and offers to confirm; `mode=confirm` runs the redrive
//!   engine (a message is deleted only after its redelivery was accepted; a buffered
//!   function's records go back through its buffer queue). `id` limits either to one record.

use std::time::SystemTime;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use eventrail_contract::FunctionDeclaration;
use eventrail_observe::dlq::{self, StoredEvents, human_age};
use eventrail_observe::function_queues::{
    self, RedriveScope, declared, feeding_queue, queues_of, record_summary,
};
use eventrail_observe::redrive::{self, RedriveOutcome, RedriveReport};
use eventrail_observe::{CatalogCheck, FailureLayer, FailureQueue};
use futures_util::future::join_all;
use maud::{Markup, html};
use serde::Deserialize;

use crate::layout::{Nav, page, writes_allowed};
use crate::pages::forms;
use crate::pages::system::{function_href, segment};
use crate::state::AppState;

/// At most this many records per queue on a function's page.
const SHOWN: usize = 20;

/// This module's routes, merged by the server.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/dlq", get(list))
        .route("/dlq/{function}", get(show))
        .route("/dlq/{function}/redrive", post(redrive_post))
}

fn dlq_href(function: &str) -> String {
    format!("/dlq/{}", segment(function))
}

/// One row of the list: a queue's counts, or why they are not known.
struct Row {
    function: String,
    label: String,
    messages: Result<(u64, u64, String), String>,
}

async fn failure_row(state: &AppState, queue: &FailureQueue, sqs_fed: bool) -> Row {
    let label = match (queue.layer, sqs_fed) {
        (FailureLayer::Function, true) => "failure queue (its queue's DLQ)".to_owned(),
        (layer, _) => layer.describe().to_owned(),
    };
    let messages = match dlq::summarize(&state.stack.clients.sqs, queue).await {
        Ok(summary) => {
            let oldest = match summary.oldest_age {
                Some(age) if summary.oldest_exact => human_age(age),
                Some(age) => format!("≥ {}", human_age(age)),
                None => "-".to_owned(),
            };
            Ok((summary.messages, summary.in_flight, oldest))
        }
        Err(e) => Err(e.to_string()),
    };
    Row {
        function: queue.function.clone(),
        label,
        messages,
    }
}

async fn feeding_row(state: &AppState, function: &FunctionDeclaration) -> Option<Row> {
    let (feeding, url) = feeding_queue(&state.stack, function)?;
    let messages = match url {
        Ok(url) => match redrive::depth(&state.stack.clients.sqs, &url).await {
            Ok(depth) => Ok((depth.messages, depth.in_flight, "-".to_owned())),
            Err(e) => Err(e.to_string()),
        },
        Err(e) => Err(e.to_string()),
    };
    Some(Row {
        function: function.name.clone(),
        label: feeding.label().to_owned(),
        messages,
    })
}

async fn list(State(state): State<AppState>) -> Markup {
    let queues = state.stack.outputs.failure_queues();
    let functions = &state.system.app.functions;
    let sqs_fed = |name: &str| {
        functions
            .iter()
            .find(|f| f.name == name)
            .is_some_and(|f| f.declaration.trigger().is_sqs_fed())
    };
    let failure_rows = join_all(
        queues
            .iter()
            .map(|q| failure_row(&state, q, sqs_fed(&q.function))),
    )
    .await;
    let feeding_rows: Vec<Row> = join_all(functions.iter().map(|f| feeding_row(&state, f)))
        .await
        .into_iter()
        .flatten()
        .collect();
    let mut names: Vec<&str> = queues.iter().map(|q| q.function.as_str()).collect();
    names.dedup();
    let body = html! {
        table #dlq-list .dlq {
            thead { tr { th { "function" } th { "queue" } th { "messages" } th { "in flight" } th { "oldest" } } }
            tbody {
                @for name in &names {
                    @for row in failure_rows.iter().chain(&feeding_rows).filter(|r| r.function == *name) {
                        tr data-function=(row.function) {
                            td { a.dlq-function href=(dlq_href(&row.function)) { (row.function) } }
                            td { (row.label) }
                            @match &row.messages {
                                Ok((messages, in_flight, oldest)) => {
                                    td.messages { (messages) }
                                    td { (in_flight) }
                                    td.oldest { (oldest) }
                                }
                                Err(e) => td.error colspan="3" { "unknown: " (e) },
                            }
                        }
                    }
                }
            }
        }
        p.hint { "Counts are SQS's approximate numbers; the oldest age comes from looking at up to 100 messages." }
    };
    page(&state, Nav::DeadLetters, "Dead letters", body)
}

/// The redrive form: its button sends `mode` (`dry-run` or `confirm`); for one record when
/// `id` (its SQS message id) is given.
fn redrive_form(state: &AppState, function: &str, mode: &str, id: Option<&str>) -> Markup {
    let (button_id, label) = match (mode, id) {
        ("confirm", _) => (Some("redrive-confirm"), "Confirm: redrive"),
        (_, None) => (Some("redrive-dry-run"), "Redrive… (dry run first)"),
        (_, Some(_)) => (None, "Redrive this one… (dry run first)"),
    };
    let path = format!("{}/redrive", dlq_href(function));
    html! {
        form.redrive method="post" action=(forms::action(state, &path)) data-mode=(mode) {
            (forms::token_field(state))
            @if let Some(id) = id { input type="hidden" name="id" value=(id); }
            button id=[button_id] class=[id.is_some().then_some("redrive-one")]
                type="submit" name="mode" value=(mode) { (label) }
        }
    }
}

async fn show(State(state): State<AppState>, Path(function): Path<String>) -> Response {
    let project = &state.system.app.project;
    let declared = match declared(project, &function) {
        Ok(declared) => declared,
        Err(e) => {
            let body = html! { p.error { (e.to_string()) } };
            return (
                StatusCode::NOT_FOUND,
                page(&state, Nav::DeadLetters, "Unknown function", body),
            )
                .into_response();
        }
    };
    let queues = match queues_of(&state.stack, &function) {
        Ok(queues) => queues,
        Err(e) => {
            let body = html! { p.error { (e.to_string()) } };
            return page(
                &state,
                Nav::DeadLetters,
                &format!("Dead letters of {function}"),
                body,
            )
            .into_response();
        }
    };
    let s3 = eventrail_observe::stored::s3_client(&state.stack.clients.sdk_config);
    let stored = StoredEvents {
        s3: &s3,
        bucket: state.stack.outputs.get("FailedEventsBucketName").ok(),
    };
    let now = SystemTime::now();
    let mut sections = Vec::new();
    for queue in &queues {
        let records =
            dlq::peek_with_stored_events(&state.stack.clients.sqs, Some(stored), queue, SHOWN)
                .await;
        sections.push((queue, records));
    }
    let total: usize = sections
        .iter()
        .map(|(_, r)| r.as_ref().map_or(0, Vec::len))
        .sum();
    let body = html! {
        p { "Function " a.function href=(function_href(&function)) { (function) } "." }
        @if writes_allowed(&state) && total > 0 {
            (redrive_form(&state, &function, "dry-run", None))
        }
        @if !writes_allowed(&state) { (forms::when_writable(&state, || html! {})) }
        @for (queue, records) in &sections {
            section.queue data-layer=(queue.layer.describe()) {
                h2 { (queue.layer.describe()) }
                @match records {
                    Err(e) => p.error { "cannot read it: " (e.to_string()) },
                    Ok(records) if records.is_empty() => p.none { "empty" },
                    Ok(records) => {
                        ol.records {
                            @for message in records {
                                (record(&state, &declared, &function, message, now))
                            }
                        }
                    }
                }
            }
        }
        @if total == 0 { p #dlq-empty .none { (function) "'s failure queues are empty (or could not be read)." } }
    };
    page(
        &state,
        Nav::DeadLetters,
        &format!("Dead letters of {function}"),
        body,
    )
    .into_response()
}

fn record(
    state: &AppState,
    declared: &FunctionDeclaration,
    function: &str,
    message: &dlq::DeadLetterMessage,
    now: SystemTime,
) -> Markup {
    let record = &message.record;
    let summary = record_summary(message, declared);
    let event = match (&message.stored_event_problem, record.original_event()) {
        (Some(problem), _) => Err(format!("none ({problem})")),
        (None, Ok(event)) => Ok(state.masks.event(event.clone())),
        (None, Err(reason)) => Err(format!("none ({reason})")),
    };
    html! {
        li.record
            data-message-id=(record.message_id)
            data-event-id=[record.event_id()]
            data-correlation=[record.correlation_id()]
            data-kind=(summary.kind)
        {
            p.head {
                code { (record.message_id) } " · " span.kind { (summary.kind) }
                " · attempts " (summary.attempts.map_or_else(|| "?".to_owned(), |a| a.to_string()))
                " · age " (message.age(now).map_or_else(|| "?".to_owned(), human_age))
            }
            p.reason { "reason: " (summary.reason) }
            @match &event {
                Ok(event) => {
                    @if let Some(id) = record.event_id() {
                        p { "event " a href={ "/events/" (id) } { code { (id) } } }
                    }
                    pre.event { code { (serde_json::to_string_pretty(event).unwrap_or_default()) } }
                }
                Err(why) => p.event { "event: " (why) },
            }
            @if writes_allowed(state) {
                (redrive_form(state, function, "dry-run", Some(&record.message_id)))
            }
        }
    }
}

/// The redrive form's fields.
#[derive(Debug, Deserialize)]
struct RedriveForm {
    mode: String,
    #[serde(default)]
    id: Option<String>,
}

/// The redrive's mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    DryRun,
    Confirm,
}

fn report_table(report: &RedriveReport) -> Markup {
    html! {
        table.redrive-report {
            thead { tr { th { "record" } th { "event" } th { "kind" } th { "queue" } th { "outcome" } } }
            tbody {
                @for entry in &report.entries {
                    @let (class, text) = match &entry.outcome {
                        RedriveOutcome::Redriven { to } => ("redriven", format!("redriven to {to}")),
                        RedriveOutcome::WouldRedrive { to } => ("would-redrive", format!("would go to {to}")),
                        RedriveOutcome::Left { reason } => ("left", format!("left in the queue: {reason}")),
                        RedriveOutcome::Failed { reason } => ("failed", format!("failed, still queued: {reason}")),
                    };
                    tr class=(class) data-message-id=(entry.message_id) {
                        td { code { (entry.message_id) } }
                        td { @if let Some(id) = &entry.event_id { code { (id) } } }
                        td { (entry.kind) }
                        td { (entry.layer.describe()) }
                        td.outcome { (text) }
                    }
                }
            }
        }
    }
}

async fn redrive_post(
    State(state): State<AppState>,
    Path(function): Path<String>,
    Form(form): Form<RedriveForm>,
) -> Response {
    if !writes_allowed(&state) {
        return (StatusCode::FORBIDDEN, crate::auth::READ_ONLY).into_response();
    }
    let mode = match form.mode.as_str() {
        "dry-run" => Mode::DryRun,
        "confirm" => Mode::Confirm,
        other => {
            return (
                StatusCode::BAD_REQUEST,
                format!("mode is dry-run or confirm, not `{other}`"),
            )
                .into_response();
        }
    };
    let id = form.id.filter(|id| !id.trim().is_empty());
    let title = format!("Redrive {function}");
    let fail = |status: StatusCode, error: String| {
        let body = html! {
            section #redrive-error .error { p { (error) } }
            p { a href=(dlq_href(&function)) { "Back to " (function) "'s dead letters" } }
        };
        (status, page(&state, Nav::DeadLetters, &title, body)).into_response()
    };
    let project = &state.system.app.project;
    let catalog = match CatalogCheck::load(project) {
        Ok(catalog) => catalog,
        Err(e) => return fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let scope = RedriveScope {
        max: None,
        id: id.clone(),
        dry_run: mode == Mode::DryRun,
    };
    let request =
        match function_queues::redrive_request(&state.stack, project, &catalog, &function, scope) {
            Ok(request) => request,
            Err(e) => return fail(StatusCode::NOT_FOUND, e.to_string()),
        };
    let report = match redrive::redrive(&state.stack.clients, &request, |e| catalog.check(e)).await
    {
        Ok(report) => report,
        Err(e) => return fail(StatusCode::BAD_GATEWAY, e.to_string()),
    };
    let body = html! {
        section #redrive-result data-mode=(form.mode) {
            @if report.entries.is_empty() {
                p.none { "Nothing to redrive: "
                    @match &id {
                        Some(id) => { "no record " code { (id) } " in " (function) "'s queues." },
                        None => { (function) "'s queues are empty." },
                    }
                }
            } @else {
                @match mode {
                    Mode::DryRun => p { "Dry run: nothing was sent or deleted. Failure-queue records go to "
                        (request.send_back.describe(&request.function_name))
                        "; delivery dead letters to bus " code { (request.bus_name) } "." },
                    Mode::Confirm => p { "Redriven: each message was deleted only after its redelivery was accepted." },
                }
                (report_table(&report))
                pre.summary { (report.render(mode == Mode::DryRun)) }
                @if mode == Mode::DryRun && report.redriven() > 0 {
                    (redrive_form(&state, &function, "confirm", id.as_deref()))
                }
            }
            p { a #redrive-back href=(dlq_href(&function)) { "Back to " (function) "'s dead letters" } }
        }
    };
    let status = if report.failed() > 0 {
        StatusCode::BAD_GATEWAY
    } else {
        StatusCode::OK
    };
    (status, page(&state, Nav::DeadLetters, &title, body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Writes;
    use crate::pages::testing;

    #[tokio::test]
    async fn the_list_names_every_function_with_failure_queues() {
        let state = testing::state(Writes::Allowed).await;
        let (status, body) = testing::get(&state, "/dlq").await;
        assert_eq!(status, 200, "{body}");
        for f in &state.system.app.functions {
            assert!(body.contains(&dlq_href(&f.name)), "{}", f.name);
        }
        // The fake stack answers nothing: each row says its counts are unknown.
        assert!(body.contains("unknown: "), "{body}");
    }

    #[tokio::test]
    async fn a_function_page_reports_unreadable_queues_and_an_unknown_function_is_404() {
        let state = testing::state(Writes::Allowed).await;
        let name = &state.system.app.functions[0].name;
        let (status, body) = testing::get(&state, &dlq_href(name)).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("cannot read it"), "{body}");
        let (status, _) = testing::get(&state, "/dlq/no-such-function").await;
        assert_eq!(status, 404);
    }

    #[tokio::test]
    async fn redrive_needs_a_known_mode_and_writes() {
        let state = testing::state(Writes::Allowed).await;
        let name = state.system.app.functions[0].name.clone();
        let path = format!("{}/redrive", dlq_href(&name));
        let (status, body) = testing::post(&state, &path, "mode=everything").await;
        assert_eq!(status, 400, "{body}");
        // A dry run reaches the engine, which cannot read the fake stack's queues.
        let (status, body) = testing::post(&state, &path, "mode=dry-run").await;
        assert_eq!(status, 502, "{body}");
        assert!(body.contains("redrive-error"), "{body}");
        let state = testing::state(Writes::ReadOnly).await;
        let (status, _) = testing::post(&state, &path, "mode=confirm").await;
        assert_eq!(status, 403);
    }

    #[tokio::test]
    async fn forms_carry_the_mode_the_token_and_the_record() {
        let state = testing::state(Writes::Allowed).await;
        let form = redrive_form(&state, "f", "confirm", Some("m-1")).into_string();
        assert!(form.contains("id=\"redrive-confirm\""), "{form}");
        assert!(form.contains("name=\"mode\" value=\"confirm\""), "{form}");
        assert!(form.contains("<button id=\"redrive-confirm\""), "{form}");
        assert!(form.contains("name=\"id\" value=\"m-1\""), "{form}");
        let action = format!("action=\"/dlq/f/redrive?token={}\"", testing::TOKEN);
        assert!(form.contains(&action), "{form}");
        let form = redrive_form(&state, "f", "dry-run", None).into_string();
        assert!(form.contains("id=\"redrive-dry-run\""), "{form}");
        assert!(!form.contains("name=\"id\""), "{form}");
    }

    #[tokio::test]
    async fn a_record_shows_kind_reason_and_its_event_with_personal_fields_masked() {
        let state = testing::state(Writes::Allowed).await;
        // A sample event with a personal string field (outside arrays), and that value.
        let (sample, secret) = state
            .system
            .app
            .samples()
            .expect("samples")
            .into_iter()
            .find_map(|(_, sample)| {
                let detail_type = sample.get("detail-type")?.as_str()?.to_owned();
                let secret = state
                    .system
                    .personal_paths(&detail_type)
                    .iter()
                    .filter(|p| !p.contains("[]"))
                    .find_map(|path| {
                        let pointer = format!("/detail/{}", path.replace('.', "/"));
                        sample.pointer(&pointer)?.as_str().map(str::to_owned)
                    })?;
                Some((sample, secret))
            })
            .expect("a sample with a personal string field");
        let body = serde_json::json!({
            "requestContext": {"functionArn": "arn:f", "condition": "RetriesExhausted",
                               "approximateInvokeCount": 3, "requestId": "r-1"},
            "requestPayload": sample,
            "responsePayload": {"errorType": "Unavailable", "errorMessage": "the far side is down"},
            "timestamp": "2026-12-07T23:00:00Z"
        });
        let declared = &state.system.app.functions[0];
        let message = dlq::DeadLetterMessage {
            record: eventrail_observe::FailureRecord {
                queue_function: declared.name.clone(),
                layer: FailureLayer::Function,
                message_id: "m-7".to_owned(),
                kind: eventrail_observe::FailureKind::decode(
                    &body.to_string(),
                    &Default::default(),
                ),
            },
            sent_at_ms: None,
            receive_count: Some(1),
            stored_event_problem: None,
        };
        let html = record(
            &state,
            declared,
            &declared.name,
            &message,
            SystemTime::now(),
        )
        .into_string();
        assert!(html.contains("data-message-id=\"m-7\""), "{html}");
        assert!(html.contains("data-kind=\"handler-failure\""), "{html}");
        assert!(html.contains("the far side is down"), "the reason: {html}");
        assert!(!html.contains(&secret), "{secret} is masked: {html}");
        assert!(html.contains(crate::mask::MASK), "{html}");
        assert!(
            html.contains("name=\"id\" value=\"m-7\""),
            "its redrive form: {html}"
        );
    }

    #[test]
    fn the_report_table_shows_each_outcome() {
        let report = RedriveReport {
            entries: vec![redrive::RedriveEntry {
                message_id: "m-1".to_owned(),
                event_id: Some("e-1".to_owned()),
                kind: "handler-failure",
                layer: FailureLayer::Function,
                outcome: RedriveOutcome::WouldRedrive {
                    to: "function f".to_owned(),
                },
            }],
        };
        let table = report_table(&report).into_string();
        assert!(table.contains("class=\"would-redrive\" data-message-id=\"m-1\""));
        assert!(table.contains("would go to function f"));
    }
}
