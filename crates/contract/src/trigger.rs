//! What starts a function, beside a rule on the bus: an HTTP route, a schedule or a queue
//! (producers), and how a rule's events reach a consumer (directly or through a buffer
//! queue). Declared next to the rest of the declaration:
//!
//! ```toml
//! [package.metadata.eventrail]
//! http = "POST /tasks"          # or a table: route, auth, cors, request
//! # schedule = "rate(1 day)"     # or a table: expression, timezone
//! # queue = "new"                # or the logical id of a queue of the template
//! # delivery = "queue"           # a consumer behind an SQS buffer
//! # batch-size = 10              # batching of queue triggers and buffered consumers
//! # batching-window = 0
//! # max-concurrency = 2
//! # max-receive-count = 3
//! ```
//!
//! Why REST APIs (API Gateway v1) for `http`: LocalStack's free edition serves them and not
//! HTTP APIs (v2), and the local run must exercise the same routing and auth as production.

use serde::{Deserialize, Serialize};

/// How a rule's events reach a consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Delivery {
    /// The rule invokes the function asynchronously (Lambda's own queue, retries and
    /// on-failure destination). The default.
    #[default]
    Direct,
    /// The rule sends to an SQS buffer queue the function polls (an event source mapping with
    /// batching, partial batch failures and a concurrency cap): for a consumer whose
    /// downstream cannot take a burst.
    Queue,
}

/// An HTTP method a route answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `PATCH`.
    Patch,
    /// `DELETE`.
    Delete,
}

impl HttpMethod {
    /// The method as HTTP spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "GET" => HttpMethod::Get,
            "POST" => HttpMethod::Post,
            "PUT" => HttpMethod::Put,
            "PATCH" => HttpMethod::Patch,
            "DELETE" => HttpMethod::Delete,
            _ => return None,
        })
    }
}

impl std::fmt::Display for HttpMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A route: `POST /tasks`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The method.
    pub method: HttpMethod,
    /// The path, starting with `/` (path parameters as `{id}`).
    pub path: String,
}

impl Route {
    /// Parses `METHOD /path`; the error says what is expected.
    pub fn parse(text: &str) -> Result<Self, String> {
        let expected = "write it as `METHOD /path`, e.g. `POST /tasks` (methods: GET, POST, \
                        PUT, PATCH, DELETE)";
        let mut parts = text.split_whitespace();
        let (Some(method), Some(path), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("`{text}`: {expected}"));
        };
        let Some(method) = HttpMethod::parse(method) else {
            return Err(format!("`{method}` is not a method: {expected}"));
        };
        let path_ok = path.starts_with('/')
            && path.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.' | '{' | '}' | '+')
            })
            && !path.contains("//");
        if !path_ok {
            return Err(format!(
                "`{path}` is not a path: start with `/`, use letters, digits, `-`, `_`, `.` and \
                 `{{param}}`"
            ));
        }
        Ok(Route {
            method,
            path: path.to_owned(),
        })
    }
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// Who may call an HTTP route.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HttpAuth {
    /// Anyone (the default).
    #[default]
    None,
    /// Callers that sign with SigV4 and whose IAM policy allows `execute-api:Invoke`.
    Iam,
    /// Callers with a JWT from the named issuer and audience (on a REST API: a Cognito
    /// user-pool authorizer; the issuer is the user pool's).
    Jwt {
        /// The token issuer (`https://cognito-idp.<region>.amazonaws.com/<pool id>`).
        issuer: String,
        /// Accepted audiences (app client ids).
        #[serde(default)]
        audience: Vec<String>,
    },
}

/// Cross-origin requests a route accepts from browsers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Cors {
    /// Allowed origins (`https://app.example`, or `*`).
    pub origins: Vec<String>,
    /// Allowed request headers.
    #[serde(default)]
    pub headers: Vec<String>,
    /// How long a browser may cache the preflight, in seconds.
    #[serde(default)]
    pub max_age: Option<u32>,
}

