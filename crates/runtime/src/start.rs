//! The one entry point of every eventrail function: [`start`] (what `eventrail_runtime::main!`
//! calls, and so the binary every function gets from its build script).
//!
//! A function is one plain async fn, its handler; how it is started follows from its
//! declaration (`[package.metadata.eventrail]`) and from what the handler takes:
//!
//! | the handler | the declaration | Lambda hands it |
//! |---|---|---|
//! | `async fn(Incoming<E>) -> Result<Emitted, HandlerError>` | `consumes = [...]` | one EventBridge event (rule) |
//! | `async fn(Incoming<E>, &S) -> Result<Emitted, HandlerError>`, `S:` [`State`] | `consumes = [...]` | the same, with `S` built once at init |
//! | `async fn(C, Context) -> Result<R, Err>` | `invoke = "direct"` | the caller's payload, decoded as `C`; `R` is the answer |
//!
//! Every kind goes through the same steps ([`run`]): logging, the declaration, the
//! environment it calls for ([`Init`]), then the kind's own service ([`Function::serve`]), each
//! invocation in one `invocation` span, under `lambda_runtime`'s tracing layer. A new trigger
//! (an HTTP API, a schedule, queue batches) is one more [`Function`] impl with its input type
//! and its [`Invoke`]; tracing (a span per invocation, trace context propagation) plugs into
//! `invocation_span`, the one place every kind makes its span.

use std::{fmt, future::Future, sync::Arc, time::SystemTime};

use eventrail_contract::{Declaration, EmbeddedManifest, Event, Invoke};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde::{Serialize, de::DeserializeOwned};
use tracing::Instrument;

use crate::cause::{BoxError, Cause};
use crate::config::{ConfigError, RuntimeConfig};
use crate::consumer::{Consumer, ConsumerError};
use crate::dead_letter::SqsDeadLetterQueue;
use crate::handler::{Emitted, Handler, HandlerError, Incoming};
use crate::lazy::LazyClient;
use crate::payload::{RawPayloadLayer, RawPayloads};
use crate::publisher::{EventBridgePutEvents, Publisher};

/// The error a function's `main` returns.
pub type LambdaError = lambda_runtime::Error;

/// Why a function could not start; logged, then returned to Lambda as the init error.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The declaration compiled in cannot be read.
    #[error(transparent)]
    Declaration(#[from] eventrail_contract::DeclarationError),
    /// A variable the declaration calls for is missing.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The handler's kind and the declaration's `invoke` disagree.
    #[error(
        "{package}: the declaration says invoke = \"{declared}\" but the handler is {handler}; \
         {fix}"
    )]
    Kind {
        /// The package.
        package: String,
        /// The declaration's `invoke`.
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

/// What a function has at init: its declaration and the environment it calls for. [`State`]
/// builds from it.
#[derive(Debug, Clone)]
pub struct Init {
    declaration: Declaration,
    config: RuntimeConfig,
}

impl Init {
    /// Reads the environment `declaration` calls for.
    pub fn from_env(declaration: Declaration) -> Result<Self, ConfigError> {
        let config = RuntimeConfig::from_env(&declaration)?;
        Ok(Self {
            declaration,
            config,
        })
    }

    /// The function's declaration.
    pub fn declaration(&self) -> &Declaration {
        &self.declaration
    }

    /// The environment read for it.
    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// True in dry-run mode: nothing is sent to AWS.
    pub fn dry_run(&self) -> bool {
        self.config.dry_run
    }

    /// The AWS configuration, loaded once for the process ([`crate::aws_config`]); `None` in
    /// dry-run mode.
    pub async fn sdk(&self) -> Option<aws_config::SdkConfig> {
        if self.config.dry_run {
            None
        } else {
            Some(crate::aws::aws_config().await)
        }
    }

    /// The publisher on the function's bus; `None` in dry-run mode or when it emits nothing.
    pub async fn publisher(&self) -> Option<Publisher<EventBridgePutEvents>> {
        let bus = self.config.bus_name.as_ref()?;
        let sdk = self.sdk().await?;
        Some(Publisher::new(
            EventBridgePutEvents(aws_sdk_eventbridge::Client::new(&sdk)),
            bus.clone(),
        ))
    }

    /// The dead-letter queue (and failed-events store) of a consumer; `None` in dry-run mode
    /// or without one. Its clients are built on the first poison event (the S3 one on the
    /// first letter too large for a message), once, not at init: a rare path should not cost
    /// every cold start.
    async fn dead_letters(&self) -> Option<SqsDeadLetterQueue> {
        let url = self.config.dead_letter_queue_url.as_ref()?;
        let sdk = self.sdk().await?;
        let sqs = LazyClient::new(crate::dead_letter::SQS_CLIENT, {
            let sdk = sdk.clone();
            move || aws_sdk_sqs::Client::new(&sdk)
        });
        let queue = SqsDeadLetterQueue::with_lazy_client(sqs, url.clone());
        Some(match &self.config.failed_events_bucket {
            Some(bucket) => {
                let s3 = LazyClient::new(crate::dead_letter::S3_CLIENT, move || s3_client(&sdk));
                queue
                    .with_lazy_event_store(s3, bucket.clone())
                    .with_event_key_prefix(self.config.failed_events_prefix.clone())
            }
            None => queue,
        })
    }
}

/// What a handler needs beyond its event (a client, a store), built once at init from
/// [`Init`] and lent to every invocation: the handler's second argument, `&S`.
pub trait State: Sized + Send + Sync + 'static {
    /// Builds the state; an error stops the function at init, with it.
    fn init(init: &Init) -> impl Future<Output = Result<Self, BoxError>>;
}

