//! LocalStack's HTTP gateway, as the supervisor and the tests ask it: health, the init hooks'
//! state, eventrail's pending-invocations hook; and a free loopback port to serve it on.
//! Plain HTTP through `ureq` only: LocalStack listens on loopback.

use std::net::TcpListener;
use std::time::Duration;

use crate::error::{Error, IoContext, Result};

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .io_context(|| "finding a free port on 127.0.0.1".into())?;
    let port = listener
        .local_addr()
        .io_context(|| "finding a free port on 127.0.0.1".into())?
        .port();
    Ok(port)
}

/// GET `<endpoint>/_localstack/health` and return the parsed body (through `ureq`, plain
/// HTTP only: LocalStack listens on loopback).
pub fn health(endpoint: &str) -> Result<serde_json::Value> {
    get_json(endpoint, "/_localstack/health")
}

/// GET `<endpoint><path>` and parse the body as JSON.
fn get_json(endpoint: &str, path: &str) -> Result<serde_json::Value> {
    let base = endpoint.trim_end_matches('/');
    if !base.starts_with("http://") {
        return Err(Error::Config(format!(
            "LocalStack endpoint {endpoint:?} must start with http:// (e.g. http://127.0.0.1:4566)"
        )));
    }
    let url = format!("{base}{path}");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(2)))
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(false)
        .build()
        .into();
    let request = format!("GET {url}");
    let failed = |source: ureq::Error| Error::Http {
        request: request.clone(),
        source: Box::new(source),
    };
    let mut response = agent
        .get(&url)
        .header("Accept", "application/json")
        .call()
        .map_err(failed)?;
    let status = response.status();
    if status != 200 {
        return Err(Error::Config(format!("{request}: HTTP status {status}")));
    }
    let body = response.body_mut().read_to_string().map_err(failed)?;
    serde_json::from_str(&body).map_err(|source| Error::Json {
        what: format!("the body of {request}"),
        source,
    })
}

/// How many asynchronous invocations LocalStack still holds (queued, running, or delayed for
/// a retry) for the functions whose names start with `prefix`, from eventrail's
/// `/_eventrail/lambda/pending` hook: 0 means nothing more can run.
pub fn pending_invocations(endpoint: &str, prefix: &str) -> Result<u64> {
    let encoded: String = prefix
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    let body = get_json(
        endpoint,
        &format!("/_eventrail/lambda/pending?prefix={encoded}"),
    )?;
    body["pending"].as_u64().ok_or_else(|| {
        Error::Config(format!(
            "{endpoint}/_eventrail/lambda/pending answered no count: {body}"
        ))
    })
}

/// Where LocalStack's ready-stage init hooks stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitHooks {
    /// Some have not run yet.
    Running,
    /// All ran without error.
    Done,
    /// These failed (names of the scripts).
    Failed(Vec<String>),
}

/// The state of the ready-stage init hooks, from `GET /_localstack/init/ready`. The IAM and
/// replay hooks run after LocalStack reports healthy: nothing may use it before they ran.
pub fn ready_hooks(endpoint: &str) -> Result<InitHooks> {
    Ok(parse_ready_hooks(&get_json(
        endpoint,
        "/_localstack/init/ready",
    )?))
}

fn parse_ready_hooks(body: &serde_json::Value) -> InitHooks {
    let failed: Vec<String> = body["scripts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|script| script["state"].as_str() == Some("ERROR"))
        .map(|script| script["name"].as_str().unwrap_or("?").to_owned())
        .collect();
    if !failed.is_empty() {
        return InitHooks::Failed(failed);
    }
    if body["completed"].as_bool() == Some(true) {
        InitHooks::Done
    } else {
        InitHooks::Running
    }
}

/// True when every wanted service is "available" or "running" in a health body.
pub fn services_ready(health: &serde_json::Value, wanted: &[String]) -> bool {
    let Some(services) = health.get("services") else {
        return false;
    };
    wanted.iter().all(|name| {
        matches!(
            services.get(name).and_then(|s| s.as_str()),
            Some("available" | "running")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serves one HTTP response on a free loopback port, once.
    fn serve_once(response: &'static [u8]) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            if let Ok((mut stream, _)) = listener.accept() {
                let mut request = [0u8; 1024];
                let _ = std::io::Read::read(&mut stream, &mut request);
                let _ = std::io::Write::write_all(&mut stream, response);
            }
        });
        format!("http://127.0.0.1:{port}")
    }

    #[test]
    fn ready_hooks_are_done_failed_or_still_running() {
        let done = serde_json::json!({"completed": true, "scripts": [
            {"stage": "READY", "name": "eventrail_iam.py", "state": "SUCCESSFUL"}]});
        assert_eq!(parse_ready_hooks(&done), InitHooks::Done);
        let running = serde_json::json!({"completed": false, "scripts": [
            {"stage": "READY", "name": "eventrail_iam.py", "state": "RUNNING"}]});
        assert_eq!(parse_ready_hooks(&running), InitHooks::Running);
        let failed = serde_json::json!({"completed": true, "scripts": [
            {"stage": "READY", "name": "eventrail_iam.py", "state": "ERROR"},
            {"stage": "READY", "name": "eventrail_replay_fix.py", "state": "SUCCESSFUL"}]});
        assert_eq!(
            parse_ready_hooks(&failed),
            InitHooks::Failed(vec!["eventrail_iam.py".to_owned()])
        );
    }

    #[test]
    fn health_responses_plain_and_chunked() {
        let plain = serve_once(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 30\r\nConnection: close\r\n\r\n{\"services\":{\"sqs\":\"running\"}}");
        let value = health(&plain).unwrap();
        assert!(services_ready(&value, &["sqs".into()]));
        assert!(!services_ready(&value, &["lambda".into()]));

        let chunked = serve_once(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n8\r\n{\"servic\r\n16\r\nes\":{\"sqs\":\"disabled\"}\r\n1\r\n}\r\n0\r\n\r\n");
        let value = health(&chunked).unwrap();
        assert_eq!(value["services"]["sqs"], "disabled");
        assert!(!services_ready(&value, &["sqs".into()]));

        let unavailable = serve_once(
            b"HTTP/1.1 503 Unavailable\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
        );
        let error = health(&unavailable).unwrap_err().to_string();
        assert!(error.contains("503"), "{error}");
    }

    #[test]
    fn endpoints_must_be_http() {
        let error = health("https://example").unwrap_err().to_string();
        assert!(error.contains("http://"), "{error}");
    }

    #[test]
    fn nothing_listens_means_unhealthy() {
        let port = free_port().unwrap();
        assert!(health(&format!("http://127.0.0.1:{port}")).is_err());
    }
}
