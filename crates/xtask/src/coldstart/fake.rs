//! The two local servers a function under test talks to: a fake Lambda Runtime API (one event,
//! then silence, as a frozen sandbox) and a fake AWS endpoint that answers the calls the
//! functions make on a successful first event (EventBridge, SQS, DynamoDB, S3). Each server
//! reports what it saw, with the instant it saw it, on a channel the run reads.

use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant, SystemTime},
};

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{
    Method, Request, Response, StatusCode, body::Incoming, server::conn::http1, service::service_fn,
};
use hyper_util::rt::TokioIo;
use md5::{Digest, Md5};
use serde_json::{Value, json};
use tokio::{net::TcpListener, sync::mpsc::UnboundedSender};

/// What a fake server saw, in the order it saw it.
#[derive(Debug)]
pub enum Mark {
    /// The first `GET /runtime/invocation/next` arrived.
    NextRequested(Instant),
    /// The event was handed to the connection as the answer to that request.
    NextAnswered(Instant),
    /// `POST /runtime/invocation/{id}/response` arrived (its head; the body follows).
    Response(Instant),
    /// The function reported an invocation error.
    InvocationError(String),
    /// The function reported an init error.
    InitError(String),
    /// A call to the fake AWS endpoint: the operation and how long the endpoint took from the
    /// request's head to its answer.
    AwsCall { operation: String, took: Duration },
    /// A call the fake endpoint does not know how to answer.
    UnknownCall(String),
}

/// Serves `service` on a fresh port of 127.0.0.1 until the runtime that spawned it stops.
async fn serve<S, F>(service: S) -> Result<SocketAddr>
where
    S: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding a local port for a fake server")?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let service = service.clone();
            tokio::spawn(async move {
                let handler = service_fn(move |request| {
                    let answer = service(request);
                    async move { Ok::<_, Infallible>(answer.await) }
                });
                // A connection ends when the function is killed; nothing to report then.
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), handler)
                    .await;
            });
        }
    });
    Ok(address)
}

fn answer(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response.headers_mut().insert("content-type", value);
    }
    response
}

async fn body_text(request: Request<Incoming>) -> String {
    match request.into_body().collect().await {
        Ok(collected) => String::from_utf8_lossy(&collected.to_bytes()).into_owned(),
        Err(error) => format!("(body could not be read: {error})"),
    }
}

/// The invocation the fake Runtime API hands out.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub function_arn: String,
    pub payload: Bytes,
}

/// Starts the fake Runtime API: the first `GET /next` gets `invocation`, later ones wait
/// forever (the sandbox is frozen between events; the run kills the process instead).
pub async fn runtime_api(
    invocation: Invocation,
    marks: UnboundedSender<Mark>,
) -> Result<SocketAddr> {
    let handed_out = Arc::new(AtomicBool::new(false));
    let invocation = Arc::new(invocation);
    serve(move |request: Request<Incoming>| {
        let handed_out = Arc::clone(&handed_out);
        let invocation = Arc::clone(&invocation);
        let marks = marks.clone();
        async move {
            let arrived = Instant::now();
            let path = request.uri().path().to_owned();
            let method = request.method().clone();
            let base = "/2018-06-01/runtime/";
            let Some(rest) = path.strip_prefix(base) else {
                return answer(
                    StatusCode::NOT_FOUND,
                    "text/plain",
                    "not a Runtime API path",
                );
            };
            match (method, rest) {
                (Method::GET, "invocation/next") => {
                    if handed_out.swap(true, Ordering::SeqCst) {
                        std::future::pending::<()>().await;
                    }
                    let _ = marks.send(Mark::NextRequested(arrived));
                    let response = next_response(&invocation);
                    let _ = marks.send(Mark::NextAnswered(Instant::now()));
                    response
                }
                (Method::POST, "init/error") => {
                    let _ = marks.send(Mark::InitError(body_text(request).await));
                    answer(
                        StatusCode::ACCEPTED,
                        "application/json",
                        r#"{"status":"OK"}"#,
                    )
                }
                (Method::POST, rest) if rest.starts_with("invocation/") => {
                    if rest.ends_with("/response") {
                        let _ = marks.send(Mark::Response(arrived));
                        let _ = body_text(request).await;
                    } else {
                        let _ = marks.send(Mark::InvocationError(body_text(request).await));
                    }
                    answer(
                        StatusCode::ACCEPTED,
                        "application/json",
                        r#"{"status":"OK"}"#,
                    )
                }
                _ => answer(
                    StatusCode::NOT_FOUND,
                    "text/plain",
                    "not a Runtime API path",
                ),
            }
        }
    })
    .await
}

