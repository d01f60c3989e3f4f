//! Spans over OTLP/HTTP (protobuf), when `OTEL_EXPORTER_OTLP_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set: an ADOT collector (the Lambda layer listens on
//! `http://localhost:4318`), Jaeger, Honeycomb.
//!
//! `opentelemetry-otlp` encodes and retries; the requests go through the AWS SDK's own HTTP
//! stack (`aws-smithy-http-client`: hyper, rustls with ring), so OTLP brings no second HTTP
//! client or TLS library. Everything that touches the network is built on the first export,
//! not at init: a tokio runtime of one worker thread of its own (the batch processor exports
//! from its thread, while the function's runtime may be blocked in a flush) and the connector
//! (an `https://` endpoint trusts the system's roots, as `SSL_CERT_FILE` may name them).

use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use opentelemetry::Context;
use opentelemetry_sdk::{
    Resource,
    error::OTelSdkResult,
    trace::{BatchSpanProcessor, Span, SpanData, SpanExporter as _, SpanProcessor},
};

use aws_smithy_runtime_api::client::{
    http::HttpConnector, orchestrator::HttpRequest, result::ConnectorError,
};
use aws_smithy_types::{body::SdkBody, byte_stream::ByteStream};
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};

/// The variable naming the collector's base URL (`/v1/traces` is appended).
pub(crate) const ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// The variable naming the traces URL itself (taken as is, before [`ENDPOINT_VAR`]).
pub(crate) const TRACES_ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
/// Headers for every request (`key=value,key2=value2`; values percent-decoded), e.g. an API key.
const HEADERS_VAR: &str = "OTEL_EXPORTER_OTLP_HEADERS";
const TRACES_HEADERS_VAR: &str = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";
/// How long one export may take, in milliseconds.
const TIMEOUT_VAR: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
const TRACES_TIMEOUT_VAR: &str = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT";
const PROTOCOL_VAR: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
const TRACES_PROTOCOL_VAR: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
/// The only protocol built in.
const HTTP_PROTOBUF: &str = "http/protobuf";
/// The default export timeout: shorter than OpenTelemetry's 10 s, because a flush runs before
/// each invocation's response (a collector that is down delays responses by at most this,
/// retries included).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

/// Where and how spans are sent over OTLP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OtlpSettings {
    /// The traces URL (`.../v1/traces`).
    pub(crate) endpoint: String,
    /// Extra request headers.
    pub(crate) headers: Vec<(String, String)>,
    /// One export's deadline, retries included.
    pub(crate) timeout: Duration,
    /// A protocol asked for that is not built in (`grpc`, `http/json`): protobuf over HTTP is
    /// used instead, with a warning at init.
    pub(crate) unsupported_protocol: Option<String>,
}

impl OtlpSettings {
    /// `Some` when an endpoint variable is set (non-empty); `None` means no OTLP at all.
    pub(crate) fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Option<Self> {
        let set = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let endpoint = match set(TRACES_ENDPOINT_VAR) {
            Some(url) => url.trim().to_owned(),
            None => format!(
                "{}/v1/traces",
                set(ENDPOINT_VAR)?.trim().trim_end_matches('/')
            ),
        };
        let headers = set(TRACES_HEADERS_VAR)
            .or_else(|| set(HEADERS_VAR))
            .map(|text| parse_headers(&text))
            .unwrap_or_default();
        let timeout = set(TRACES_TIMEOUT_VAR)
            .or_else(|| set(TIMEOUT_VAR))
            .and_then(|ms| ms.trim().parse::<u64>().ok())
            .map_or(DEFAULT_TIMEOUT, Duration::from_millis);
        let unsupported_protocol = set(TRACES_PROTOCOL_VAR)
            .or_else(|| set(PROTOCOL_VAR))
            .map(|protocol| protocol.trim().to_owned())
            .filter(|protocol| protocol != HTTP_PROTOBUF);
        Some(Self {
            endpoint,
            headers,
            timeout,
            unsupported_protocol,
        })
    }

    /// The OTLP span exporter for these settings (no connection is made here).
    pub(crate) fn exporter(
        &self,
    ) -> Result<opentelemetry_otlp::SpanExporter, opentelemetry_otlp::ExporterBuildError> {
        opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(SdkHttp::new(
                self.timeout,
                self.endpoint.starts_with("https:"),
            ))
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(self.endpoint.clone())
            .with_timeout(self.timeout)
            .with_headers(self.headers.iter().cloned().collect())
            .build()
    }
}

