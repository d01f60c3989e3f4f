//! The `src/lib.rs` a new function starts with: a handler of the input its trigger hands it
//! (an event of the bus, an HTTP request, a schedule's firing, a queue's message) and a unit
//! test on a sample.

use eventrail_contract::{Declaration, Delivery, QueueSource};

use super::trigger::NewTrigger;

/// What the handler's source is written from.
pub(super) struct Scaffolded<'a> {
    /// The function's name (`gift-wrap`).
    pub name: &'a str,
    /// Its declaration.
    pub declaration: &'a Declaration,
    /// Its trigger.
    pub trigger: &'a NewTrigger,
    /// The catalog crate as a Rust path (`events`).
    pub catalog_ident: &'a str,
    /// The catalog sample the test runs on (`task-created.json`; empty when there is none).
    pub sample: &'a str,
}

/// The source of `src/lib.rs`.
pub(super) fn handler_source(s: &Scaffolded<'_>) -> String {
    let d = s.declaration;
    let header = format!(
        "//! `{}`: {}. {}\n//!\n//! Write what the function does here. Its declaration (its \
         trigger, what it consumes and emits) is\n//! in Cargo.toml, \
         `[package.metadata.eventrail]`; the template's resources are generated from it.\n",
        s.name,
        d.description.clone().unwrap_or_default(),
        emits_note(d)
    );
    let body = match s.trigger {
        NewTrigger::Rule(delivery) => consumer(s, *delivery),
        NewTrigger::Http(route) => http(s, &route.to_string()),
        NewTrigger::Schedule(expression) => scheduled(s, expression),
        NewTrigger::Queue(source) => queued(s, source),
    };
    format!("{header}\n{body}")
}

fn emits_note(d: &Declaration) -> String {
    if d.emits.is_empty() {
        "It emits nothing.".to_owned()
    } else {
        format!(
            "It may emit {} (its declaration lists them).",
            d.emits.join(", ")
        )
    }
}

/// A rule's consumer, delivered directly or through a buffer queue: the same handler.
fn consumer(s: &Scaffolded<'_>, delivery: Delivery) -> String {
    let d = s.declaration;
    // `Consumed` is generated from the declaration's `consumes` (`eventrail_runtime::consumed!`):
    // the event types it names are imported here.
    let preamble = if d.consumes_everything() {
        String::new()
    } else {
        format!("use {}::{{{}}};\n", s.catalog_ident, d.consumes.join(", "))
    };
    let buffered = match delivery {
        Delivery::Direct => "",
        Delivery::Queue => {
            "/// Its events come through a buffer queue, in batches (`delivery = \"queue\"`): the\n\
             /// handler still sees one event at a time, and only the events it fails are retried.\n"
        }
    };
    let sample = s.sample;
    format!(
        r#"use eventrail_runtime::prelude::*;
{preamble}
// `Consumed`: the events of the declaration's `consumes`, generated from it.
eventrail_runtime::consumed!();

/// The function's handler. Delivery is at least once: keep it safe to run twice on the same
/// event (derive ids from `event.metadata.idempotency_key`, never from a clock). Return
/// `Emitted::one(event)` to publish, `HandlerError::poison(reason)` for an event that can
/// never succeed (it goes to the failure queue at once) and `HandlerError::retryable(error)`
/// for anything worth retrying.
{buffered}pub async fn handle(event: Incoming<Consumed>) -> Result<Emitted, HandlerError> {{
    tracing::info!(event_id = %event.id, detail_type = %event.detail_type, "handled");
    Ok(Emitted::none())
}}

#[cfg(test)]
mod tests {{
    use super::*;

    #[tokio::test]
    async fn handles_the_catalog_sample() {{
        let function = eventrail_runtime::test_function!(handle);
        let emitted = function.emitted("{sample}").await;
        assert!(emitted.is_empty(), "{{emitted:?}}");
    }}
}}
"#
    )
}

/// How the handler publishes, for its doc comment.
fn publish_note(s: &Scaffolded<'_>) -> String {
    match s.declaration.emits.first() {
        None => "It emits nothing: declare `emits` to publish.".to_owned(),
        Some(first) => format!(
            "Publish with `context.publish(&{first} {{ .. }}).await` (`use {}::{first};`).",
            s.catalog_ident
        ),
    }
}

/// An HTTP route's producer: a request type of its own (checked by the kit before the
/// handler runs) and an answer type.
fn http(s: &Scaffolded<'_>, route: &str) -> String {
    let id = eventrail_contract::declaration::logical_id(s.name);
    let (name, publish) = (s.name, publish_note(s));
    format!(
        r#"use eventrail_runtime::contract::{{Validate, ValidationError, non_empty}};
use eventrail_runtime::prelude::*;

/// The request's body. The kit decodes and checks it before the handler runs: a body that
/// does not decode, or breaks a rule of [`Validate`], gets `400` naming the field, and the
/// handler is not called. (A catalog command can be the body instead: name it with
/// `request = "..."` in the declaration's `[package.metadata.eventrail.http]` table.)
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct {id}Request {{
    /// What the request is about.
    pub id: String,
}}

impl Validate for {id}Request {{
    fn validate(&self) -> Result<(), ValidationError> {{
        non_empty("id", &self.id)
    }}
}}

/// The answer's body.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct {id}Accepted {{
    /// The request's id.
    pub id: String,
}}

