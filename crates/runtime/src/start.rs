//! The one entry point of every eventrail function: [`start`] (what `eventrail_runtime::main!`
//! calls, and so the binary every function gets from its build script).
//!
//! A function is one plain async fn, its handler; how it is started follows from its
//! declaration (`[package.metadata.eventrail]`) and from what the handler takes:
//!
//! | the handler | the declaration | Lambda hands it |
//! |---|---|---|
//! | `async fn(Incoming<E>) -> Result<Emitted, HandlerError>` | `consumes = [...]` | one EventBridge event (rule), or with `delivery = "queue"` an SQS batch of them |
//! | `async fn(Incoming<E>, &S) -> Result<Emitted, HandlerError>`, `S:` [`State`] | `consumes = [...]` | the same, with `S` built once at init |
//! | `async fn(C, Context) -> Result<R, Err>` | `invoke = "direct"` | the caller's payload, decoded as `C`; `R` is the answer |
//! | `async fn(HttpRequest<C>, Context) -> Result<HttpResponse<R>, HandlerError>` | `http = "POST /path"` | an API Gateway REST proxy event ([`crate::http`]) |
//! | `async fn(Scheduled, Context) -> Result<(), HandlerError>` | `schedule = "rate(1 day)"` | the schedule's `ScheduledInvocation` ([`crate::schedule`]) |
//! | `async fn(Message<C>, Context) -> Result<(), HandlerError>` | `queue = "new"` | an SQS batch, one call per record ([`crate::queue`]) |
//!
//! Every kind goes through the same steps ([`run`]): logging, the declaration, the
//! environment it calls for ([`Init`]), then the kind's own service ([`Function::serve`]), each
//! invocation in one `invocation` span, under `lambda_runtime`'s tracing layer. Each trigger
//! is one [`Function`] impl with its input type and the [`Serves`] it answers (the kinds of
//! HTTP routes, schedules and queues live in their own modules); tracing (a span per
//! invocation, trace context propagation) plugs into `invocation_span`, the one place every
//! kind makes its span.

use std::{fmt, future::Future, sync::Arc};

use eventrail_contract::{Delivery, EmbeddedManifest, Event, Trigger};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde::{Serialize, de::DeserializeOwned};

use crate::batch::serve_buffered;
use crate::cause::Cause;
use crate::config::ConfigError;
use crate::consumer::{Consumer, ConsumerError};
use crate::context::{Context, Origin};
use crate::handler::{Emitted, Handler, HandlerError, Incoming};
use crate::init::{Init, LambdaError, State, invocation_span, producer_span, traced};
use crate::payload::{RawPayloadLayer, RawPayloads};
use crate::trace::event::Hop;
use crate::trace::spans::FaasTrigger;