/// `[package.metadata.eventrail.http]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct HttpDeclaration {
    /// `METHOD /path`.
    pub route: String,
    /// Who may call it.
    #[serde(default)]
    pub auth: HttpAuth,
    /// Browsers' cross-origin access.
    #[serde(default)]
    pub cors: Option<Cors>,
    /// The catalog command whose schema the request body follows (graph, catalog, docs).
    #[serde(default)]
    pub request: Option<String>,
}

impl HttpDeclaration {
    /// The route, parsed.
    pub fn route(&self) -> Result<Route, String> {
        Route::parse(&self.route)
    }
}

/// `http = "POST /tasks"` or the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum HttpTrigger {
    /// The route alone.
    Route(String),
    /// The table.
    Declared(HttpDeclaration),
}

impl HttpTrigger {
    /// The table form (the route alone means no auth, no CORS).
    pub fn declaration(&self) -> HttpDeclaration {
        match self {
            HttpTrigger::Route(route) => HttpDeclaration {
                route: route.clone(),
                auth: HttpAuth::None,
                cors: None,
                request: None,
            },
            HttpTrigger::Declared(declared) => declared.clone(),
        }
    }
}

/// `[package.metadata.eventrail.schedule]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ScheduleDeclaration {
    /// `rate(1 day)` or `cron(0 3 * * ? *)`: the default; a stage may override it (the
    /// template parameter `<Function>Schedule`, set in samconfig).
    pub expression: String,
    /// The time zone of a cron expression (IANA name); UTC when absent.
    #[serde(default)]
    pub timezone: Option<String>,
}

impl ScheduleDeclaration {
    /// Checks the expression's form (`rate(N unit)` or a six-field `cron(...)`).
    pub fn check(&self) -> Result<(), String> {
        check_schedule_expression(&self.expression)
    }
}

/// `schedule = "rate(1 day)"` or the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ScheduleTrigger {
    /// The expression alone.
    Expression(String),
    /// The table.
    Declared(ScheduleDeclaration),
}

impl ScheduleTrigger {
    /// The table form.
    pub fn declaration(&self) -> ScheduleDeclaration {
        match self {
            ScheduleTrigger::Expression(expression) => ScheduleDeclaration {
                expression: expression.clone(),
                timezone: None,
            },
            ScheduleTrigger::Declared(declared) => declared.clone(),
        }
    }
}

/// `rate(N unit)` with a positive N and minute(s)/hour(s)/day(s) (singular for 1), or
/// `cron(min hour day-of-month month day-of-week year)`.
pub fn check_schedule_expression(expression: &str) -> Result<(), String> {
    if let Some(inner) = expression
        .strip_prefix("rate(")
        .and_then(|r| r.strip_suffix(')'))
    {
        let mut parts = inner.split_whitespace();
        let (Some(count), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!(
                "`{expression}`: a rate is `rate(N unit)`, e.g. `rate(1 day)`"
            ));
        };
        let count: u32 =
            count.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                format!("`{expression}`: `{count}` is not a positive whole number")
            })?;
        let unit_ok = match unit {
            "minute" | "hour" | "day" => count == 1,
            "minutes" | "hours" | "days" => count > 1,
            _ => false,
        };
        if !unit_ok {
            return Err(format!(
                "`{expression}`: the unit is minute, hour or day for 1, minutes, hours or days \
                 otherwise"
            ));
        }
        return Ok(());
    }
    if let Some(inner) = expression
        .strip_prefix("cron(")
        .and_then(|r| r.strip_suffix(')'))
    {
        let fields = inner.split_whitespace().count();
        if fields != 6 {
            return Err(format!(
                "`{expression}`: a cron expression has six fields (minutes hours day-of-month \
                 month day-of-week year), this one has {fields}"
            ));
        }
        return Ok(());
    }
    Err(format!(
        "`{expression}` is neither `rate(...)` nor `cron(...)`"
    ))
}

