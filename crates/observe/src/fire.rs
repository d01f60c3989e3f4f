//! Firing a scheduled function now (`eventrail local fire`): the function is invoked
//! synchronously with the [`ScheduledInvocation`] EventBridge Scheduler would send it
//! (`scheduledTime` = now, truncated to the minute as Scheduler's are; a fresh `executionId`;
//! the schedule's ARN; attempt `1`), and its answer is returned. Scheduler has no "run now",
//! so on AWS too this is a direct invoke with the same payload.

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use chrono::{DateTime, Utc};
use eventrail_contract::{
    Declaration, Delivery, ScheduleDeclaration, ScheduledInvocation, Trigger,
};
use serde_json::Value;

use crate::error::{ObserveError, Result, aws as aws_error};

/// The schedule of `function`, or why it has none, naming what triggers it instead.
pub fn schedule_of(
    function: &str,
    declaration: &Declaration,
) -> Result<ScheduleDeclaration, String> {
    let by = match declaration.trigger() {
        Trigger::Schedule(schedule) => return Ok(schedule),
        Trigger::Rule {
            delivery: Delivery::Direct,
        } => format!(
            "a rule on the bus (it consumes {})",
            declaration.consumes.join(", ")
        ),
        Trigger::Rule {
            delivery: Delivery::Queue,
        } => format!(
            "a rule on the bus, through its buffer queue (it consumes {})",
            declaration.consumes.join(", ")
        ),
        Trigger::Direct => "direct invokes (`invoke = \"direct\"`)".to_owned(),
        Trigger::Http(http) => format!("HTTP requests ({})", http.route),
        Trigger::Queue(_) => "messages of its SQS queue (`queue`)".to_owned(),
    };
    Err(format!(
        "`{function}` is not scheduled: it is triggered by {by}; `fire` runs a function declared \
         with `schedule = \"rate(...)\"` or `cron(...)`"
    ))
}

/// The firing's payload for the time `scheduled`, truncated to the minute as Scheduler's
/// times are.
pub fn invocation(
    scheduled: DateTime<Utc>,
    schedule_arn: &str,
    execution_id: &str,
) -> ScheduledInvocation {
    ScheduledInvocation {
        scheduled_time: scheduled.format("%Y-%m-%dT%H:%M:00Z").to_string(),
        execution_id: execution_id.to_owned(),
        schedule_arn: schedule_arn.to_owned(),
        attempt: "1".to_owned(),
    }
}

/// The payload of a firing for `at` (now when `None`), with a fresh `executionId`.
pub fn fresh_invocation(at: Option<DateTime<Utc>>, schedule_arn: &str) -> ScheduledInvocation {
    invocation(
        at.unwrap_or_else(Utc::now),
        schedule_arn,
        &uuid::Uuid::new_v4().to_string(),
    )
}

/// The ARN of the schedule named `schedule_name` (in Scheduler's `default` group, where the
/// template creates it), in the account and region of the function whose ARN is given.
pub fn schedule_arn(function_arn: &str, schedule_name: &str) -> Option<String> {
    // arn:aws:lambda:<region>:<account>:function:<name>
    let mut parts = function_arn.split(':');
    let (Some("arn"), Some(partition), Some("lambda"), Some(region), Some(account)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    Some(format!(
        "arn:{partition}:scheduler:{region}:{account}:schedule/default/{schedule_name}"
    ))
}

/// What the function answered a firing.
#[derive(Debug, Clone, PartialEq)]
pub struct Fired {
    /// The payload it was invoked with.
    pub invocation: ScheduledInvocation,
    /// Its answer: JSON when it is, else the text.
    pub answer: Value,
    /// Lambda's `FunctionError` (`Unhandled`) when the handler failed; the answer then holds
    /// the error.
    pub function_error: Option<String>,
}

/// The deployed function's ARN (its account and region make the schedule's ARN).
pub async fn function_arn(lambda: &aws_sdk_lambda::Client, function_name: &str) -> Result<String> {
    let output = lambda
        .get_function_configuration()
        .function_name(function_name)
        .send()
        .await
        .map_err(aws_error("lambda:GetFunctionConfiguration", function_name))?;
    Ok(output.function_arn().unwrap_or_default().to_owned())
}

/// Invokes `function_name` synchronously with `invocation`; Ok with its answer, a handler
/// failure included (see [`Fired::function_error`]).
pub async fn fire(
    lambda: &aws_sdk_lambda::Client,
    function_name: &str,
    invocation: ScheduledInvocation,
) -> Result<Fired> {
    let payload = serde_json::to_vec(&invocation).map_err(|e| ObserveError::Aws {
        operation: "lambda:Invoke",
        target: function_name.to_owned(),
        message: format!("the scheduled invocation does not serialize: {e}"),
    })?;
    let output = lambda
        .invoke()
        .function_name(function_name)
        .invocation_type(InvocationType::RequestResponse)
        .payload(Blob::new(payload))
        .send()
        .await
        .map_err(aws_error("lambda:Invoke", function_name))?;
    let bytes = output
        .payload()
        .map(|p| p.as_ref().to_vec())
        .unwrap_or_default();
    let answer = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Ok(Fired {
        invocation,
        answer,
        function_error: output.function_error().map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn declaration(json: &str) -> Declaration {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn only_a_scheduled_function_fires_and_the_others_say_what_triggers_them() {
        let nightly = declaration(r#"{"schedule": "rate(1 day)", "emits": ["Counted"]}"#);
        assert_eq!(
            schedule_of("nightly", &nightly).unwrap().expression,
            "rate(1 day)"
        );
        for (json, by) in [
            (
                r#"{"consumes": ["Thing"]}"#,
                "a rule on the bus (it consumes Thing)",
            ),
            (
                r#"{"consumes": ["Thing"], "delivery": "queue"}"#,
                "through its buffer queue",
            ),
            (
                r#"{"http": "POST /intake"}"#,
                "HTTP requests (POST /intake)",
            ),
            (r#"{"invoke": "direct"}"#, "direct invokes"),
            (r#"{"queue": "new"}"#, "messages of its SQS queue"),
        ] {
            let error = schedule_of("mailer", &declaration(json)).unwrap_err();
            assert!(
                error.starts_with("`mailer` is not scheduled: it is triggered by "),
                "{error}"
            );
            assert!(error.contains(by), "{json}: {error}");
        }
    }

    #[test]
    fn the_payload_is_what_scheduler_sends_at_the_minute() {
        let now = Utc.with_ymd_and_hms(2026, 12, 7, 21, 3, 42).unwrap();
        let arn = schedule_arn(
            "arn:aws:lambda:us-east-1:000000000000:function:stack-nightly",
            "stack-nightly",
        )
        .unwrap();
        assert_eq!(
            arn,
            "arn:aws:scheduler:us-east-1:000000000000:schedule/default/stack-nightly"
        );
        let invocation = invocation(now, &arn, "run-1");
        let json = serde_json::to_value(&invocation).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "scheduledTime": "2026-12-07T21:03:00Z",
                "executionId": "run-1",
                "scheduleArn": arn,
                "attempt": "1",
            })
        );
        assert_eq!(schedule_arn("not an arn", "x"), None);
    }
}