/// The answer to `GET /next`: the event and the headers Lambda sends with it.
fn next_response(invocation: &Invocation) -> Response<Full<Bytes>> {
    let deadline = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        + Duration::from_secs(30);
    let mut response = answer(
        StatusCode::OK,
        "application/json",
        invocation.payload.clone(),
    );
    let headers = [
        (
            "lambda-runtime-aws-request-id",
            invocation.request_id.clone(),
        ),
        (
            "lambda-runtime-deadline-ms",
            deadline.as_millis().to_string(),
        ),
        (
            "lambda-runtime-invoked-function-arn",
            invocation.function_arn.clone(),
        ),
        (
            "lambda-runtime-trace-id",
            "Root=1-6747a000-000000000000000000000001;Parent=0000000000000001;Sampled=0".to_owned(),
        ),
    ];
    for (name, value) in headers {
        if let Ok(value) = value.parse() {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// Starts the fake AWS endpoint (`AWS_ENDPOINT_URL`).
pub async fn aws_endpoint(marks: UnboundedSender<Mark>) -> Result<SocketAddr> {
    let counter = Arc::new(AtomicUsize::new(0));
    serve(move |request: Request<Incoming>| {
        let marks = marks.clone();
        let counter = Arc::clone(&counter);
        async move {
            let arrived = Instant::now();
            let id = counter.fetch_add(1, Ordering::SeqCst);
            let target = request
                .headers()
                .get("x-amz-target")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let method = request.method().clone();
            let path = request.uri().path().to_owned();
            let body = body_text(request).await;
            let (operation, response) = match target.as_deref() {
                Some(target) => (
                    target.to_owned(),
                    json_answer(target, &body, id).map(|(content_type, value)| {
                        answer(StatusCode::OK, content_type, value.to_string())
                    }),
                ),
                // S3's REST protocol: a PUT of an object (a dead letter's event).
                None if method == Method::PUT => (format!("S3 PUT {path}"), s3_put(id)),
                None => (format!("{method} {path}"), None),
            };
            match response {
                Some(response) => {
                    let _ = marks.send(Mark::AwsCall {
                        operation,
                        took: arrived.elapsed(),
                    });
                    response
                }
                None => {
                    let _ = marks.send(Mark::UnknownCall(operation.clone()));
                    answer(
                        StatusCode::BAD_REQUEST,
                        "application/x-amz-json-1.1",
                        json!({
                            "__type": "UnknownOperationException",
                            "message": format!("the cold-start fake endpoint does not answer {operation}"),
                        })
                        .to_string(),
                    )
                }
            }
        }
    })
    .await
}

/// The answer to an `awsJson` call (its content type and body) by its `X-Amz-Target`; `None`
/// for one the fake does not know.
fn json_answer(target: &str, body: &str, id: usize) -> Option<(&'static str, Value)> {
    let request: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let (content_type, answer_body) = match target {
        "AWSEvents.PutEvents" => {
            let count = request["Entries"].as_array().map_or(0, Vec::len);
            let entries: Vec<Value> = (0..count)
                .map(|i| json!({ "EventId": format!("coldstart-{id}-{i}") }))
                .collect();
            (
                "application/x-amz-json-1.1",
                json!({ "FailedEntryCount": 0, "Entries": entries }),
            )
        }
        "AmazonSQS.SendMessage" => {
            let message = request["MessageBody"].as_str().unwrap_or_default();
            (
                "application/x-amz-json-1.0",
                json!({
                    "MessageId": format!("coldstart-{id}"),
                    "MD5OfMessageBody": hex(&Md5::digest(message.as_bytes())),
                    "SequenceNumber": format!("{:020}", id + 1),
                }),
            )
        }
        // The idempotency store: the conditional write succeeds (no record yet), the rest
        // answer as DynamoDB does for an item that is not there.
        "DynamoDB_20120810.PutItem"
        | "DynamoDB_20120810.UpdateItem"
        | "DynamoDB_20120810.DeleteItem"
        | "DynamoDB_20120810.GetItem" => ("application/x-amz-json-1.0", json!({})),
        _ => return None,
    };
    Some((content_type, answer_body))
}

fn s3_put(id: usize) -> Option<Response<Full<Bytes>>> {
    let mut response = answer(StatusCode::OK, "application/xml", "");
    if let Ok(value) = format!("\"coldstart-{id}\"").parse() {
        response.headers_mut().insert("etag", value);
    }
    Some(response)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqs_answer_carries_the_md5_of_the_body() {
        let (_, answer) = json_answer(
            "AmazonSQS.SendMessage",
            r#"{"QueueUrl":"q","MessageBody":"hello"}"#,
            0,
        )
        .unwrap();
        // MD5("hello"), which the SDK computes to check the answer.
        assert_eq!(
            answer["MD5OfMessageBody"],
            "5d41402abc4b2a76b9719d911017c592"
        );
    }

    #[test]
    fn put_events_answers_one_entry_per_entry() {
        let (content_type, answer) = json_answer(
            "AWSEvents.PutEvents",
            r#"{"Entries":[{"Source":"a"},{"Source":"b"}]}"#,
            3,
        )
        .unwrap();
        assert_eq!(content_type, "application/x-amz-json-1.1");
        assert_eq!(answer["FailedEntryCount"], 0);
        assert_eq!(answer["Entries"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn unknown_operations_get_no_answer() {
        assert!(json_answer("AWSEvents.ListRules", "{}", 0).is_none());
    }
}
