//! A scheduled function (`schedule = "rate(1 day)"`): EventBridge Scheduler hands it a
//! [`ScheduledInvocation`] (the schedule's `Input`, with Scheduler's context attributes), the
//! kit hands the handler a [`Scheduled`].
//!
//! ```ignore
//! pub async fn handle(scheduled: Scheduled, context: Context) -> Result<(), HandlerError>
//! ```
//!
//! What the handler publishes through its [`Context`] starts a flow of the scheduled time:
//! the correlation id and each event's idempotency key derive from the function's name and
//! the time the firing was scheduled for ([`Origin::scheduled`]), not from when it ran, so a
//! retried firing, a doubled one and `eventrail local fire` of the same time emit the same
//! keys, and downstream deduplicates them.

use std::{future::Future, sync::Arc};

use chrono::{DateTime, SecondsFormat, Utc};
use eventrail_contract::ScheduledInvocation;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde::Serialize;
use serde_json::Value;
use tracing::Instrument;

use crate::consumer::EmittedSummary;
use crate::context::{Context, Origin};
use crate::decode::without_values;
use crate::handler::HandlerError;
use crate::init::{Init, LambdaError, producer_span, traced};
use crate::start::{Function, Serves, kind};
use crate::trace::spans::FaasTrigger;

/// One firing of the schedule, as the handler gets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scheduled {
    /// The time the firing was scheduled for (the same on every retry of it).
    pub scheduled_time: DateTime<Utc>,
    /// Scheduler's id of this firing (empty when fired by hand).
    pub execution_id: String,
    /// The schedule's ARN (empty when fired by hand).
    pub schedule_arn: String,
    /// Which attempt this is, `1` first.
    pub attempt: u32,
}

/// What is wrong with a scheduled invocation's input, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the scheduled invocation's {field}: {reason}")]
pub struct ScheduleInputError {
    /// The field (`scheduledTime`, `attempt`).
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

impl Scheduled {
    /// A firing scheduled for `time`, first attempt, fired by hand (tests, `local fire`).
    pub fn at(time: DateTime<Utc>) -> Self {
        Self {
            scheduled_time: time,
            execution_id: String::new(),
            schedule_arn: String::new(),
            attempt: 1,
        }
    }

    /// Reads Scheduler's input: the time must be an RFC 3339 time, the attempt a whole number
    /// (empty reads as `1`).
    pub fn from_invocation(input: &ScheduledInvocation) -> Result<Self, ScheduleInputError> {
        let scheduled_time = DateTime::parse_from_rfc3339(input.scheduled_time.trim())
            .map_err(|e| ScheduleInputError {
                field: "scheduledTime".to_owned(),
                reason: format!("not an RFC 3339 time ({e}), e.g. 2026-12-07T03:00:00Z"),
            })?
            .with_timezone(&Utc);
        let attempt = match input.attempt.trim() {
            "" => 1,
            text => text.parse::<u32>().map_err(|_| ScheduleInputError {
                field: "attempt".to_owned(),
                reason: "not a whole number".to_owned(),
            })?,
        };
        Ok(Self {
            scheduled_time,
            execution_id: input.execution_id.clone(),
            schedule_arn: input.schedule_arn.clone(),
            attempt,
        })
    }

    /// Reads an invocation's payload ([`ScheduledInvocation`]'s JSON).
    pub fn from_payload(payload: &Value) -> Result<Self, ScheduleInputError> {
        let input: ScheduledInvocation =
            serde_path_to_error::deserialize(payload).map_err(|e| {
                let message = e.inner().to_string();
                // A missing field is reported at the document's root: name the field itself.
                let missing = message
                    .strip_prefix("missing field `")
                    .and_then(|rest| rest.split('`').next());
                let path = e.path().to_string();
                ScheduleInputError {
                    field: match missing {
                        Some(field) => field.to_owned(),
                        None if path == "." => "input".to_owned(),
                        None => path,
                    },
                    reason: without_values(&message),
                }
            })?;
        Self::from_invocation(&input)
    }