/// Why a function could not start; logged, then returned to Lambda as the init error.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The declaration compiled in cannot be read.
    #[error(transparent)]
    Declaration(#[from] eventrail_contract::DeclarationError),
    /// A variable the declaration calls for is missing.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The handler's kind and the declaration's trigger disagree.
    #[error("{package}: the declaration says {declared} but the handler is {handler}; {fix}")]
    Kind {
        /// The package.
        package: String,
        /// What the declaration says starts the function (`invoke = "direct"`, `http = ...`).
        declared: &'static str,
        /// What the handler's signature makes it.
        handler: &'static str,
        /// What to change.
        fix: &'static str,
    },
    /// The handler's state ([`State::init`]) could not be built.
    #[error("building the handler's state failed: {0}")]
    State(#[source] Cause),
    /// The async runtime could not start.
    #[error("starting the async runtime failed: {0}")]
    Runtime(#[source] std::io::Error),
}

/// The kinds of [`Function`]: which signature a handler has. Named only in bounds.
pub mod kind {
    use std::marker::PhantomData;

    /// `async fn(Incoming<E>)`: a consumer of EventBridge events.
    pub struct OnEvent<E>(PhantomData<fn() -> E>);
    /// `async fn(Incoming<E>, &S)`: a consumer with a [`super::State`].
    pub struct OnEventWith<E, S>(PhantomData<fn() -> (E, S)>);
    /// `async fn(C, Context)`: a directly invoked function answering its caller.
    pub struct OnCommand<C, R, Err>(PhantomData<Signature<C, R, Err>>);
    /// `async fn(HttpRequest<C>, Context)`: an HTTP route's function.
    pub struct OnHttp<C, R>(PhantomData<fn(C) -> R>);
    /// `async fn(Scheduled, Context)`: a scheduled function.
    pub struct OnSchedule(PhantomData<fn()>);
    /// `async fn(Message<C>, Context)`: a queue's function.
    pub struct OnMessage<C>(PhantomData<fn(C)>);

    /// What `OnCommand` stands for: payload in, answer or error out.
    type Signature<C, R, Err> = fn(C) -> Result<R, Err>;
}

/// What starts a function, as a handler's kind serves it and a declaration says it
/// ([`Trigger`], without its details).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serves {
    /// A rule on the bus (`consumes`), delivered directly or through a buffer queue.
    Rule,
    /// A direct invoke (`invoke = "direct"`).
    Direct,
    /// An HTTP route (`http`).
    Http,
    /// A schedule (`schedule`).
    Schedule,
    /// An SQS queue (`queue`).
    Queue,
}

impl Serves {
    /// What `trigger` is.
    pub fn of(trigger: &Trigger) -> Self {
        match trigger {
            Trigger::Rule { .. } => Self::Rule,
            Trigger::Direct => Self::Direct,
            Trigger::Http(_) => Self::Http,
            Trigger::Schedule(_) => Self::Schedule,
            Trigger::Queue(_) => Self::Queue,
        }
    }

    /// How a declaration says it.
    fn declared(self) -> &'static str {
        match self {
            Self::Rule => "`consumes = [...]` (a rule)",
            Self::Direct => "`invoke = \"direct\"`",
            Self::Http => "`http = ...`",
            Self::Schedule => "`schedule = ...`",
            Self::Queue => "`queue = ...`",
        }
    }

    /// The handler a declaration of this kind needs.
    fn fix(self) -> &'static str {
        match self {
            Self::Rule => {
                "a consumer's handler takes an Incoming<E>; a producer declares `invoke = \"direct\"`, \
                 `http`, `schedule` or `queue`"
            }
            Self::Direct => {
                "a directly invoked handler takes (payload, eventrail_runtime::Context)"
            }
            Self::Http => {
                "an HTTP function's handler takes (HttpRequest<C>, Context) and returns \
                 Result<HttpResponse<R>, HandlerError>"
            }
            Self::Schedule => {
                "a scheduled function's handler takes (Scheduled, Context) and returns \
                 Result<(), HandlerError>"
            }
            Self::Queue => {
                "a queue's handler takes (Message<C>, Context) and returns Result<(), HandlerError>"
            }
        }
    }
}

/// A handler [`start`] can run; implemented for the signatures of the module's table (the
/// `Kind` parameter tells them apart), not to be implemented by hand.
pub trait Function<Kind>: Sized + Send + Sync + 'static {
    /// The trigger a declaration of this kind has.
    const SERVES: Serves;
    /// What a handler of this kind is, for the error when the declaration disagrees.
    const DESCRIPTION: &'static str;
    /// Serves invocations until the runtime stops.
    fn serve(self, init: Init) -> impl Future<Output = Result<(), LambdaError>>;
}