/// `queue = "new"` or a queue of the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueSource {
    /// A queue created with the function (`<Function>SourceQueue`).
    New,
    /// The logical id of a queue written in the template.
    Existing(String),
}

impl Serialize for QueueSource {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            QueueSource::New => serializer.serialize_str("new"),
            QueueSource::Existing(id) => serializer.serialize_str(id),
        }
    }
}

impl<'de> Deserialize<'de> for QueueSource {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(if text == "new" {
            QueueSource::New
        } else {
            QueueSource::Existing(text)
        })
    }
}

/// How an SQS-fed function (queue trigger or buffered consumer) is fed: the keys sit at the
/// top of the declaration (`batch-size = 10`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Batching {
    /// Records per invocation (1 to 10000); default [`Batching::DEFAULT_BATCH_SIZE`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<u32>,
    /// Seconds to gather a batch (0 to 300); default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batching_window: Option<u32>,
    /// The most concurrent invocations the queue drives (2 to 1000, AWS's bounds); none caps
    /// only at the account's concurrency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<u32>,
    /// Receives of a record before SQS moves it to the failure queue; default
    /// [`Batching::DEFAULT_MAX_RECEIVE_COUNT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_receive_count: Option<u32>,
}

impl Batching {
    /// SQS event source mappings' own default.
    pub const DEFAULT_BATCH_SIZE: u32 = 10;
    /// Three receives: a handler failure is retried twice, as Lambda's async retries are.
    pub const DEFAULT_MAX_RECEIVE_COUNT: u32 = 3;
    /// AWS's lowest `MaximumConcurrency` for SQS mappings.
    pub const MIN_MAX_CONCURRENCY: u32 = 2;

    /// The batch size.
    pub fn batch_size(&self) -> u32 {
        self.batch_size.unwrap_or(Self::DEFAULT_BATCH_SIZE)
    }

    /// The batching window in seconds.
    pub fn batching_window(&self) -> u32 {
        self.batching_window.unwrap_or(0)
    }

    /// The receive count before the redrive.
    pub fn max_receive_count(&self) -> u32 {
        self.max_receive_count
            .unwrap_or(Self::DEFAULT_MAX_RECEIVE_COUNT)
    }

    /// Whether any key was written.
    pub fn is_declared(&self) -> bool {
        *self != Batching::default()
    }

    /// Checks AWS's bounds; the message names the key.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if let Some(size) = self.batch_size
            && !(1..=10_000).contains(&size)
        {
            return Err(("batch-size", format!("{size} is outside 1..=10000")));
        }
        if let Some(window) = self.batching_window
            && window > 300
        {
            return Err(("batching-window", format!("{window} s is over 300 s")));
        }
        if self.batch_size() > 10 && self.batching_window() == 0 {
            return Err((
                "batching-window",
                "a batch size over 10 needs a batching window of at least 1 s (AWS's rule)"
                    .to_owned(),
            ));
        }
        if let Some(cap) = self.max_concurrency
            && !(Self::MIN_MAX_CONCURRENCY..=1000).contains(&cap)
        {
            return Err((
                "max-concurrency",
                format!("{cap} is outside 2..=1000 (AWS's bounds for SQS mappings)"),
            ));
        }
        if let Some(count) = self.max_receive_count
            && !(1..=1000).contains(&count)
        {
            return Err(("max-receive-count", format!("{count} is outside 1..=1000")));
        }
        Ok(())
    }
}

/// What starts a function, from its declaration ([`crate::Declaration::trigger`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// A rule on the bus (a consumer).
    Rule {
        /// Directly or through a buffer queue.
        delivery: Delivery,
    },
    /// Callers invoke it directly.
    Direct,
    /// An HTTP route of the REST API.
    Http(HttpDeclaration),
    /// A schedule of EventBridge Scheduler.
    Schedule(ScheduleDeclaration),
    /// An SQS queue.
    Queue(QueueSource),
}

