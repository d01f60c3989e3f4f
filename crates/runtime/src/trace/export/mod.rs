//! Where finished spans go.
//!
//! [`install`] runs once at init: it builds the tracer provider and installs the process's
//! subscriber, the JSON log layer ([`crate::logging`], unchanged) beside the
//! `tracing-opentelemetry` layer that turns the runtime's spans into OpenTelemetry spans.
//! - Always: every finished, sampled span is written to the function's output as one line
//!   `{"eventrail_span": <SpanLine>}` ([`line`]), as it ends. CloudWatch Logs then holds the
//!   trace, with no collector to run and no network.
//! - When `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set: the
//!   spans also go over OTLP/HTTP ([`otlp`]), batched on the SDK's thread and sent at the
//!   latest by [`TraceExport::flush`], which the runtime calls before each invocation's
//!   response (Lambda freezes the process after it). Unset: no exporter is built, nothing
//!   connects anywhere.
//! - Sampling: `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` ([`sampler`]); by default
//!   every span is sampled (`always_on`); the `parentbased_*` samplers follow the sampled flag
//!   of the `traceparent` a hop continues.
//!
//! Which spans: the runtime's (target [`TARGET`], `eventrail::trace`) at level `INFO` or
//! above, whatever `RUST_LOG` says (it filters the log lines only). Events are not attached to spans.
//! A span's OpenTelemetry name, kind and status come from its `otel.name`, `otel.kind`,
//! `otel.status_code` and `otel.status_description` fields (`tracing-opentelemetry`'s
//! convention); its other fields are its attributes.

mod line;
mod otlp;

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use opentelemetry::{InstrumentationScope, KeyValue, trace::TracerProvider as _};
use opentelemetry_sdk::{
    Resource,
    error::OTelSdkError,
    trace::{Sampler, SdkTracerProvider},
};
use tracing::{Level, Subscriber};
use tracing_subscriber::{
    Layer,
    filter::{FilterExt as _, LevelFilter, filter_fn},
    layer::SubscriberExt as _,
    registry::LookupSpan,
    util::SubscriberInitExt as _,
};

use crate::trace::{ids::XrayIds, spans::TARGET};
use line::{LineSink, SpanLines};
use otlp::OtlpSettings;

/// The instrumentation scope of the runtime's spans.
const SCOPE: &str = "eventrail-runtime";
/// The sampler's name and its argument.
const SAMPLER_VAR: &str = "OTEL_TRACES_SAMPLER";
const SAMPLER_ARG_VAR: &str = "OTEL_TRACES_SAMPLER_ARG";
/// When set, the OpenTelemetry resource's `service.name` (else the function's declared name).
const SERVICE_NAME_VAR: &str = "OTEL_SERVICE_NAME";

/// Why the span export could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The OTLP settings (the endpoint's URL) are not usable.
    #[error("OTLP span export to `{endpoint}`: {source}")]
    Otlp {
        /// The traces URL the environment names.
        endpoint: String,
        /// What the exporter said.
        #[source]
        source: opentelemetry_otlp::ExporterBuildError,
    },
}

/// Why a flush did not complete: the spans it held may be lost (never the invocation).
#[derive(Debug, thiserror::Error)]
#[error("sending spans to {endpoint}")]
pub struct FlushError {
    /// The traces URL.
    endpoint: String,
    #[source]
    source: OTelSdkError,
}

/// The process's span export, made once by [`install`]. Cloning shares it.
#[derive(Debug, Clone)]
pub struct TraceExport {
    provider: SdkTracerProvider,
    /// The OTLP traces URL, when spans also go there.
    otlp_endpoint: Option<Arc<str>>,
}

/// What the environment asks of the export.
#[derive(Debug)]
pub(crate) struct Settings {
    sampler: Sampler,
    otlp: Option<OtlpSettings>,
    /// The resource's attributes beside `service.name` (OTLP only).
    resource: Vec<KeyValue>,
    /// `OTEL_SERVICE_NAME`, when set.
    service_name: Option<String>,
}

impl Settings {
    /// The settings `lookup` (the environment) gives.
    pub(crate) fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Self {
        let mut resource = vec![KeyValue::new("cloud.provider", "aws")];
        for (attribute, variable) in [
            ("cloud.region", "AWS_REGION"),
            ("faas.name", "AWS_LAMBDA_FUNCTION_NAME"),
            ("faas.version", "AWS_LAMBDA_FUNCTION_VERSION"),
        ] {
            if let Some(value) = lookup(variable) {
                resource.push(KeyValue::new(attribute, value));
            }
        }
        Self {
            sampler: sampler(lookup),
            otlp: OtlpSettings::from_lookup(lookup),
            resource,
            service_name: lookup(SERVICE_NAME_VAR).filter(|name| !name.trim().is_empty()),
        }
    }
}

