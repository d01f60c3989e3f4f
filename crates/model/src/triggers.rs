//! Each function's trigger as the whole system has it: what its declaration says (a rule,
//! directly or through a buffer queue; a direct invoke; an HTTP route; a schedule; a queue)
//! joined with what the template holds (the buffer and source queues, their failure queues,
//! the schedule's parameter) and what samconfig overrides per stage (`<Function>Schedule`).
//! The graph, lint, the catalog pages and `dlq` read it from [`crate::System::trigger`].

use std::collections::BTreeMap;

use eventrail_contract::FunctionDeclaration;
use eventrail_contract::names::{DLQ_URL_VAR, FunctionOutputs};
use eventrail_contract::trigger::{Batching, Cors, Delivery, HttpAuth, QueueSource, Trigger};

use crate::refs::direct_ref;
use crate::samconfig::SamConfig;
use crate::template::Template;

/// The logical id of a buffered consumer's buffer queue when the template has none yet
/// (`<Function>BufferQueue`, the generator's name).
pub fn default_buffer_queue(function_logical_id: &str) -> String {
    format!("{function_logical_id}BufferQueue")
}

/// The logical id of a queue-triggered function's own queue (`queue = "new"`):
/// `<Function>SourceQueue`.
pub fn default_source_queue(function_logical_id: &str) -> String {
    format!("{function_logical_id}SourceQueue")
}

/// The logical id of a function's failure queue when the template says nothing:
/// `<Function>FailureQueue`.
pub fn default_failure_queue(function_logical_id: &str) -> String {
    format!("{function_logical_id}FailureQueue")
}

/// An HTTP route of the REST API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpEntry {
    /// `POST /tasks`, as declared.
    pub route: String,
    /// Who may call it.
    pub auth: HttpAuth,
    /// Browsers' cross-origin access.
    pub cors: Option<Cors>,
    /// The catalog command the body follows, when declared.
    pub request: Option<String>,
    /// Callers may also invoke the function directly (`invoke = "direct"`).
    pub direct_invoke: bool,
    /// The template's route for it (`<method> <path>` of its `Api` event), if generated.
    pub in_template: Option<String>,
}

impl HttpEntry {
    /// `none`, `iam` or `jwt (<issuer>)`, for people.
    pub fn auth_text(&self) -> String {
        match &self.auth {
            HttpAuth::None => "none".to_owned(),
            HttpAuth::Iam => "iam".to_owned(),
            HttpAuth::Jwt { issuer, .. } => format!("jwt ({issuer})"),
        }
    }
}

/// A schedule of EventBridge Scheduler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleEntry {
    /// The declared expression (the template parameter's default).
    pub expression: String,
    /// The time zone of a cron expression.
    pub timezone: Option<String>,
    /// The template parameter a stage overrides (`<Function>Schedule`).
    pub parameter: String,
    /// Each samconfig environment that overrides it, with its expression (`local` ->
    /// `rate(1 minute)`).
    pub stages: BTreeMap<String, String>,
    /// Logical id of the template's schedule, if generated.
    pub in_template: Option<String>,
}

impl ScheduleEntry {
    /// The expression a stage (samconfig environment) runs with.
    pub fn expression_in(&self, stage: &str) -> &str {
        self.stages
            .get(stage)
            .map_or(self.expression.as_str(), String::as_str)
    }
}

/// An SQS queue that feeds a function: a queue trigger's source, or a buffered consumer's
/// buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEntry {
    /// Logical id of the queue.
    pub queue: String,
    /// Created with the function (`queue = "new"`, or a buffer), not written by hand.
    pub own: bool,
    /// The queue is in the template.
    pub in_template: bool,
    /// Logical id of the queue's redrive target (its failure queue), from the template, else
    /// the function's own failure queue when the queue is its own.
    pub failure_queue: Option<String>,
    /// Receives before the redrive.
    pub max_receive_count: u32,
    /// Batch size, window and cap.
    pub batching: Batching,
}

/// What starts a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FunctionTrigger {
    /// A rule invokes it asynchronously.
    Rule,
    /// A rule delivers to its buffer queue, which it polls.
    Buffered(QueueEntry),
    /// Callers invoke it directly.
    Direct,
    /// An HTTP route.
    Http(HttpEntry),
    /// A schedule.
    Schedule(ScheduleEntry),
    /// A queue it polls.
    Queue(QueueEntry),
}