/// What a directly invoked handler gets beside the payload: the publisher on the function's
/// bus and when Lambda stops the invocation.
#[derive(Debug, Clone)]
pub struct Context {
    publisher: Arc<Option<Publisher<EventBridgePutEvents>>>,
    deadline: Option<SystemTime>,
    request_id: String,
}

impl Context {
    /// A context: `publisher` is `None` in dry-run mode, `deadline` outside Lambda (tests).
    pub fn new(
        publisher: Option<Publisher<EventBridgePutEvents>>,
        deadline: Option<SystemTime>,
    ) -> Self {
        Self {
            publisher: Arc::new(publisher),
            deadline,
            request_id: String::new(),
        }
    }

    /// The publisher on the function's bus; `None` in dry-run mode.
    pub fn publisher(&self) -> Option<&Publisher<EventBridgePutEvents>> {
        self.publisher.as_ref().as_ref()
    }

    /// When Lambda stops this invocation (`None` outside Lambda): end publishing before it, so
    /// the caller gets an error rather than a timeout.
    pub fn deadline(&self) -> Option<SystemTime> {
        self.deadline
    }

    /// Lambda's request id (empty outside Lambda).
    pub fn request_id(&self) -> &str {
        &self.request_id
    }
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

    /// What `OnCommand` stands for: payload in, answer or error out.
    type Signature<C, R, Err> = fn(C) -> Result<R, Err>;
}

/// A handler [`start`] can run; implemented for the signatures of the module's table (the
/// `Kind` parameter tells them apart), not to be implemented by hand.
pub trait Function<Kind>: Sized + Send + Sync + 'static {
    /// The `invoke` of a declaration this kind serves.
    const INVOKE: Invoke;
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
    const INVOKE: Invoke = Invoke::Rule;
    const DESCRIPTION: &'static str = "a consumer (it takes an Incoming event)";

    fn serve(self, init: Init) -> impl Future<Output = Result<(), LambdaError>> {
        serve_events(self, init)
    }
}

