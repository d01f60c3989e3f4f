//! What every kind of function has at init ([`Init`]: its declaration and the environment it
//! calls for), what a handler may build from it ([`State`]), and the span every invocation
//! runs in ([`invocation_span`]).

use std::future::Future;

use eventrail_contract::Declaration;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::cause::BoxError;
use crate::config::{ConfigError, RuntimeConfig};
use crate::dead_letter::SqsDeadLetterQueue;
use crate::lazy::LazyClient;
use crate::publisher::{EventBridgePutEvents, Publisher};
use crate::trace::business_key::BusinessKey;
use crate::trace::context::from_caller;
use crate::trace::spans::{FaasTrigger, Invocation};

/// The error a function's `main` returns.
pub type LambdaError = lambda_runtime::Error;

/// What a function has at init: its declaration and the environment it calls for. [`State`]
/// builds from it.
#[derive(Debug, Clone)]
pub struct Init {
    pub(crate) declaration: Declaration,
    pub(crate) config: RuntimeConfig,
    /// The declared name (the package): what derived keys name, the same in every stack.
    pub(crate) package: String,
}

impl Init {
    /// Reads the environment `declaration` calls for.
    pub fn from_env(declaration: Declaration) -> Result<Self, ConfigError> {
        let config = RuntimeConfig::from_env(&declaration)?;
        Ok(Self::new(declaration, config))
    }

    /// An init from a configuration already read (tests).
    pub fn new(declaration: Declaration, config: RuntimeConfig) -> Self {
        let package = config.function_name.clone();
        Self {
            declaration,
            config,
            package,
        }
    }

    /// The function's declared name (its package); what the kit derives keys from, so they
    /// do not change with the stack's name. `from_env` starts with Lambda's name.
    pub fn with_package(mut self, package: impl Into<String>) -> Self {
        self.package = package.into();
        self
    }

    /// The declared name.
    pub fn package(&self) -> &str {
        &self.package
    }

    /// Where the app's business key is in an event's data, when it declares one.
    pub(crate) fn business_key(&self) -> Option<BusinessKey> {
        self.config
            .business_key
            .as_deref()
            .and_then(BusinessKey::new)
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
        Some(
            Publisher::new(
                EventBridgePutEvents(aws_sdk_eventbridge::Client::new(&sdk)),
                bus.clone(),
            )
            .with_trace_context(self.config.trace_context),
        )
    }

    /// The dead-letter queue (and failed-events store) of a consumer or an SQS-fed function;
    /// `None` in dry-run mode or without one. Its clients are built on the first dead letter
    /// (the S3 one on the first letter too large for a message), once, not at init: a rare
    /// path should not cost every cold start.
    pub(crate) async fn dead_letters(&self) -> Option<SqsDeadLetterQueue> {
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

/// The span every invocation runs in, for its log lines (its request id). Not a trace's span:
/// a consumer's hop is its event's span ([`crate::trace::event`]), a producer's is
/// [`producer_span`].
pub(crate) fn invocation_span(context: &lambda_runtime::Context) -> tracing::Span {
    tracing::info_span!("invocation", request_id = %context.request_id)
}

/// A producer's invocation span (`invoke <fn>`, `schedule <fn>`, `<METHOD> <route>`, kind
/// server): its parent is the caller's context, an HTTP request's `traceparent` header
/// (`headers`: the request's header map) or the invocation's X-Ray trace id, when present and
/// valid; else it starts a new trace.
pub(crate) fn producer_span(
    context: &lambda_runtime::Context,
    name: String,
    trigger: FaasTrigger,
    function: &str,
    headers: Option<&serde_json::Value>,
) -> tracing::Span {
    let header = |wanted: &str| {
        headers?
            .as_object()?
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
            .and_then(|(_, value)| value.as_str())
    };
    let span = crate::trace::spans::invocation(
        name,
        "server",
        &Invocation {
            trigger,
            request_id: &context.request_id,
            function,
        },
    );
    let caller = from_caller(
        header("traceparent"),
        header("tracestate"),
        context.xray_trace_id.as_deref(),
    );
    let _ = span.set_parent(caller.map(|remote| remote.context()).unwrap_or_default());
    span
}

/// Runs one invocation's future in `span`, then flushes the finished spans (OTLP, when
/// configured) before the answer goes back: Lambda freezes the process after it.
pub(crate) async fn traced<T>(span: tracing::Span, invocation: impl Future<Output = T>) -> T {
    let answer = invocation.instrument(span).await;
    crate::trace::export::flush();
    answer
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
