//! A deployed stack: its outputs plus clients, and the actions the demo and tests take on it.

use std::time::{Duration, SystemTime};

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use eventrail_contract::trace::Redelivery;
use serde_json::Value;

use crate::aws::{Clients, region_or_default};
use crate::bus::{self, BusEvent, Entry};
use crate::error::{ObserveError, Result, aws};
use crate::outputs::{ENDPOINT_VAR, StackOutputs};
use crate::redrive::mark_redelivered;
use crate::tap::Tap;
use crate::watch::Watch;

/// How a replay ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayOutcome {
    /// Replay name.
    pub name: String,
    /// Final state (`COMPLETED`, `FAILED`, ...).
    pub state: String,
    /// Why, when the service says.
    pub reason: Option<String>,
}

/// The deployed eventrail stack.
#[derive(Debug, Clone)]
pub struct Stack {
    /// Clients pointed at the stack's endpoint.
    pub clients: Clients,
    /// The stack's outputs.
    pub outputs: StackOutputs,
}

impl Stack {
    /// The stack named by `EVENTRAIL_ENDPOINT` and `EVENTRAIL_STACK_OUTPUTS`; the error says
    /// to run `cargo xtask test` when they are unset.
    pub async fn from_env() -> Result<Self> {
        let endpoint = std::env::var(ENDPOINT_VAR)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .ok_or(ObserveError::MissingEnvironment {
                variable: ENDPOINT_VAR,
            })?;
        let here = std::env::current_dir().map_err(|e| ObserveError::Project {
            message: format!("cannot read the current folder: {e}"),
        })?;
        let project =
            eventrail_contract::Project::discover(&here).map_err(|e| ObserveError::Project {
                message: e.to_string(),
            })?;
        let outputs = StackOutputs::from_env()?.with_project(&project)?;
        Ok(Self::connect(endpoint.trim(), outputs).await)
    }

    /// The stack with `outputs`, reached at `endpoint`.
    pub async fn connect(endpoint: &str, outputs: StackOutputs) -> Self {
        let region = region_or_default(outputs.region.as_deref());
        let endpoint = endpoint.trim_end_matches('/');
        Self {
            clients: Clients::connect(endpoint, &region).await,
            outputs,
        }
    }

    /// Invokes `function` (display name, e.g. `intake`) and waits for its answer.
    pub async fn invoke(&self, function: &str, payload: &Value) -> Result<Value> {
        let name = self.outputs.function_name(function)?;
        let output = self
            .clients
            .lambda
            .invoke()
            .function_name(name)
            .invocation_type(InvocationType::RequestResponse)
            .payload(Blob::new(payload.to_string()))
            .send()
            .await
            .map_err(aws("lambda:Invoke", name))?;
        let body = output
            .payload()
            .map(|b| String::from_utf8_lossy(b.as_ref()).into_owned())
            .unwrap_or_default();
        let answer: Value = serde_json::from_str(&body).unwrap_or(Value::String(body.clone()));
        if output.function_error().is_some() {
            let text = |key: &str| {
                answer
                    .get(key)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .unwrap_or_else(|| body.clone())
            };
            return Err(ObserveError::FunctionError {
                function: name.to_owned(),
                error_type: text("errorType"),
                message: text("errorMessage"),
            });
        }
        Ok(answer)
    }