impl<F, E, S, Fut> Function<kind::OnEventWith<E, S>> for F
where
    E: Event,
    S: State,
    F: Fn(Incoming<E>, &'static S) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Emitted, HandlerError>> + Send,
{
    const INVOKE: Invoke = Invoke::Rule;
    const DESCRIPTION: &'static str = "a consumer (it takes an Incoming event)";

    async fn serve(self, init: Init) -> Result<(), LambdaError> {
        let state = S::init(&init)
            .await
            .map_err(|e| StartError::State(Cause::new(e)))
            .inspect_err(|e| tracing::error!(error = %e, "init error"))?;
        // Built once and kept until the process ends: every invocation borrows it.
        let state: &'static S = Box::leak(Box::new(state));
        serve_events(move |event: Incoming<E>| self(event, state), init).await
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
    const INVOKE: Invoke = Invoke::Direct;
    const DESCRIPTION: &'static str = "directly invoked (it takes a payload and a Context)";

    async fn serve(self, init: Init) -> Result<(), LambdaError> {
        let publisher = Arc::new(init.publisher().await);
        let handler = Arc::new(self);
        let service = service_fn(move |event: LambdaEvent<C>| {
            let handler = Arc::clone(&handler);
            let context = Context {
                publisher: Arc::clone(&publisher),
                deadline: Some(event.context.deadline()),
                request_id: event.context.request_id.clone(),
            };
            let span = invocation_span(&event.context);
            // Boxed, as the consumer's processing is: the handler's future nested in the
            // runtime's would otherwise overflow the compiler's layout depth in release builds.
            async move { Box::pin(handler(event.payload, context)).await }.instrument(span)
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
    if init.declaration.invoke != F::INVOKE {
        let (declared, fix) = match init.declaration.invoke {
            Invoke::Direct => (
                "direct",
                "a directly invoked handler takes (payload, eventrail_runtime::Context)",
            ),
            Invoke::Rule => (
                "rule",
                "a consumer's handler takes an Incoming<E>; a producer declares invoke = \"direct\"",
            ),
        };
        let error = StartError::Kind {
            package: manifest.package.to_owned(),
            declared,
            handler: F::DESCRIPTION,
            fix,
        };
        tracing::error!(error = %error, "declaration error");
        return Err(error.into());
    }
    // Boxed: one allocation at init keeps the kind's service future out of this one's layout.
    Box::pin(function.serve(init)).await
}

/// The steps before any kind's own: the endpoint tables on their thread, logging, the
/// declaration and the environment it calls for.
fn initialise(manifest: EmbeddedManifest) -> Result<Init, StartError> {
    crate::aws::prepare_publisher_client();
    crate::logging::init();
    let declaration = manifest
        .declaration()
        .inspect_err(|e| tracing::error!(error = %e, "declaration error"))?;
    let init = Init::from_env(declaration)
        .inspect_err(|e| tracing::error!(error = %e, "configuration error"))?;
    if init.dry_run() {
        tracing::info!("dry-run mode: nothing is sent to AWS");
    }
    Ok(init)
}

/// The span every invocation runs in, whatever its kind: where tracing attaches the trace
/// context it propagates.
pub(crate) fn invocation_span(context: &lambda_runtime::Context) -> tracing::Span {
    tracing::info_span!("invocation", request_id = %context.request_id)
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
    let Init {
        declaration,
        config,
    } = init;
    let consumer = Arc::new(
        Consumer::new(handler, publisher, dead_letters, config.function_name)
            .with_declared_emits(declaration.emits),
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
            async move {
                let request_id = event.context.request_id.clone();
                let deadline = event.context.deadline();
                let Some(payload) = payload else {
                    return Err(ConsumerError::MissingPayload { request_id });
                };
                // Boxed: the whole processing future nested in the runtime's would otherwise
                // overflow the compiler's layout depth in the functions' binaries.
                Box::pin(consumer.process_payload(&payload, Some(deadline))).await
            }
            .instrument(span)
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
    serve_events(handler, init).await
}

/// An S3 client for the failed-events bucket. Path-style addressing when an endpoint is set
/// (LocalStack), as virtual-hosted bucket names need DNS the local stack does not serve.
fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let mut config = aws_sdk_s3::config::Builder::from(sdk);
    if sdk.endpoint_url().is_some() {
        config = config.force_path_style(true);
    }
    aws_sdk_s3::Client::from_conf(config.build())
}