    /// The scheduled time as keys name it: RFC 3339 in UTC to the second, whatever form
    /// Scheduler (or a hand firing) wrote it in.
    pub fn canonical_time(&self) -> String {
        self.scheduled_time
            .to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    /// Where the flow this firing starts begins, for the function `function` (its declared
    /// name).
    pub fn origin(&self, function: &str) -> Origin {
        Origin::scheduled(function, &self.canonical_time())
    }
}

/// What a scheduled invocation answers (what `eventrail local fire` prints).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScheduledOutcome {
    /// The firing's time, canonical.
    pub scheduled_time: String,
    /// The flow's correlation id.
    pub correlation_id: String,
    /// What the handler published (dry: would have).
    pub emitted: Vec<EmittedSummary>,
    /// True when nothing was sent to AWS.
    pub dry_run: bool,
}

/// Why a scheduled invocation failed; Lambda retries it, then its failure destination keeps
/// it with this reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The input is not a scheduled invocation.
    #[error(transparent)]
    Input(#[from] ScheduleInputError),
    /// The handler failed.
    #[error("the firing scheduled for {scheduled_time} failed: {source}")]
    Handler {
        /// The firing's time.
        scheduled_time: String,
        /// The handler's error.
        source: HandlerError,
    },
}

impl From<ScheduleError> for Diagnostic {
    fn from(error: ScheduleError) -> Self {
        let error_type = match &error {
            ScheduleError::Input(_) => "eventrail.InvalidScheduledInvocation",
            ScheduleError::Handler {
                source: HandlerError::Retryable(_),
                ..
            } => "eventrail.RetryableHandlerError",
            ScheduleError::Handler { .. } => "eventrail.PoisonFiring",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// Runs one firing: reads the input, hands the handler the [`Scheduled`] and a context for
/// the firing's flow (`context`'s publisher and deadline, the origin of the scheduled time),
/// and answers what it published. What the kit runs per invocation, and what tests call.
pub async fn fire<F, Fut>(
    handler: &F,
    payload: &Value,
    function: &str,
    context: Context,
) -> Result<ScheduledOutcome, ScheduleError>
where
    F: Fn(Scheduled, Context) -> Fut,
    Fut: Future<Output = Result<(), HandlerError>>,
{
    let scheduled = Scheduled::from_payload(payload)
        .inspect_err(|e| tracing::error!(error = %e, "not a scheduled invocation"))?;
    let scheduled_time = scheduled.canonical_time();
    let context = context.with_origin(scheduled.origin(function));
    let span = tracing::info_span!(
        "firing",
        scheduled_time = %scheduled_time,
        attempt = scheduled.attempt,
        correlation_id = %context.correlation_id(),
    );
    async {
        tracing::info!("firing");
        handler(scheduled, context.clone())
            .await
            .map_err(|source| {
                tracing::error!(error = %source, "the firing failed; Lambda retries it");
                ScheduleError::Handler {
                    scheduled_time: scheduled_time.clone(),
                    source,
                }
            })?;
        Ok(ScheduledOutcome {
            scheduled_time: scheduled_time.clone(),
            correlation_id: context.correlation_id().to_owned(),
            emitted: context.emitted(),
            dry_run: context.is_dry_run(),
        })
    }
    .instrument(span)
    .await
}

impl<F, Fut> Function<kind::OnSchedule> for F
where
    F: Fn(Scheduled, Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send,
{
    const SERVES: Serves = Serves::Schedule;
    const DESCRIPTION: &'static str = "a scheduled function (it takes Scheduled and a Context)";

    async fn serve(self, init: Init) -> Result<(), LambdaError> {
        let publisher = Arc::new(init.publisher().await);
        let emits: Arc<[String]> = init.declaration.emits.clone().into();
        let package: Arc<str> = init.package.clone().into();
        let handler = Arc::new(self);
        let service = service_fn(move |event: LambdaEvent<Value>| {
            let handler = Arc::clone(&handler);
            let package = Arc::clone(&package);
            let context = Context::shared(
                Arc::clone(&publisher),
                Some(event.context.deadline()),
                event.context.request_id.clone(),
            )
            .with_declared_emits(Arc::clone(&emits));
            let span = producer_span(
                &event.context,
                format!("schedule {package}"),
                FaasTrigger::Timer,
                &package,
                None,
            );
            traced(span, async move {
                Box::pin(fire(&*handler, &event.payload, &package, context)).await
            })
        });
        lambda_runtime::Runtime::new(service)
            .layer(lambda_runtime::layers::TracingLayer::new())
            .run()
            .await
    }
}
