//! For the pages' tests: a studio over the workspace's own application and a stack whose
//! endpoint answers nothing (so pages that only read the model work, and calls to AWS fail
//! fast), and requests through the whole router (token guard included).

use std::collections::BTreeMap;
use std::path::PathBuf;

use axum::body::Body;
use axum::http::{Request, header};
use eventrail_contract::declaration::logical_id;
use eventrail_contract::names::FunctionOutputs;
use eventrail_model::System;
use eventrail_observe::{Stack, StackOutputs};
use tower::ServiceExt as _;

use crate::state::AppState;
use crate::token::Token;
use crate::{Confirm, Options, Personal, WriteRequest, Writes};

/// The test token.
pub(crate) const TOKEN: &str = "0123456789abcdef";
/// The test studio's origin.
pub(crate) const ORIGIN: &str = "http://127.0.0.1:4999";
/// Where the fake stack's AWS is: a port nothing listens on.
const NOWHERE: &str = "http://127.0.0.1:9";

/// The fake stack's outputs: every function's name and failure queues, the bus.
fn outputs(system: &System) -> StackOutputs {
    let mut map = BTreeMap::new();
    map.insert("EventBusName".to_owned(), "test-bus".to_owned());
    for f in &system.app.functions {
        let id = logical_id(&f.name);
        let names = FunctionOutputs { logical_id: &id };
        map.insert(names.function_name(), format!("test-{}", f.name));
        map.insert(
            names.failure_queue_url(),
            format!("{NOWHERE}/000000000000/{id}FailureQueue"),
        );
        map.insert(
            names.delivery_dlq_url(),
            format!("{NOWHERE}/000000000000/{id}DeliveryDlq"),
        );
    }
    StackOutputs::from_map(map)
}

/// A studio over the workspace's application; `writes` as given (`ReadOnly` is prod).
pub(crate) async fn state(writes: Writes) -> AppState {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let system = System::load(&root).expect("the workspace's application loads");
    let outputs = outputs(&system)
        .with_project(&system.app.project)
        .expect("the project's declarations");
    let stack = Stack::connect(NOWHERE, outputs).await;
    let env = match writes {
        Writes::Allowed => "local",
        Writes::ReadOnly => "prod",
    };
    let options = Options {
        env: env.to_owned(),
        stack_name: "test-stack".to_owned(),
        port: 0,
        keep: 1000,
        writes: WriteRequest::Default,
        personal: Personal::Masked,
        confirm: Confirm::Yes,
        preload: None,
    };
    let state = AppState::new(
        options,
        stack,
        system,
        Token::fixed(TOKEN),
        ORIGIN.to_owned(),
    );
    assert_eq!(
        state.writes, writes,
        "the environment gives the writes asked"
    );
    state
}

fn with_token(path: &str) -> String {
    let join = if path.contains('?') { '&' } else { '?' };
    format!("{path}{join}token={TOKEN}")
}

async fn send(state: &AppState, request: Request<Body>) -> (u16, String) {
    let response = crate::server::router(state.clone())
        .oneshot(request)
        .await
        .expect("the router answers");
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("a body");
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// `GET path` with the token.
pub(crate) async fn get(state: &AppState, path: &str) -> (u16, String) {
    let request = Request::get(with_token(path))
        .body(Body::empty())
        .expect("a request");
    send(state, request).await
}

/// `POST path` of a form (`a=1&b=2`), with the token and the studio's own origin.
pub(crate) async fn post(state: &AppState, path: &str, form: &str) -> (u16, String) {
    let request = Request::post(with_token(path))
        .header(header::ORIGIN, ORIGIN)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_owned()))
        .expect("a request");
    send(state, request).await
}

/// `text` form-encoded (for a form field's value).
pub(crate) fn form_value(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b' ' => out.push('+'),
            b if b.is_ascii_alphanumeric() || b"-._~".contains(&b) => out.push(char::from(b)),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