    /// Invokes `function` asynchronously (as EventBridge does), so Lambda's retries and
    /// on-failure destination apply.
    pub async fn invoke_async(&self, function: &str, payload: &Value) -> Result<()> {
        let name = self.outputs.function_name(function)?;
        self.clients
            .lambda
            .invoke()
            .function_name(name)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(payload.to_string()))
            .send()
            .await
            .map_err(aws("lambda:Invoke (async)", name))?;
        Ok(())
    }

    /// Puts one event on the stack's bus; returns its id.
    pub async fn put_event(&self, event: &BusEvent) -> Result<String> {
        let bus = self.outputs.bus_name()?;
        bus::put_one(&self.clients.events, bus, Entry::of_event(event)).await
    }

    /// Puts envelopes (`source`, `detail-type`, `detail`, `resources`) on the stack's bus in
    /// one PutEvents call (at most 10); per entry, the new event id or the entry's error code
    /// and message. An envelope that carries trace context (`detail.metadata.traceparent`:
    /// an event copied from the bus, a failure record or the archive) is put again: it keeps
    /// its trace and is marked `eventrail=reput` in its `tracestate`
    /// ([`crate::redrive::mark_redelivered`]), so its consumers continue its trace with a span
    /// that says it came back by hand.
    pub async fn put_envelopes(&self, events: &[Value]) -> Result<Vec<Result<String, String>>> {
        let bus = self.outputs.bus_name()?;
        let marked: Vec<Value> = events
            .iter()
            .map(|event| mark_redelivered(event, Redelivery::Reput))
            .collect();
        let mut entries = Vec::new();
        for (index, event) in marked.iter().enumerate() {
            let entry = Entry::of_envelope(event).ok_or_else(|| {
                ObserveError::Invalid(format!(
                    "entry {index} needs string fields `source` and `detail-type` and a `detail`"
                ))
            })?;
            entries.push(entry.on(bus));
        }
        let output = self
            .clients
            .events
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(aws("events:PutEvents", bus))?;
        Ok(output
            .entries()
            .iter()
            .map(|entry| match (entry.event_id(), entry.error_code()) {
                (Some(id), None) => Ok(id.to_owned()),
                (_, code) => Err(format!(
                    "{} {}",
                    code.unwrap_or("no error code"),
                    entry.error_message().unwrap_or("")
                )),
            })
            .collect())
    }

    /// A new tap on the stack's bus.
    pub async fn tap(&self) -> Result<Tap> {
        Tap::create(
            &self.clients,
            self.outputs.bus_name()?,
            self.outputs.source_prefix()?,
        )
        .await
    }

    /// A new watch: a tap plus the queues the app declares watched and every failure queue
    /// of the stack.
    pub async fn watch(&self) -> Result<Watch> {
        Watch::new(self.tap().await?, &self.clients, &self.outputs)
    }

    /// `MaximumRetryAttempts` of `function`'s asynchronous invoke configuration (Lambda's
    /// default, 2, when none is configured).
    pub async fn invoke_retry_attempts(&self, function: &str) -> Result<u32> {
        let name = self.outputs.function_name(function)?;
        let output = self
            .clients
            .lambda
            .get_function_event_invoke_config()
            .function_name(name)
            .send()
            .await
            .map_err(aws("lambda:GetFunctionEventInvokeConfig", name))?;
        Ok(output
            .maximum_retry_attempts()
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(2))
    }

    /// Number of events the stack's archive holds, as DescribeArchive reports it.
    pub async fn archive_event_count(&self) -> Result<i64> {
        let name = self.outputs.archive_name()?;
        let output = self
            .clients
            .events
            .describe_archive()
            .archive_name(name)
            .send()
            .await
            .map_err(aws("events:DescribeArchive", name))?;
        Ok(output.event_count())
    }

    /// How many days the stack's archive keeps events (DescribeArchive's `RetentionDays`);
    /// `None` when the archive keeps them forever (0 or unset).
    pub async fn archive_retention_days(&self) -> Result<Option<u32>> {
        let name = self.outputs.archive_name()?;
        let output = self
            .clients
            .events
            .describe_archive()
            .archive_name(name)
            .send()
            .await
            .map_err(aws("events:DescribeArchive", name))?;
        Ok(output
            .retention_days()
            .and_then(|days| u32::try_from(days).ok())
            .filter(|days| *days > 0))
    }

    /// Replays the archive's events of `[start, end]` to the bus (optionally only to the
    /// rules in `filter_arns`) and waits, up to `deadline`, until the replay ends.
    pub async fn replay(
        &self,
        name: &str,
        start: SystemTime,
        end: SystemTime,
        filter_arns: &[String],
        deadline: Duration,
    ) -> Result<ReplayOutcome> {
        self.start_replay(name, start, end, filter_arns).await?;
        let started = std::time::Instant::now();
        loop {
            let status = self.replay_status(name).await?;
            if status.is_finished() || started.elapsed() >= deadline {
                return Ok(ReplayOutcome {
                    name: name.to_owned(),
                    state: status.state,
                    reason: status.reason,
                });
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Starts a replay of the archive's events of `[start, end]` to the bus (optionally only
    /// to the rules in `filter_arns`).
    pub async fn start_replay(
        &self,
        name: &str,
        start: SystemTime,
        end: SystemTime,
        filter_arns: &[String],
    ) -> Result<()> {
        let archive = self.outputs.archive_arn()?;
        let destination = aws_sdk_eventbridge::types::ReplayDestination::builder()
            .arn(self.outputs.bus_arn()?)
            .set_filter_arns((!filter_arns.is_empty()).then(|| filter_arns.to_vec()))
            .build()
            .map_err(aws("events:StartReplay", name))?;
        self.clients
            .events
            .start_replay()
            .replay_name(name)
            .event_source_arn(archive)
            .event_start_time(aws_smithy_types::DateTime::from(start))
            .event_end_time(aws_smithy_types::DateTime::from(end))
            .destination(destination)
            // Not idempotent: a retried StartReplay answers "already exists" and hides the
            // first attempt's error.
            .customize()
            .config_override(
                aws_sdk_eventbridge::config::Builder::default()
                    .retry_config(aws_sdk_eventbridge::config::retry::RetryConfig::disabled()),
            )
            .send()
            .await
            .map_err(aws("events:StartReplay", format!("{name} of {archive}")))?;
        Ok(())
    }

    /// Where a replay is.
    pub async fn replay_status(&self, name: &str) -> Result<ReplayStatus> {
        let output = self
            .clients
            .events
            .describe_replay()
            .replay_name(name)
            .send()
            .await
            .map_err(aws("events:DescribeReplay", name))?;
        Ok(ReplayStatus {
            name: name.to_owned(),
            state: output
                .state()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            reason: output.state_reason().map(str::to_owned),
            last_replayed: output.event_last_replayed_time().map(|t| t.to_string()),
        })
    }

    /// The ARNs of the bus rules whose target is `function` (a replay's `FilterArns`).
    pub async fn rule_arns_of(&self, function: &str) -> Result<Vec<String>> {
        let name = self.outputs.function_name(function)?;
        let bus = self.outputs.bus_name()?;
        let arn = self
            .clients
            .lambda
            .get_function()
            .function_name(name)
            .send()
            .await
            .map_err(aws("lambda:GetFunction", name))?
            .configuration()
            .and_then(|c| c.function_arn())
            .map(str::to_owned)
            .ok_or_else(|| ObserveError::Decode {
                what: format!("lambda:GetFunction of {name}"),
                message: "no FunctionArn".to_owned(),
            })?;
        let rules = self
            .clients
            .events
            .list_rule_names_by_target()
            .target_arn(&arn)
            .event_bus_name(bus)
            .send()
            .await
            .map_err(aws("events:ListRuleNamesByTarget", &arn))?;
        let mut arns = Vec::new();
        for rule in rules.rule_names() {
            let described = self
                .clients
                .events
                .describe_rule()
                .name(rule)
                .event_bus_name(bus)
                .send()
                .await
                .map_err(aws("events:DescribeRule", rule))?;
            if let Some(rule_arn) = described.arn() {
                arns.push(rule_arn.to_owned());
            }
        }
        if arns.is_empty() {
            return Err(ObserveError::Invalid(format!(
                "no rule on bus {bus} targets function {function} ({name}); a replay to it \
                 would deliver nothing (is it invoked directly rather than by a rule?)"
            )));
        }
        Ok(arns)
    }
}

/// A replay's state, as DescribeReplay answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayStatus {
    /// Replay name.
    pub name: String,
    /// `STARTING`, `RUNNING`, `COMPLETED`, `FAILED`, `CANCELLING`, `CANCELLED`.
    pub state: String,
    /// Why, when the service says.
    pub reason: Option<String>,
    /// The time of the last event replayed so far.
    pub last_replayed: Option<String>,
}

impl ReplayStatus {
    /// True once the replay ended, well or not.
    pub fn is_finished(&self) -> bool {
        matches!(self.state.as_str(), "COMPLETED" | "FAILED" | "CANCELLED")
    }
}