/// The function's handler, behind `{route}`. Callers retry: keep it safe to run twice on the
/// same request (the events it publishes derive their keys from the request, or from the
/// caller's `Idempotency-Key` header); `HandlerError::rejected(409, "why")` answers a 4xx of
/// your own.
/// {publish}
pub async fn handle(
    request: HttpRequest<{id}Request>,
    context: Context,
) -> Result<HttpResponse<{id}Accepted>, HandlerError> {{
    tracing::info!(id = %request.body.id, correlation_id = %context.correlation_id(), "accepted");
    Ok(HttpResponse::accepted({id}Accepted {{
        id: request.body.id,
    }}))
}}

#[cfg(test)]
mod tests {{
    use eventrail_runtime::Origin;

    use super::*;

    #[tokio::test]
    async fn accepts_a_request() {{
        let context = Context::dry_run(Origin::request("{name}", "request-1"));
        let request = HttpRequest::new({id}Request {{
            id: "{name}-1".to_owned(),
        }});
        let response = handle(request, context.clone()).await.unwrap();
        assert_eq!(response.status, 202);
        assert_eq!(response.body.id, "{name}-1");
        assert!(context.emitted().is_empty(), "{{:?}}", context.emitted());
    }}

    #[test]
    fn a_request_without_an_id_is_refused_before_the_handler() {{
        let error = {id}Request {{ id: " ".to_owned() }}.validate().unwrap_err();
        assert!(error.to_string().contains("id"), "{{error}}");
    }}
}}
"#
    )
}

/// A schedule's producer.
fn scheduled(s: &Scaffolded<'_>, expression: &str) -> String {
    let (name, publish) = (s.name, publish_note(s));
    format!(
        r#"use eventrail_runtime::contract::ScheduledInvocation;
use eventrail_runtime::prelude::*;

/// The function's handler, started by its schedule (`{expression}`; `eventrail local fire
/// {name}` starts it now on the local stack). A retried or doubled firing has the same
/// `scheduled.scheduled_time`, and the events it publishes derive their keys from it, so
/// downstream sees them once.
/// {publish}
pub async fn handle(scheduled: Scheduled, context: Context) -> Result<(), HandlerError> {{
    tracing::info!(
        scheduled_time = %scheduled.scheduled_time,
        attempt = scheduled.attempt,
        correlation_id = %context.correlation_id(),
        "fired"
    );
    Ok(())
}}

/// What EventBridge Scheduler hands the function (its schedule's `Input`), for tests.
pub fn sample_firing() -> ScheduledInvocation {{
    ScheduledInvocation {{
        scheduled_time: "2026-01-01T03:00:00Z".to_owned(),
        execution_id: "sample-execution".to_owned(),
        schedule_arn: "arn:aws:scheduler:us-east-1:123456789012:schedule/default/{name}"
            .to_owned(),
        attempt: "1".to_owned(),
    }}
}}

#[cfg(test)]
mod tests {{
    use eventrail_runtime::Origin;

    use super::*;

    #[tokio::test]
    async fn handles_a_firing() {{
        let firing = sample_firing();
        let scheduled = Scheduled::from_invocation(&firing).unwrap();
        assert_eq!(scheduled.attempt, 1);
        let context = Context::dry_run(Origin::scheduled("{name}", &firing.scheduled_time));
        handle(scheduled, context.clone()).await.unwrap();
        assert!(context.emitted().is_empty(), "{{:?}}", context.emitted());
    }}
}}
"#
    )
}

/// A queue's producer: a message type of its own (checked by the kit before the handler).
fn queued(s: &Scaffolded<'_>, source: &QueueSource) -> String {
    let id = eventrail_contract::declaration::logical_id(s.name);
    let (name, publish) = (s.name, publish_note(s));
    let queue = match source {
        QueueSource::New => "its own queue".to_owned(),
        QueueSource::Existing(id) => format!("the queue {id}"),
    };
    format!(
        r#"use eventrail_runtime::contract::{{Validate, ValidationError, non_empty}};
use eventrail_runtime::prelude::*;

/// A message's body. The kit decodes and checks it first: one that does not decode, or breaks
/// a rule, goes to the failure queue with its reason, and the handler is not called.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct {id}Message {{
    /// What the message is about.
    pub id: String,
}}

impl Validate for {id}Message {{
    fn validate(&self) -> Result<(), ValidationError> {{
        non_empty("id", &self.id)
    }}
}}

/// The function's handler, once per message of {queue}: an error retries that message
/// alone (SQS delivers it again; on its last receive it goes to the failure queue with the
/// reason). Keep it safe to run twice on the same message.
/// {publish}
pub async fn handle(message: Message<{id}Message>, context: Context) -> Result<(), HandlerError> {{
    tracing::info!(
        message_id = %message.message_id,
        id = %message.body.id,
        correlation_id = %context.correlation_id(),
        "handled"
    );
    Ok(())
}}

#[cfg(test)]
mod tests {{
    use eventrail_runtime::Origin;

    use super::*;

    #[tokio::test]
    async fn handles_a_message() {{
        let message = Message::new("message-1", {id}Message {{ id: "{name}-1".to_owned() }});
        let context = Context::dry_run(Origin::message("{name}", &message.message_id));
        handle(message, context.clone()).await.unwrap();
        assert!(context.emitted().is_empty(), "{{:?}}", context.emitted());
    }}
}}
"#
    )
}
