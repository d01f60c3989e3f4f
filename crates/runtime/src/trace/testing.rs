//! Unit tests' tracer: the OpenTelemetry layer over a provider with the kit's ids, whose
//! finished spans are kept in memory to be inspected.

use std::sync::{Arc, Mutex, PoisonError};

use opentelemetry::trace::{SpanId, TracerProvider as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use tracing_subscriber::{Layer as _, filter::filter_fn, layer::SubscriberExt as _};

use crate::trace::ids::XrayIds;
use crate::trace::spans::TARGET;

/// Keeps every exported span.
#[derive(Debug, Clone, Default)]
pub(crate) struct Spans(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for Spans {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(batch);
        Ok(())
    }
}

impl Spans {
    /// The finished spans so far.
    pub(crate) fn all(&self) -> Vec<SpanData> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The one finished span named `name`.
    pub(crate) fn named(&self, name: &str) -> SpanData {
        let all = self.all();
        let mut found = all.iter().filter(|span| span.name == name);
        let span = found
            .next()
            .unwrap_or_else(|| panic!("no span {name}; spans: {:?}", names(&all)));
        assert!(found.next().is_none(), "several spans {name}");
        span.clone()
    }
}

/// The names of `spans`.
pub(crate) fn names(spans: &[SpanData]) -> Vec<String> {
    spans.iter().map(|span| span.name.to_string()).collect()
}

/// The value of attribute `key` of `span`, as text.
pub(crate) fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

/// A span's id as a `u64`.
pub(crate) fn id(span_id: SpanId) -> u64 {
    u64::from_be_bytes(span_id.to_bytes())
}

/// Installs the tracer for the current thread until the guard drops; returns the spans it
/// finishes.
pub(crate) fn tracer() -> (Spans, tracing::subscriber::DefaultGuard) {
    let spans = Spans::default();
    let provider = SdkTracerProvider::builder()
        .with_id_generator(XrayIds)
        .with_simple_exporter(spans.clone())
        .build();
    let layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("eventrail-test"))
        .with_filter(filter_fn(|metadata| metadata.target() == TARGET));
    let subscriber = tracing_subscriber::registry().with(layer);
    (spans, tracing::subscriber::set_default(subscriber))
}