/// The sampler `OTEL_TRACES_SAMPLER` names (`always_on`, `always_off`, `traceidratio`,
/// `parentbased_always_on`, `parentbased_always_off`, `parentbased_traceidratio`), with the
/// ratio from `OTEL_TRACES_SAMPLER_ARG` (0 to 1, default 1). Unset or unknown: `always_on`.
///
/// Not OpenTelemetry's `parentbased_always_on`: inside Lambda the caller's context of a
/// producer is X-Ray's (`_X_AMZN_TRACE_ID`), which says `Sampled=0` whenever the function's
/// X-Ray active tracing is off, so a parent-based default would log no span of any flow.
pub(crate) fn sampler(lookup: &dyn Fn(&str) -> Option<String>) -> Sampler {
    let ratio = || {
        lookup(SAMPLER_ARG_VAR)
            .and_then(|arg| arg.trim().parse::<f64>().ok())
            .filter(|ratio| (0.0..=1.0).contains(ratio))
            .unwrap_or(1.0)
    };
    let name = lookup(SAMPLER_VAR).map(|name| name.trim().to_ascii_lowercase());
    match name.as_deref() {
        Some("always_on") => Sampler::AlwaysOn,
        Some("always_off") => Sampler::AlwaysOff,
        Some("traceidratio") => Sampler::TraceIdRatioBased(ratio()),
        Some("parentbased_always_off") => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
        Some("parentbased_traceidratio") => {
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio())))
        }
        Some("parentbased_always_on") => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
        _ => Sampler::AlwaysOn,
    }
}

/// The export made by [`install`], for [`flush`].
static INSTALLED: OnceLock<TraceExport> = OnceLock::new();

/// Sets up the span export and the process's subscriber (JSON logs + spans), once, at init;
/// `service` is the function's declared name (every span line's `service`). Later calls return
/// the first call's export.
///
/// An `Err` (OTLP settings that cannot work, e.g. an endpoint that is not a URL) still leaves
/// the logs and the span lines set up, without OTLP: the caller logs the error and goes on, so
/// a tracing setting never stops a function. Should a subscriber already be installed (a
/// function's own `main` set one up), it stays: the logs go where it sends them and no span is
/// exported.
pub fn install(service: &str) -> Result<TraceExport, ExportError> {
    if let Some(export) = INSTALLED.get() {
        return Ok(export.clone());
    }
    let mut settings = Settings::from_lookup(&|name| std::env::var(name).ok());
    let (export, otlp_error) = match TraceExport::build(service, &settings, LineSink::Stdout) {
        Ok(export) => (export, None),
        Err(error) => {
            settings.otlp = None;
            (
                TraceExport::build(service, &settings, LineSink::Stdout)?,
                Some(error),
            )
        }
    };
    let _ = tracing_subscriber::registry()
        .with(crate::logging::json_layer())
        .with(export.layer())
        .try_init();
    if let Some(protocol) = settings
        .otlp
        .as_ref()
        .and_then(|otlp| otlp.unsupported_protocol.as_ref())
    {
        tracing::warn!(
            protocol = %protocol,
            "OTEL_EXPORTER_OTLP_PROTOCOL: only http/protobuf is built in; spans are sent with it"
        );
    }
    if let Some(endpoint) = export.otlp_endpoint() {
        tracing::info!(endpoint, "spans also go over OTLP/HTTP");
    }
    let export = INSTALLED.get_or_init(|| export).clone();
    match otlp_error {
        Some(error) => Err(error),
        None => Ok(export),
    }
}

/// Flushes the installed export ([`TraceExport::flush`]); a failure is logged as a warning.
/// Nothing to do without OTLP, or before [`install`].
pub fn flush() {
    if let Some(export) = INSTALLED.get()
        && let Err(error) = export.flush()
    {
        tracing::warn!(error = %error, source = ?std::error::Error::source(&error), "spans not sent");
    }
}

/// For the benchmarks (`crates/runtime/benches/`, through `__private`): the span layer with
/// the settings `vars` give (`OTEL_*`), its span lines written to `spans`.
#[doc(hidden)]
pub fn bench_span_layer<S>(
    service: &str,
    vars: &[(&str, &str)],
    spans: Arc<std::sync::Mutex<dyn std::io::Write + Send>>,
) -> Result<(impl Layer<S> + use<S>, TraceExport), ExportError>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let settings = Settings::from_lookup(&|name| {
        vars.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    });
    let export = TraceExport::build(service, &settings, LineSink::Writer(spans))?;
    Ok((export.layer(), export))
}