impl FunctionTrigger {
    /// The queue feeding the function (a buffer or a source), if any.
    pub fn queue(&self) -> Option<&QueueEntry> {
        match self {
            FunctionTrigger::Buffered(q) | FunctionTrigger::Queue(q) => Some(q),
            _ => None,
        }
    }
}

/// `batch 10, window 0 s, max 2` (the cap only when declared).
pub fn batching_text(batching: &Batching) -> String {
    let mut text = format!("batch {}", batching.batch_size());
    if batching.batching_window() > 0 {
        text.push_str(&format!(", window {} s", batching.batching_window()));
    }
    if let Some(cap) = batching.max_concurrency {
        text.push_str(&format!(", max {cap}"));
    }
    text
}

/// The function's failure queue: its on-failure destination, else the queue its
/// `EVENTRAIL_DLQ_URL` refers to, else the generator's name.
pub fn failure_queue(f: &FunctionDeclaration, template: &Template) -> String {
    let id = f.logical_id();
    let deployed = template.function(&id);
    deployed
        .and_then(|t| t.event_invoke_config.as_ref())
        .and_then(|c| c.on_failure.as_ref())
        .and_then(|o| o.resource.clone())
        .or_else(|| {
            deployed
                .and_then(|t| t.environment.get(DLQ_URL_VAR))
                .and_then(direct_ref)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| default_failure_queue(&id))
}

/// The queue that feeds a function: the one its template mapping reads, else `fallback`.
fn feeding_queue(f: &FunctionDeclaration, template: &Template, fallback: String) -> String {
    template
        .mappings_to(&f.logical_id())
        .find_map(|m| m.queue.clone())
        .unwrap_or(fallback)
}

fn queue_entry(
    f: &FunctionDeclaration,
    template: &Template,
    queue: String,
    own: bool,
) -> QueueEntry {
    let batching = f.declaration.batching();
    let in_template = template.queue(&queue);
    let failure_queue = in_template
        .and_then(|q| q.redrive_dead_letter.clone())
        .or_else(|| own.then(|| failure_queue(f, template)));
    QueueEntry {
        own,
        in_template: in_template.is_some(),
        failure_queue,
        max_receive_count: batching.max_receive_count(),
        batching,
        queue,
    }
}

/// The trigger of a declared function.
pub fn trigger_of(
    f: &FunctionDeclaration,
    template: &Template,
    samconfig: Option<&SamConfig>,
) -> FunctionTrigger {
    let d = &f.declaration;
    let id = f.logical_id();
    match d.trigger() {
        Trigger::Rule {
            delivery: Delivery::Direct,
        } => FunctionTrigger::Rule,
        Trigger::Rule {
            delivery: Delivery::Queue,
        } => {
            let queue = feeding_queue(f, template, default_buffer_queue(&id));
            FunctionTrigger::Buffered(queue_entry(f, template, queue, true))
        }
        Trigger::Direct => FunctionTrigger::Direct,
        Trigger::Http(http) => FunctionTrigger::Http(HttpEntry {
            in_template: template
                .api_routes()
                .iter()
                .find(|r| r.function == id)
                .map(|r| r.route()),
            route: http.route,
            auth: http.auth,
            cors: http.cors,
            request: http.request,
            direct_invoke: d.accepts_direct_invoke(),
        }),
        Trigger::Schedule(schedule) => {
            let parameter = FunctionOutputs { logical_id: &id }.schedule_parameter();
            let mut stages = BTreeMap::new();
            if let Some(config) = samconfig {
                for stage in config.environments() {
                    if let Some(expression) = config
                        .environment(stage)
                        .ok()
                        .and_then(|e| e.parameter_overrides.get(&parameter).cloned())
                    {
                        stages.insert(stage.to_owned(), expression);
                    }
                }
            }
            FunctionTrigger::Schedule(ScheduleEntry {
                expression: schedule.expression,
                timezone: schedule.timezone,
                in_template: template
                    .schedules()
                    .iter()
                    .find(|s| s.function == id)
                    .map(|s| s.logical_id.clone()),
                parameter,
                stages,
            })
        }
        Trigger::Queue(QueueSource::New) => {
            let queue = feeding_queue(f, template, default_source_queue(&id));
            FunctionTrigger::Queue(queue_entry(f, template, queue, true))
        }
        Trigger::Queue(QueueSource::Existing(queue)) => {
            FunctionTrigger::Queue(queue_entry(f, template, queue, false))
        }
    }
}
