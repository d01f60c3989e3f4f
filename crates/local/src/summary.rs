//! The screen a deploy ends with: where the stack is, its REST API's local URL, its functions,
//! its queues, and what failed; and the URL LocalStack serves a REST API route on.

use std::collections::BTreeMap;
use std::fmt;

/// Output keys the summary reads (the names eventrail's generator gives them: see
/// `eventrail_contract::names`).
const REST_API_ID_OUTPUT: &str = "RestApiId";
const REST_API_STAGE_OUTPUT: &str = "RestApiStage";
const EVENT_BUS_NAME_OUTPUT: &str = "EventBusName";
const FUNCTION_NAME_SUFFIX: &str = "FunctionName";
const QUEUE_URL_SUFFIX: &str = "QueueUrl";

/// Width the lists of names wrap at.
const WIDTH: usize = 100;

/// The URL LocalStack serves the REST API `id`'s stage `stage` on, for `path` (`/tasks`, or
/// empty for the API's root): `<endpoint>/restapis/<id>/<stage>/_user_request_<path>`.
pub fn local_rest_api_url(endpoint: &str, id: &str, stage: &str, path: &str) -> String {
    format!(
        "{}/restapis/{id}/{stage}/_user_request_{path}",
        endpoint.trim().trim_end_matches('/')
    )
}

/// Where the stack runs, for the lines that differ: its endpoint and its REST API's URL.
#[derive(Debug, Clone, Copy)]
pub enum Place<'a> {
    /// LocalStack at this endpoint.
    LocalStack(&'a str),
    /// AWS, in this region.
    Aws { region: &'a str },
}

/// What a finished deploy shows.
#[derive(Debug, Clone)]
pub struct Summary<'a> {
    pub place: Place<'a>,
    pub stack_name: &'a str,
    /// The stack's final status.
    pub status: &'a str,
    /// False when the stack was already up to date.
    pub changed: bool,
    pub outputs: &'a BTreeMap<String, String>,
}

impl Summary<'_> {
    /// The REST API's URL (on LocalStack, or API Gateway's on AWS), when the stack has one.
    pub fn rest_api_url(&self) -> Option<String> {
        let id = self.outputs.get(REST_API_ID_OUTPUT)?;
        let stage = self.outputs.get(REST_API_STAGE_OUTPUT)?;
        Some(match self.place {
            Place::LocalStack(endpoint) => local_rest_api_url(endpoint, id, stage, "/"),
            Place::Aws { region } => {
                format!("https://{id}.execute-api.{region}.amazonaws.com/{stage}/")
            }
        })
    }

    /// The functions, by logical id.
    pub fn functions(&self) -> Vec<&str> {
        self.outputs
            .keys()
            .filter_map(|key| key.strip_suffix(FUNCTION_NAME_SUFFIX))
            .filter(|id| !id.is_empty())
            .collect()
    }

    /// The queues, by name (the last part of each queue URL output).
    pub fn queues(&self) -> Vec<&str> {
        self.outputs
            .iter()
            .filter(|(key, _)| key.ends_with(QUEUE_URL_SUFFIX))
            .map(|(_, url)| url.rsplit('/').next().unwrap_or(url))
            .collect()
    }
}

/// `name` without `<stack>-` before it and CloudFormation's `-<8 hex digits>` after it.
fn short_queue_name<'n>(name: &'n str, stack: &str) -> &'n str {
    let rest = name
        .strip_prefix(stack)
        .and_then(|r| r.strip_prefix('-'))
        .unwrap_or(name);
    match rest.rsplit_once('-') {
        Some((head, tail))
            if tail.len() == 8
                && tail.chars().all(|c| c.is_ascii_hexdigit())
                && !head.is_empty() =>
        {
            head
        }
        _ => rest,
    }
}

/// `label` then `names` joined with ", ", wrapped at [`WIDTH`] under the first name.
fn write_list(f: &mut fmt::Formatter<'_>, label: &str, names: &[&str]) -> fmt::Result {
    let mut line = format!("  {:<14}", format!("{label} ({})", names.len()));
    let mut first = true;
    for name in names {
        let piece = if first {
            (*name).to_owned()
        } else {
            format!(", {name}")
        };
        if !first && line.len() + piece.len() > WIDTH {
            writeln!(f, "{},", line)?;
            line = format!("{:16}{name}", "");
        } else {
            line.push_str(&piece);
        }
        first = false;
    }
    if names.is_empty() {
        line.push_str("none");
    }
    writeln!(f, "{line}")
}