impl<F, E, Fut> Function<kind::OnEvent<E>> for F
where
    E: Event,
    F: Fn(Incoming<E>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Emitted, HandlerError>> + Send,
{
    const SERVES: Serves = Serves::Rule;
    const DESCRIPTION: &'static str = "a consumer (it takes an Incoming event)";

    fn serve(self, init: Init) -> impl Future<Output = Result<(), LambdaError>> {
        serve_consumer(self, init)
    }
}

impl<F, E, S, Fut> Function<kind::OnEventWith<E, S>> for F
where
    E: Event,
    S: State,
    F: Fn(Incoming<E>, &'static S) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Emitted, HandlerError>> + Send,
{
    const SERVES: Serves = Serves::Rule;
    const DESCRIPTION: &'static str = "a consumer (it takes an Incoming event)";

    async fn serve(self, init: Init) -> Result<(), LambdaError> {
        let state = S::init(&init)
            .await
            .map_err(|e| StartError::State(Cause::new(e)))
            .inspect_err(|e| tracing::error!(error = %e, "init error"))?;
        // Built once and kept until the process ends: every invocation borrows it.
        let state: &'static S = Box::leak(Box::new(state));
        serve_consumer(move |event: Incoming<E>| self(event, state), init).await
    }
}

impl<F, C, R, Err, Fut> Function<kind::OnCommand<C, R, Err>> for F
where
    C: DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
    Err: Into<Diagnostic> + fmt::Debug + Send + 'static,
    F: Fn(C, Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, Err>> + Send,
{
    const SERVES: Serves = Serves::Direct;
    const DESCRIPTION: &'static str = "directly invoked (it takes a payload and a Context)";

    async fn serve(self, init: Init) -> Result<(), LambdaError> {
        let publisher = Arc::new(init.publisher().await);
        let handler = Arc::new(self);
        let emits: Arc<[String]> = init.declaration.emits.clone().into();
        let package = init.package.clone();
        let service = service_fn(move |event: LambdaEvent<C>| {
            let handler = Arc::clone(&handler);
            let request_id = event.context.request_id.clone();
            let context = Context::shared(
                Arc::clone(&publisher),
                Some(event.context.deadline()),
                request_id.clone(),
            )
            .with_origin(Origin::request(&package, &request_id))
            .with_declared_emits(Arc::clone(&emits));
            let span = producer_span(
                &event.context,
                format!("invoke {package}"),
                FaasTrigger::Other,
                &package,
                None,
            );
            // Boxed, as the consumer's processing is: the handler's future nested in the
            // runtime's would otherwise overflow the compiler's layout depth in release builds.
            traced(span, async move {
                Box::pin(handler(event.payload, context)).await
            })
        });
        lambda_runtime::Runtime::new(service)
            .layer(lambda_runtime::layers::TracingLayer::new())
            .run()
            .await
    }
}

/// Runs `function` as this Lambda function, on a current-thread async runtime, configured by
/// its declaration (`eventrail_runtime::declaration!()`): the entry point of every function's
/// binary (`eventrail_runtime::main!(my_function::handle)`).
///
/// One thread: Lambda hands a sandbox one event at a time, its concurrency is I/O, and a
/// multi-threaded runtime would start a worker thread per CPU at init, where they compete
/// with the SDK's endpoint tables being built beside init ([`crate::prepare_publisher_client`]):
/// 1.11x the hello world's init instead of 1.38x for a consumer on the benchmark machine
/// (BENCHMARKS.md, section 7).
pub fn start<K, F: Function<K>>(
    function: F,
    manifest: EmbeddedManifest,
) -> Result<(), LambdaError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(StartError::Runtime)?;
    runtime.block_on(run(function, manifest))
}

/// [`start`] on the caller's async runtime.
pub async fn run<K, F: Function<K>>(
    function: F,
    manifest: EmbeddedManifest,
) -> Result<(), LambdaError> {
    let init = initialise(manifest)?;
    check_kind(
        manifest.package,
        &init.declaration.trigger(),
        F::SERVES,
        F::DESCRIPTION,
    )
    .inspect_err(|error| tracing::error!(error = %error, "declaration error"))?;
    // Boxed: one allocation at init keeps the kind's service future out of this one's layout.
    Box::pin(function.serve(init)).await
}

/// Whether a handler of the kind that serves `serves` (described as `handler`) fits the
/// declaration's `trigger`; the error says what to change.
pub fn check_kind(
    package: &str,
    trigger: &Trigger,
    serves: Serves,
    handler: &'static str,
) -> Result<(), StartError> {
    let declared = Serves::of(trigger);
    if declared == serves {
        return Ok(());
    }
    Err(StartError::Kind {
        package: package.to_owned(),
        declared: declared.declared(),
        handler,
        fix: declared.fix(),
    })
}

/// The steps before any kind's own: the endpoint tables on their thread, logging and the span
/// export, the declaration and the environment it calls for.
fn initialise(manifest: EmbeddedManifest) -> Result<Init, StartError> {
    crate::aws::prepare_publisher_client();
    // Logs and span lines; OTLP too when configured. A bad OTLP setting turns OTLP off, not
    // the function.
    if let Err(error) = crate::trace::export::install(manifest.package) {
        tracing::error!(error = %error, "spans are not sent over OTLP (they are still logged)");
    }
    let declaration = manifest
        .declaration()
        .inspect_err(|e| tracing::error!(error = %e, "declaration error"))?;
    let init = Init::from_env(declaration)
        .inspect_err(|e| tracing::error!(error = %e, "configuration error"))?
        .with_package(manifest.package);
    if init.dry_run() {
        tracing::info!("dry-run mode: nothing is sent to AWS");
    }
    Ok(init)
}

/// Serves a consumer as its declaration delivers to it: one EventBridge event per invocation
/// (a rule's async invoke), or SQS batches of them (`delivery = "queue"`).
async fn serve_consumer<E, H>(handler: H, init: Init) -> Result<(), LambdaError>
where
    E: Event,
    H: Handler<E> + 'static,
{
    match init.declaration.trigger() {
        Trigger::Rule {
            delivery: Delivery::Queue,
        } => serve_buffered(handler, init).await,
        _ => serve_events(handler, init).await,
    }
}

/// Serves EventBridge events through `handler`: the consumer over every invocation's
/// payload, as Lambda delivered its bytes.
async fn serve_events<E, H>(handler: H, init: Init) -> Result<(), LambdaError>
where
    E: Event,
    H: Handler<E> + 'static,
{
    let publisher = init.publisher().await;
    let dead_letters = init.dead_letters().await;
    let business_key = init.business_key();
    let Init {
        declaration,
        config,
        ..
    } = init;
    let consumer = Arc::new(
        Consumer::new(handler, publisher, dead_letters, config.function_name)
            .with_declared_emits(declaration.emits)
            .with_business_key(business_key),
    );
    // The payload reaches the handler as the bytes Lambda delivered: the outermost layer
    // sets each body aside and `lambda_runtime` decodes a placeholder into `IgnoredAny`, so
    // the kit's own decoding (`Consumer::process_payload`) sees every payload, even one
    // serde_json refuses, and can dead-letter it.
    let payloads = RawPayloads::default();
    let service = {
        let payloads = payloads.clone();
        service_fn(move |event: LambdaEvent<serde::de::IgnoredAny>| {
            let consumer = Arc::clone(&consumer);
            let payload = payloads.take(&event.context.request_id);
            let span = invocation_span(&event.context);
            traced(span, async move {
                let request_id = event.context.request_id.clone();
                let deadline = event.context.deadline();
                let Some(payload) = payload else {
                    return Err(ConsumerError::MissingPayload { request_id });
                };
                let hop = Hop {
                    request_id: &request_id,
                    function: consumer.function_name(),
                    record: None,
                };
                // Boxed: the whole processing future nested in the runtime's would otherwise
                // overflow the compiler's layout depth in the functions' binaries.
                Box::pin(consumer.process_hop(&payload, Some(deadline), &hop)).await
            })
        })
    };
    lambda_runtime::Runtime::new(service)
        .layer(lambda_runtime::layers::TracingLayer::new())
        .layer(RawPayloadLayer(payloads))
        .run()
        .await
}

/// Runs `handler`, any [`Handler`] (a type of the function's own rather than an async fn),
/// as this Lambda function: the entry point of functions written before [`start`], whose
/// `main.rs` calls it on their own async runtime. `eventrail migrate function` moves such a
/// function to [`start`].
pub async fn run_consumer<E, H>(handler: H, manifest: EmbeddedManifest) -> Result<(), LambdaError>
where
    E: Event,
    H: Handler<E> + 'static,
{
    let init = initialise(manifest)?;
    serve_consumer(handler, init).await
}

#[cfg(test)]
mod tests {
    use super::*;

    use eventrail_contract::{Declaration, HttpTrigger, ScheduleTrigger};

    #[test]
    fn a_handler_of_another_kind_than_the_declaration_is_told_what_to_change() {
        let scheduled = Declaration {
            schedule: Some(ScheduleTrigger::Expression("rate(1 day)".into())),
            ..Declaration::default()
        };
        let error = check_kind(
            "nightly",
            &scheduled.trigger(),
            Serves::Rule,
            "a consumer (it takes an Incoming event)",
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("nightly: the declaration says `schedule = ...`")
                && error.contains("takes (Scheduled, Context)"),
            "{error}"
        );
        let http = Declaration {
            http: Some(HttpTrigger::Route("POST /intake".into())),
            invoke: eventrail_contract::Invoke::Direct,
            ..Declaration::default()
        };
        assert!(check_kind("intake", &http.trigger(), Serves::Http, "").is_ok());
        let error = check_kind(
            "intake",
            &http.trigger(),
            Serves::Direct,
            "directly invoked",
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("HttpRequest<C>"), "{error}");
        let buffered = Declaration {
            consumes: vec!["TaskCreated".into()],
            delivery: Delivery::Queue,
            ..Declaration::default()
        };
        assert!(check_kind("notifier", &buffered.trigger(), Serves::Rule, "").is_ok());
    }
}