impl Trigger {
    /// Whether the function is fed by an SQS event source mapping (a queue trigger or a
    /// buffered consumer): it answers with partial batch failures and its failure queue is
    /// its source's redrive target.
    pub fn is_sqs_fed(&self) -> bool {
        matches!(
            self,
            Trigger::Queue(_)
                | Trigger::Rule {
                    delivery: Delivery::Queue
                }
        )
    }

    /// A word for messages and the graph: `rule`, `buffered rule`, `direct`, `http`,
    /// `schedule`, `queue`.
    pub fn kind(&self) -> &'static str {
        match self {
            Trigger::Rule {
                delivery: Delivery::Direct,
            } => "rule",
            Trigger::Rule {
                delivery: Delivery::Queue,
            } => "buffered rule",
            Trigger::Direct => "direct",
            Trigger::Http(_) => "http",
            Trigger::Schedule(_) => "schedule",
            Trigger::Queue(_) => "queue",
        }
    }
}

/// What EventBridge Scheduler hands a scheduled function: the generated schedule's `Input`
/// fills these from Scheduler's context attributes, and `eventrail local fire` sends the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledInvocation {
    /// The time the firing was scheduled for (ISO 8601, UTC): the same on a retry, so the
    /// events a firing emits derive their idempotency keys from it.
    pub scheduled_time: String,
    /// Scheduler's id of this firing.
    #[serde(default)]
    pub execution_id: String,
    /// The schedule's ARN.
    #[serde(default)]
    pub schedule_arn: String,
    /// Which attempt this is (`1` first), as text (Scheduler substitutes text).
    #[serde(default)]
    pub attempt: String,
}

impl ScheduledInvocation {
    /// The schedule's `Input` template: Scheduler replaces each `<aws.scheduler.*>`.
    pub fn input_template() -> &'static str {
        r#"{"scheduledTime":"<aws.scheduler.scheduled-time>","executionId":"<aws.scheduler.execution-id>","scheduleArn":"<aws.scheduler.schedule-arn>","attempt":"<aws.scheduler.attempt-number>"}"#
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_parse_or_say_what_is_expected() {
        let route = Route::parse("POST /tasks/{id}").unwrap();
        assert_eq!(route.method, HttpMethod::Post);
        assert_eq!(route.path, "/tasks/{id}");
        assert_eq!(route.to_string(), "POST /tasks/{id}");
        for bad in [
            "POST",
            "post /tasks",
            "POST tasks",
            "POST /a b",
            "FETCH /x",
            "POST /a//b",
        ] {
            assert!(Route::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn schedule_expressions() {
        for good in ["rate(1 day)", "rate(5 minutes)", "cron(0 3 * * ? *)"] {
            assert!(check_schedule_expression(good).is_ok(), "{good}");
        }
        for bad in [
            "rate(1 days)",
            "rate(0 minutes)",
            "rate(2 minute)",
            "cron(0 3 * * ?)",
            "daily",
        ] {
            assert!(check_schedule_expression(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_input_template_reads_as_a_scheduled_invocation() {
        let input: ScheduledInvocation =
            serde_json::from_str(ScheduledInvocation::input_template()).unwrap();
        assert_eq!(input.scheduled_time, "<aws.scheduler.scheduled-time>");
    }

    #[test]
    fn batching_bounds() {
        let batching = |size, window, cap| Batching {
            batch_size: size,
            batching_window: window,
            max_concurrency: cap,
            max_receive_count: None,
        };
        assert!(batching(Some(10), None, Some(2)).check().is_ok());
        assert_eq!(
            batching(None, None, Some(1)).check().unwrap_err().0,
            "max-concurrency"
        );
        assert_eq!(
            batching(Some(100), None, None).check().unwrap_err().0,
            "batching-window"
        );
        assert!(batching(Some(100), Some(1), None).check().is_ok());
    }
}
