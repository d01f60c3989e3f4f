//! Starts the pinned LocalStack (installing it on first use), runs a function through the
//! executor plugin, stops LocalStack and checks that no process is left behind.

use std::io::Write;
use std::time::{Duration, Instant};

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, Runtime, State};
use eventrail_local::localstack::{self, LocalStack, LocalStackOptions};
use eventrail_local::{Installer, paths};

/// A Python bootstrap that answers every invocation with its own pid.
const BOOTSTRAP: &str = r#"#!/usr/bin/env python3
import json, os, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
while True:
    with urllib.request.urlopen(api + "next") as r:
        request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
    body = json.dumps({"pid": os.getpid()}).encode()
    urllib.request.urlopen(urllib.request.Request(api + request_id + "/response", data=body, method="POST")).read()
"#;

fn function_zip() -> Vec<u8> {
    let mut buffer = std::io::Cursor::new(Vec::new());
    let mut archive = zip::ZipWriter::new(&mut buffer);
    let options = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
    archive.start_file("bootstrap", options).unwrap();
    archive.write_all(BOOTSTRAP.as_bytes()).unwrap();
    archive.finish().unwrap();
    buffer.into_inner()
}

#[test]
#[ignore = "starts LocalStack: cargo xtask test (left out by --offline)"]
fn starts_runs_a_function_and_stops_without_leftovers() {
    let root = paths::repo_root().unwrap();
    let python = Installer::new(&root).ensure_localstack().unwrap();
    let options = LocalStackOptions {
        services: ["lambda", "sts", "iam", "logs"].map(String::from).to_vec(),
        ..LocalStackOptions::default()
    };
    let started = Instant::now();
    let stack = LocalStack::start(&root, &python, &options).unwrap();
    eprintln!("LocalStack healthy after {:?}", started.elapsed());
    assert!(stack.is_managed());
    let pid = stack.pid().unwrap();
    let endpoint = stack.endpoint().to_owned();
    assert!(localstack::health(&endpoint).is_ok());

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let bootstrap_pid = runtime.block_on(async {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .endpoint_url(&endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_lambda::config::Credentials::for_tests())
            .load()
            .await;
        let client = aws_sdk_lambda::Client::new(&config);
        client
            .create_function()
            .function_name("pid")
            .runtime(Runtime::Providedal2023)
            .handler("bootstrap")
            .role("arn:aws:iam::000000000000:role/r")
            .code(
                FunctionCode::builder()
                    .zip_file(Blob::new(function_zip()))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let state = client
                .get_function_configuration()
                .function_name("pid")
                .send()
                .await
                .unwrap()
                .state;
            if state == Some(State::Active) || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let output = client.invoke().function_name("pid").send().await.unwrap();
        assert_eq!(output.function_error, None);
        let payload: serde_json::Value =
            serde_json::from_slice(output.payload.unwrap().as_ref()).unwrap();
        payload["pid"].as_u64().unwrap() as u32
    });
    // The function runs as a process under LocalStack.
    assert!(localstack::descendants(pid).contains(&bootstrap_pid));
    let family = localstack::descendants(pid);

    let stopping = Instant::now();
    stack.stop().unwrap();
    eprintln!("LocalStack stopped after {:?}", stopping.elapsed());
    assert!(!localstack::process_alive(pid), "LocalStack still running");
    let left: Vec<u32> = family
        .into_iter()
        .filter(|p| localstack::process_alive(*p))
        .collect();
    assert!(left.is_empty(), "processes left behind: {left:?}");
    assert!(localstack::health(&endpoint).is_err());
}

#[test]
fn an_external_endpoint_that_is_down_is_reported() {
    let port = localstack::free_port().unwrap();
    let error = LocalStack::external(
        &format!("http://127.0.0.1:{port}"),
        Duration::from_millis(300),
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("does not answer"), "{error}");
}