/// The OTLP batch processor, started on the first finished span rather than at init: its
/// thread (and the exporter's runtime and connection, built on the first export) cost a cold
/// start nothing. The exporter itself is built at init, so bad settings are found there.
#[derive(Debug)]
pub(crate) struct LazyBatch {
    /// The exporter until the processor takes it.
    exporter: Mutex<Option<opentelemetry_otlp::SpanExporter>>,
    processor: OnceLock<BatchSpanProcessor>,
}

impl LazyBatch {
    pub(crate) fn new(exporter: opentelemetry_otlp::SpanExporter) -> Self {
        Self {
            exporter: Mutex::new(Some(exporter)),
            processor: OnceLock::new(),
        }
    }

    /// The processor, started now if need be.
    fn started(&self) -> Option<&BatchSpanProcessor> {
        if let Some(processor) = self.processor.get() {
            return Some(processor);
        }
        let exporter = self.exporter.lock().ok()?.take()?;
        let _ = self
            .processor
            .set(BatchSpanProcessor::builder(exporter).build());
        self.processor.get()
    }
}

impl SpanProcessor for LazyBatch {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if let Some(processor) = self.started() {
            processor.on_end(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        // Not started: no span ended yet, nothing to send.
        self.processor
            .get()
            .map_or(Ok(()), SpanProcessor::force_flush)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.processor
            .get()
            .map_or(Ok(()), |processor| processor.shutdown_with_timeout(timeout))
    }

    fn set_resource(&mut self, resource: &Resource) {
        // Called while the provider is built, before any span: the exporter is still here.
        if let Ok(mut exporter) = self.exporter.lock()
            && let Some(exporter) = exporter.as_mut()
        {
            exporter.set_resource(resource);
        }
    }
}

/// `key=value,key2=value2` (blanks around each trimmed; a pair without `=` skipped).
fn parse_headers(text: &str) -> Vec<(String, String)> {
    text.split(',')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            let key = key.trim();
            (!key.is_empty()).then(|| (key.to_owned(), value.trim().to_owned()))
        })
        .collect()
}