impl TraceExport {
    /// The provider for `settings`, writing span lines to `sink`.
    pub(crate) fn build(
        service: &str,
        settings: &Settings,
        sink: LineSink,
    ) -> Result<Self, ExportError> {
        let mut provider = SdkTracerProvider::builder()
            .with_sampler(settings.sampler.clone())
            .with_id_generator(XrayIds)
            .with_span_processor(SpanLines::new(service, sink));
        let mut otlp_endpoint = None;
        if let Some(otlp) = &settings.otlp {
            let exporter = otlp.exporter().map_err(|source| ExportError::Otlp {
                endpoint: otlp.endpoint.clone(),
                source,
            })?;
            provider = provider
                .with_span_processor(otlp::LazyBatch::new(exporter))
                .with_resource(
                    Resource::builder()
                        .with_attributes(settings.resource.iter().cloned())
                        .with_service_name(
                            settings
                                .service_name
                                .clone()
                                .unwrap_or_else(|| service.to_owned()),
                        )
                        .build(),
                );
            otlp_endpoint = Some(Arc::from(otlp.endpoint.as_str()));
        }
        Ok(Self {
            provider: provider.build(),
            otlp_endpoint,
        })
    }

    /// The `tracing-opentelemetry` layer over this export's provider: the runtime's spans at
    /// `INFO` or above, no events, no code location, thread or busy/idle attributes.
    pub(crate) fn layer<S>(&self) -> impl Layer<S> + use<S>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let scope = InstrumentationScope::builder(SCOPE)
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        let spans = filter_fn(|meta| meta.is_span() && meta.target() == TARGET)
            .and(LevelFilter::from_level(Level::INFO));
        tracing_opentelemetry::layer()
            .with_tracer(self.provider.tracer_with_scope(scope))
            .with_location(false)
            .with_threads(false)
            .with_tracked_inactivity(false)
            .with_target(false)
            .with_filter(spans)
    }

    /// The OTLP traces URL, when spans also go over OTLP.
    pub fn otlp_endpoint(&self) -> Option<&str> {
        self.otlp_endpoint.as_deref()
    }

    /// Sends the spans the OTLP exporter still holds and waits for the collector's answer
    /// (bounded by the export timeout, `OTEL_EXPORTER_OTLP_TIMEOUT`, 3 s by default). Call it
    /// before an invocation's response: Lambda freezes the process after it, and a span left
    /// in the batch would wait for the next invocation, or be lost. Without OTLP it returns at
    /// once: span lines are written as each span ends.
    ///
    /// It blocks the calling thread; the export itself runs on the exporter's threads, so
    /// calling it from the function's (current-thread) runtime is fine.
    pub fn flush(&self) -> Result<(), FlushError> {
        let Some(endpoint) = &self.otlp_endpoint else {
            return Ok(());
        };
        self.provider.force_flush().map_err(|source| FlushError {
            endpoint: endpoint.to_string(),
            source,
        })
    }

    /// Flushes and stops the exporters, waiting at most `timeout` (tests, a process's end).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn shutdown(&self, timeout: Duration) {
        let _ = self.provider.shutdown_with_timeout(timeout);
    }
}

/// Spans captured in memory, for tests of the runtime's spans: a dispatcher with the span
/// layer alone (no log lines), whose span lines are kept.
#[cfg(test)]
pub(crate) mod capture {
    use std::sync::{Arc, Mutex};

    use eventrail_contract::trace::{SPAN_LINE_KEY, SpanLine};
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::{Settings, TraceExport, line::LineSink};

    /// A test's span export: install [`Capture::dispatch`] (e.g.
    /// `tracing::dispatcher::set_default(&capture.dispatch)`), run the code, read
    /// [`Capture::spans`].
    pub(crate) struct Capture {
        pub(crate) dispatch: tracing::Dispatch,
        pub(crate) export: TraceExport,
        lines: Arc<Mutex<Vec<String>>>,
    }

    impl Capture {
        /// Every span sampled, no OTLP.
        pub(crate) fn new(service: &str) -> Self {
            Self::with_env(service, &[])
        }

        /// With the export settings these variables give (`OTEL_*`).
        pub(crate) fn with_env(service: &str, vars: &[(&str, &str)]) -> Self {
            let vars: Vec<(String, String)> = vars
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            let settings = Settings::from_lookup(&|name| {
                vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
            });
            let lines = Arc::new(Mutex::new(Vec::new()));
            let export = TraceExport::build(service, &settings, LineSink::Memory(lines.clone()))
                .expect("test export settings are valid");
            let dispatch =
                tracing::Dispatch::new(tracing_subscriber::registry().with(export.layer()));
            Self {
                dispatch,
                export,
                lines,
            }
        }

        /// The span lines written so far, as raw lines.
        pub(crate) fn lines(&self) -> Vec<String> {
            self.lines.lock().map(|l| l.clone()).unwrap_or_default()
        }

        /// The spans written so far, in the order they ended.
        pub(crate) fn spans(&self) -> Vec<SpanLine> {
            self.lines()
                .iter()
                .map(|line| {
                    let value: serde_json::Value =
                        serde_json::from_str(line).expect("a span line is JSON");
                    serde_json::from_value(value[SPAN_LINE_KEY].clone())
                        .expect("a span line holds a SpanLine")
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests;
