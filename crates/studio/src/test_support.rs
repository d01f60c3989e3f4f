//! For the unit tests: a studio over the workspace's own application and a stack whose
//! endpoint answers nothing, events made up on the spot, and requests through the whole
//! router (the token guard included) with `tower::ServiceExt::oneshot`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use axum::body::Body;
use axum::http::{HeaderMap, Request};
use eventrail_model::System;
use eventrail_observe::{ObservedEvent, Stack, StackOutputs};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::state::AppState;
use crate::token::Token;
use crate::{Confirm, Options, Personal, WriteRequest};

/// The test token.
pub(crate) const TOKEN: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
/// The test studio's origin.
pub(crate) const STUDIO_ORIGIN: &str = "http://127.0.0.1:4998";

/// A studio over the workspace's application in environment `env`.
pub(crate) async fn state(env: &str, personal: Personal) -> AppState {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let system = System::load(&root).expect("the workspace's application loads");
    let mut outputs = BTreeMap::new();
    outputs.insert("EventBusName".to_owned(), "test-bus".to_owned());
    let stack = Stack::connect("http://127.0.0.1:9", StackOutputs::from_map(outputs)).await;
    let options = Options {
        env: env.to_owned(),
        stack_name: "test-stack".to_owned(),
        port: 0,
        keep: 1000,
        writes: WriteRequest::Default,
        personal,
        confirm: Confirm::Yes,
        preload: None,
    };
    AppState::new(
        options,
        stack,
        system,
        Token::fixed(TOKEN),
        STUDIO_ORIGIN.to_owned(),
    )
}

/// An event of `detail_type` in flow `correlation`, caused by `cause`, with `data`.
pub(crate) fn event(
    id: &str,
    detail_type: &str,
    correlation: &str,
    cause: Option<&str>,
    data: Value,
) -> ObservedEvent {
    ObservedEvent::from_value(json!({
        "version": "0", "id": id, "source": "app.maker", "detail-type": detail_type,
        "time": "2026-12-07T23:10:04Z", "account": "000000000000", "region": "us-east-1",
        "resources": [],
        "detail": {"metadata": {"schema_version": 1, "correlation_id": correlation,
                                "causation_id": cause, "idempotency_key": id},
                   "data": data}
    }))
    .expect("a made-up event is an event")
}

/// What the router answered: status, headers, body.
pub(crate) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

/// Sends `request` through the whole router.
pub(crate) async fn send(state: &AppState, request: Request<Body>) -> Answer {
    let response = crate::server::router(state.clone())
        .oneshot(request)
        .await
        .expect("the router answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("a body");
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// `GET path` with the token in the query.
pub(crate) async fn get(state: &AppState, path: &str) -> Answer {
    let join = if path.contains('?') { '&' } else { '?' };
    let request = Request::get(format!("{path}{join}token={TOKEN}"))
        .body(Body::empty())
        .expect("a request");
    send(state, request).await
}
