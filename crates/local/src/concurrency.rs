//! Each function's concurrent invocations on the local stack, as the executor plugin counts
//! them where it runs the functions' processes (`GET /_eventrail/concurrency`, served by the
//! ready hook `infra/localstack-init/ready.d/eventrail_concurrency.py`): how many run now and
//! the most that ran at once since the last reset. Tests and the load run read a
//! queue-buffered consumer's peak here to check its `max-concurrency` cap.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Where LocalStack's gateway serves the figures (`GET`) and resets them (`DELETE`).
pub const CONCURRENCY_PATH: &str = "/_eventrail/concurrency";

/// One function's figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Concurrency {
    /// The most invocations that ran at once since the last reset.
    pub peak: u32,
    /// The invocations running now.
    pub in_flight: u32,
    /// The invocations started since the last reset.
    pub invocations: u64,
}

/// The figures of every function that ran (or the ones a prefix selects), by function name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConcurrencyReport {
    pub functions: BTreeMap<String, Concurrency>,
}

impl ConcurrencyReport {
    /// The figures of the function named `name`; `None` when it has not run.
    pub fn function(&self, name: &str) -> Option<Concurrency> {
        self.functions.get(name).copied()
    }
}

/// How a request treats the figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Request {
    Read,
    /// Starts a new measurement; answers the figures as they were.
    Reset,
}

/// The figures of the functions whose names start with `prefix` (`""`: all).
pub fn concurrency(endpoint: &str, prefix: &str) -> Result<ConcurrencyReport> {
    call(endpoint, prefix, Request::Read)
}

/// Starts a new measurement for the functions whose names start with `prefix`: each peak
/// becomes what runs now, each invocation count 0. Returns the figures before the reset.
pub fn reset_concurrency(endpoint: &str, prefix: &str) -> Result<ConcurrencyReport> {
    call(endpoint, prefix, Request::Reset)
}

fn query_value(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn call(endpoint: &str, prefix: &str, request: Request) -> Result<ConcurrencyReport> {
    let base = endpoint.trim_end_matches('/');
    if !base.starts_with("http://") {
        return Err(Error::Config(format!(
            "LocalStack endpoint {endpoint:?} must start with http:// (e.g. http://127.0.0.1:4566)"
        )));
    }
    let url = format!("{base}{CONCURRENCY_PATH}?prefix={}", query_value(prefix));
    let method = match request {
        Request::Read => "GET",
        Request::Reset => "DELETE",
    };
    let described = format!("{method} {url}");
    let failed = |source: ureq::Error| Error::Http {
        request: described.clone(),
        source: Box::new(source),
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(2)))
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = match request {
        Request::Read => agent.get(&url).header("Accept", "application/json").call(),
        Request::Reset => agent
            .delete(&url)
            .header("Accept", "application/json")
            .call(),
    }
    .map_err(failed)?;
    let status = response.status();
    let body = response.body_mut().read_to_string().map_err(failed)?;
    if status == 404 {
        return Err(Error::Config(format!(
            "{described}: not found: this LocalStack has no eventrail concurrency hook (started by an \
             older eventrail, or not by eventrail at all); restart it with `eventrail local down` and \
             `eventrail local up`"
        )));
    }
    if status != 200 {
        return Err(Error::Config(format!(
            "{described}: HTTP status {status}: {body}"
        )));
    }
    parse(&body, &described)
}

fn parse(body: &str, described: &str) -> Result<ConcurrencyReport> {
    serde_json::from_str(body).map_err(|source| Error::Json {
        what: format!("the concurrency report {described} answered"),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// Answers one request on a free loopback port with `status` and `body`; returns the
    /// endpoint and the request line it received.
    fn serve_once(
        status: &'static str,
        body: &'static str,
    ) -> (String, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0u8; 2048];
            let read = stream.read(&mut request).unwrap();
            let text = String::from_utf8_lossy(&request[..read]).into_owned();
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(response.as_bytes()).unwrap();
            text.lines().next().unwrap_or_default().to_owned()
        });
        (format!("http://127.0.0.1:{port}"), handle)
    }

    #[test]
    fn the_figures_are_read_per_function() {
        let (endpoint, served) = serve_once(
            "200 OK",
            r#"{"functions": {"app-mailer": {"peak": 2, "in_flight": 0, "invocations": 20}}}"#,
        );
        let report = concurrency(&endpoint, "app-").unwrap();
        assert_eq!(
            report.function("app-mailer"),
            Some(Concurrency {
                peak: 2,
                in_flight: 0,
                invocations: 20
            })
        );
        assert_eq!(report.function("app-planner"), None);
        assert_eq!(
            served.join().unwrap(),
            "GET /_eventrail/concurrency?prefix=app- HTTP/1.1"
        );
    }

    #[test]
    fn a_reset_is_a_delete_with_the_prefix_encoded() {
        let (endpoint, served) = serve_once("200 OK", r#"{"functions": {}}"#);
        let report = reset_concurrency(&endpoint, "app mailer").unwrap();
        assert!(report.functions.is_empty());
        assert_eq!(
            served.join().unwrap(),
            "DELETE /_eventrail/concurrency?prefix=app%20mailer HTTP/1.1"
        );
    }

    #[test]
    fn a_localstack_without_the_hook_is_named() {
        let (endpoint, _served) = serve_once("404 Not Found", "{}");
        let error = concurrency(&endpoint, "").unwrap_err().to_string();
        assert!(error.contains("no eventrail concurrency hook"), "{error}");
    }

    #[test]
    fn a_malformed_answer_is_an_error_not_zero() {
        let (endpoint, _served) = serve_once("200 OK", r#"{"functions": {"f": {"peak": "two"}}}"#);
        assert!(concurrency(&endpoint, "").is_err());
    }

    #[test]
    fn an_endpoint_must_be_plain_http() {
        assert!(concurrency("https://example.com", "").is_err());
    }
}