/// Why one OTLP request failed.
#[derive(Debug, thiserror::Error)]
enum SendError {
    #[error("starting the OTLP exporter's tokio runtime")]
    Runtime(#[source] std::io::Error),
    #[error("the OTLP request is not a valid HTTP request")]
    Request(#[source] aws_smithy_runtime_api::http::HttpError),
    #[error("sending the OTLP request")]
    Connector(#[source] ConnectorError),
    #[error("reading the collector's response")]
    Body(#[source] aws_smithy_types::byte_stream::error::Error),
    #[error("the collector's response is not a valid HTTP response")]
    Response(#[source] http::Error),
    #[error("no answer from the collector within {0:?}")]
    Timeout(Duration),
    #[error("the OTLP exporter's runtime is gone")]
    Unavailable,
    #[error("the OTLP request's task ended early")]
    Task(#[source] tokio::task::JoinError),
}

/// `opentelemetry_http::HttpClient` over the AWS SDK's connector, on a runtime of its own.
#[derive(Debug)]
pub(crate) struct SdkHttp {
    timeout: Duration,
    /// Whether the endpoint is `https:` (else no trust store is loaded).
    https: bool,
    sending: OnceLock<Sending>,
}

/// What the first request builds.
#[derive(Debug)]
struct Sending {
    runtime: Option<tokio::runtime::Runtime>,
    connector: Arc<aws_smithy_http_client::Connector>,
}

impl Drop for Sending {
    fn drop(&mut self) {
        // Dropping a runtime inside another one's async context panics; nothing of an export
        // in flight is waited for at that point anyway.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Sending {
    fn build(https: bool) -> Result<Self, SendError> {
        use aws_smithy_http_client::tls;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("otlp-export")
            .enable_all()
            .build()
            .map_err(SendError::Runtime)?;
        // The system's roots for an `https:` collector; none to read for a plain `http:` one
        // (the ADOT layer on localhost), whose first export then parses no certificate.
        let roots = tls::TrustStore::empty().with_native_roots(https);
        let context = tls::TlsContext::builder()
            .with_trust_store(roots)
            .build()
            .unwrap_or_default();
        let connector = aws_smithy_http_client::Connector::builder()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::Ring,
            ))
            .tls_context(context)
            .build();
        Ok(Self {
            runtime: Some(runtime),
            connector: Arc::new(connector),
        })
    }
}

impl SdkHttp {
    pub(crate) fn new(timeout: Duration, https: bool) -> Self {
        Self {
            timeout,
            https,
            sending: OnceLock::new(),
        }
    }

    fn sending(&self) -> Result<&Sending, SendError> {
        if self.sending.get().is_none() {
            // Only the batch processor's thread sends; were there a race, the value set
            // first is kept and this one dropped.
            let _ = self.sending.set(Sending::build(self.https)?);
        }
        self.sending.get().ok_or(SendError::Unavailable)
    }

    async fn send(&self, request: Request<Bytes>) -> Result<Response<Bytes>, SendError> {
        let sending = self.sending()?;
        let (parts, body) = request.into_parts();
        let request = HttpRequest::try_from(Request::from_parts(parts, SdkBody::from(body)))
            .map_err(SendError::Request)?;
        let connector = sending.connector.clone();
        let timeout = self.timeout;
        let exchange = async move {
            let response = connector
                .call(request)
                .await
                .map_err(SendError::Connector)?;
            let mut answer = Response::builder().status(response.status().as_u16());
            for (name, value) in response.headers().iter() {
                answer = answer.header(name, value);
            }
            let body = ByteStream::new(response.into_body())
                .collect()
                .await
                .map_err(SendError::Body)?
                .into_bytes();
            answer.body(body).map_err(SendError::Response)
        };
        let Some(runtime) = &sending.runtime else {
            return Err(SendError::Unavailable);
        };
        runtime
            .spawn(async move {
                tokio::time::timeout(timeout, exchange)
                    .await
                    .unwrap_or(Err(SendError::Timeout(timeout)))
            })
            .await
            .map_err(SendError::Task)?
    }
}

impl HttpClient for SdkHttp {
    fn send_bytes<'life0, 'async_trait>(
        &'life0 self,
        request: Request<Bytes>,
    ) -> Pin<Box<dyn Future<Output = Result<Response<Bytes>, HttpError>> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move { self.send(request).await.map_err(HttpError::from) })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Option<OtlpSettings> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        OtlpSettings::from_lookup(&|name| vars.get(name).cloned())
    }

    #[test]
    fn no_endpoint_no_otlp() {
        assert_eq!(settings(&[]), None);
        assert_eq!(settings(&[(ENDPOINT_VAR, " ")]), None);
        assert_eq!(
            settings(&[(HEADERS_VAR, "x-api-key=k"), (TIMEOUT_VAR, "500")]),
            None
        );
    }

    #[test]
    fn the_standard_variables_configure_the_exporter() {
        let base = settings(&[(ENDPOINT_VAR, "http://localhost:4318/")]).unwrap();
        assert_eq!(base.endpoint, "http://localhost:4318/v1/traces");
        assert_eq!(base.timeout, DEFAULT_TIMEOUT);
        assert_eq!(base.headers, []);
        assert_eq!(base.unsupported_protocol, None);

        let traces = settings(&[
            (ENDPOINT_VAR, "http://localhost:4318"),
            (TRACES_ENDPOINT_VAR, "https://api.example.test/traces"),
            (HEADERS_VAR, "x-honeycomb-team=abc, x-other = 1,broken"),
            (TIMEOUT_VAR, "1500"),
            (PROTOCOL_VAR, "grpc"),
        ])
        .unwrap();
        assert_eq!(traces.endpoint, "https://api.example.test/traces");
        assert_eq!(
            traces.headers,
            [
                ("x-honeycomb-team".to_owned(), "abc".to_owned()),
                ("x-other".to_owned(), "1".to_owned())
            ]
        );
        assert_eq!(traces.timeout, Duration::from_millis(1500));
        assert_eq!(traces.unsupported_protocol.as_deref(), Some("grpc"));

        let specific = settings(&[
            (ENDPOINT_VAR, "http://localhost:4318"),
            (HEADERS_VAR, "a=1"),
            (TRACES_HEADERS_VAR, "b=2"),
            (TRACES_TIMEOUT_VAR, "200"),
            (TIMEOUT_VAR, "9000"),
            (TRACES_PROTOCOL_VAR, HTTP_PROTOBUF),
            (PROTOCOL_VAR, "grpc"),
        ])
        .unwrap();
        assert_eq!(specific.headers, [("b".to_owned(), "2".to_owned())]);
        assert_eq!(specific.timeout, Duration::from_millis(200));
        assert_eq!(specific.unsupported_protocol, None);
    }
}