impl fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "stack {} is {}{}",
            self.stack_name,
            self.status,
            if self.changed {
                ""
            } else {
                " (already up to date)"
            }
        )?;
        match self.place {
            Place::LocalStack(endpoint) => writeln!(f, "  {:<14}{endpoint}", "endpoint")?,
            Place::Aws { region } => writeln!(f, "  {:<14}AWS {region}", "region")?,
        }
        if let Some(url) = self.rest_api_url() {
            writeln!(f, "  {:<14}{url}", "REST API")?;
        }
        if let Some(bus) = self.outputs.get(EVENT_BUS_NAME_OUTPUT) {
            writeln!(f, "  {:<14}{bus}", "bus")?;
        }
        write_list(f, "functions", &self.functions())?;
        // Each queue by the part of its name that says what it is for: the stack's name before
        // it and CloudFormation's random suffix after it are the same noise on every line.
        let short: Vec<&str> = self
            .queues()
            .into_iter()
            .map(|name| short_queue_name(name, self.stack_name))
            .collect();
        write_list(f, "queues", &short)?;
        writeln!(f, "  {:<14}nothing", "failed")?;
        match self.place {
            Place::LocalStack(_) => {
                write!(f, "every output: `eventrail local status` (or `--json`)")
            }
            Place::Aws { .. } => write!(
                f,
                "every output: `aws cloudformation describe-stacks --stack-name {}`",
                self.stack_name
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outputs() -> BTreeMap<String, String> {
        let mut outputs = BTreeMap::from([
            ("RestApiId".to_owned(), "abc123".to_owned()),
            ("RestApiStage".to_owned(), "local".to_owned()),
            ("EventBusName".to_owned(), "eventrail-local".to_owned()),
            (
                "EventBusArn".to_owned(),
                "arn:aws:events:us-east-1:000000000000:event-bus/x".to_owned(),
            ),
        ]);
        for function in ["Planner", "Nightly", "Intake"] {
            outputs.insert(
                format!("{function}FunctionName"),
                format!("stack-{function}-X1"),
            );
            outputs.insert(
                format!("{function}FailureQueueUrl"),
                format!("http://127.0.0.1:4566/000000000000/stack-{function}-failures"),
            );
        }
        outputs
    }

    #[test]
    fn queue_names_lose_the_stack_before_them_and_the_random_suffix_after() {
        assert_eq!(
            short_queue_name("shop-OrdersFailureQueue-c26cf0e6", "shop"),
            "OrdersFailureQueue"
        );
        assert_eq!(short_queue_name("shop-outbox.fifo", "shop"), "outbox.fifo");
        assert_eq!(short_queue_name("other-q-1", "shop"), "other-q-1");
    }

    #[test]
    fn the_url_goes_through_the_user_request_path() {
        assert_eq!(
            local_rest_api_url("http://127.0.0.1:4566/", "abc123", "local", "/parcels"),
            "http://127.0.0.1:4566/restapis/abc123/local/_user_request_/parcels"
        );
    }

    #[test]
    fn the_summary_names_the_endpoint_api_functions_queues_and_no_failure() {
        let outputs = outputs();
        let summary = Summary {
            place: Place::LocalStack("http://127.0.0.1:4566"),
            stack_name: "eventrail-local",
            status: "CREATE_COMPLETE",
            changed: true,
            outputs: &outputs,
        };
        let text = summary.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "stack eventrail-local is CREATE_COMPLETE");
        assert_eq!(lines[1], "  endpoint      http://127.0.0.1:4566");
        assert_eq!(
            lines[2],
            "  REST API      http://127.0.0.1:4566/restapis/abc123/local/_user_request_/"
        );
        assert_eq!(lines[3], "  bus           eventrail-local");
        assert_eq!(lines[4], "  functions (3) Intake, Nightly, Planner");
        assert!(
            lines[5].starts_with("  queues (3)    stack-Intake-failures, stack-Nightly-failures"),
            "{text}"
        );
        assert_eq!(lines[6], "  failed        nothing");
        assert!(!text.contains('\u{1b}'), "{text}");
    }

    #[test]
    fn without_a_rest_api_there_is_no_url_and_long_lists_wrap() {
        let mut outputs = BTreeMap::new();
        for i in 0..30 {
            outputs.insert(
                format!("Function{i:02}SourceQueueUrl"),
                format!("http://localhost/000000000000/a-long-queue-name-{i:02}"),
            );
        }
        let summary = Summary {
            place: Place::LocalStack("http://127.0.0.1:4566"),
            stack_name: "s",
            status: "UPDATE_COMPLETE",
            changed: false,
            outputs: &outputs,
        };
        assert_eq!(summary.rest_api_url(), None);
        let text = summary.to_string();
        assert!(
            text.starts_with("stack s is UPDATE_COMPLETE (already up to date)\n"),
            "{text}"
        );
        assert!(!text.contains("REST API"), "{text}");
        assert!(text.contains("  functions (0) none"), "{text}");
        assert!(text.lines().all(|line| line.len() <= WIDTH + 1), "{text}");
        assert!(text.contains("a-long-queue-name-29"), "{text}");
        assert!(text.lines().count() < 20, "{text}");
    }
}
