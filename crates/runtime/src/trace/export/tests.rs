use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    sync::mpsc,
    time::Duration,
};

use eventrail_contract::trace::{SpanKind, SpanStatus};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;

use super::{capture::Capture, *};

/// Two of the runtime's spans, the second inside the first, and one of another target (which
/// is not exported).
fn emit_a_hop() {
    let process = tracing::info_span!(
        target: TARGET,
        "process",
        otel.name = "process TaskCreated",
        otel.kind = "consumer",
        messaging.message.id = "e-1",
        faas.coldstart = true,
    );
    process.in_scope(|| {
        let handle = tracing::info_span!(
            target: TARGET,
            "handle",
            otel.name = "handle TaskCreated",
            otel.status_code = "error",
            otel.status_description = "handler failed",
        );
        handle.in_scope(|| {
            tracing::info!("an event, not a span");
            let other = tracing::info_span!(target: "somebody_else", "theirs");
            other.in_scope(|| {});
        });
    });
}

#[test]
fn span_lines_parse_back_with_their_parents() {
    let capture = Capture::new("task-board");
    tracing::dispatcher::with_default(&capture.dispatch, emit_a_hop);
    let spans = capture.spans();
    assert_eq!(spans.len(), 2, "{:#?}", capture.lines());
    // In the order they ended: the handler first.
    let (handle, process) = (&spans[0], &spans[1]);
    assert_eq!(process.name, "process TaskCreated");
    assert_eq!(process.kind, SpanKind::Consumer);
    assert_eq!(process.parent_span_id, None);
    assert_eq!(process.attributes["messaging.message.id"], "e-1");
    assert_eq!(process.attributes["faas.coldstart"], true);
    assert_eq!(handle.name, "handle TaskCreated");
    assert_eq!(handle.kind, SpanKind::Internal);
    assert_eq!(
        handle.parent_span_id.as_deref(),
        Some(process.span_id.as_str())
    );
    assert_eq!(handle.trace_id, process.trace_id);
    assert_eq!(handle.status, SpanStatus::Error);
    assert_eq!(handle.status_message.as_deref(), Some("handler failed"));
    assert!(handle.start_unix_nano >= process.start_unix_nano);
    assert!(handle.end_unix_nano <= process.end_unix_nano);
    for span in &spans {
        assert_eq!(span.service, "task-board");
        // No code location, thread or busy/idle attributes: only what the span names.
        assert!(
            span.attributes.keys().all(|key| !key.starts_with("code.")
                && !key.starts_with("thread.")
                && key != "busy_ns"
                && key != "idle_ns"),
            "{:?}",
            span.attributes
        );
    }
    // A new trace's id is X-Ray's: its first 8 hex digits are the current epoch second.
    let started = u64::from_str_radix(&process.trace_id[..8], 16).unwrap();
    let now = crate::trace::ids::now_epoch_seconds();
    assert!(started <= now && now - started < 60, "{}", process.trace_id);
}

#[test]
fn the_sampler_follows_the_environment() {
    let off = Capture::with_env("task-board", &[(SAMPLER_VAR, "always_off")]);
    tracing::dispatcher::with_default(&off.dispatch, emit_a_hop);
    assert_eq!(off.lines(), Vec::<String>::new());

    let none = Capture::with_env(
        "task-board",
        &[(SAMPLER_VAR, "traceidratio"), (SAMPLER_ARG_VAR, "0")],
    );
    tracing::dispatcher::with_default(&none.dispatch, emit_a_hop);
    assert_eq!(none.lines(), Vec::<String>::new());

    let on = Capture::with_env("task-board", &[(SAMPLER_VAR, "always_on")]);
    tracing::dispatcher::with_default(&on.dispatch, emit_a_hop);
    assert_eq!(on.spans().len(), 2);
}

#[test]
fn sampler_names_and_ratios() {
    let named = |vars: &[(&str, &str)]| {
        format!(
            "{:?}",
            sampler(&|name| vars
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string()))
        )
    };
    let default = format!("{:?}", Sampler::AlwaysOn);
    assert_eq!(named(&[]), default);
    assert_eq!(named(&[(SAMPLER_VAR, "nonsense")]), default);
    assert_eq!(named(&[(SAMPLER_VAR, " Always_On ")]), default);
    assert_eq!(
        named(&[(SAMPLER_VAR, "parentbased_always_on")]),
        format!("{:?}", Sampler::ParentBased(Box::new(Sampler::AlwaysOn)))
    );
    assert_eq!(
        named(&[
            (SAMPLER_VAR, "parentbased_traceidratio"),
            (SAMPLER_ARG_VAR, "0.25")
        ]),
        format!(
            "{:?}",
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(0.25)))
        )
    );
    // A ratio outside [0, 1] or not a number: 1.
    assert_eq!(
        named(&[(SAMPLER_VAR, "traceidratio"), (SAMPLER_ARG_VAR, "7")]),
        format!("{:?}", Sampler::TraceIdRatioBased(1.0))
    );
    assert_eq!(
        named(&[(SAMPLER_VAR, "parentbased_always_off")]),
        format!("{:?}", Sampler::ParentBased(Box::new(Sampler::AlwaysOff)))
    );
}

/// One HTTP request as a tiny collector received it.
#[derive(Debug)]
struct Received {
    request_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Reads one HTTP/1.1 request (with a `content-length` body), hands it to `sent`, then
/// answers 200: so by the time the client has its answer, the request is in the channel.
fn answer_one(stream: TcpStream, sent: &mpsc::Sender<Received>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((key, value)) = line.split_once(':') {
            headers.push((key.trim().to_owned(), value.trim().to_owned()));
        }
    }
    let length = headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let _ = sent.send(Received {
        request_line: request_line.trim_end().to_owned(),
        headers,
        body,
    });
    let mut stream = stream;
    stream.write_all(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n",
    )?;
    stream.flush()
}

/// A collector on a free local port: each request it answers is sent on the channel.
fn collector() -> (String, mpsc::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let (sent, received) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let _ = answer_one(stream, &sent);
        }
    });
    (format!("http://{address}"), received)
}

#[test]
fn with_an_otlp_endpoint_the_spans_reach_the_collector_by_the_flush() {
    let (endpoint, requests) = collector();
    let capture = Capture::with_env(
        "task-board",
        &[
            (otlp::ENDPOINT_VAR, &endpoint),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-collector-key=s%3Dcret"),
            ("AWS_REGION", "eu-west-1"),
        ],
    );
    assert_eq!(
        capture.export.otlp_endpoint(),
        Some(format!("{endpoint}/v1/traces").as_str())
    );
    tracing::dispatcher::with_default(&capture.dispatch, emit_a_hop);
    capture.export.flush().unwrap();
    // The flush returned once the collector answered, so the request is there already (the
    // batch processor's own schedule would send it 5 s later: not waited for).
    let request = requests
        .try_recv()
        .expect("the flush sent the spans to the collector");
    assert_eq!(request.request_line, "POST /v1/traces HTTP/1.1");
    assert_eq!(
        request.header("content-type"),
        Some("application/x-protobuf")
    );
    assert_eq!(request.header("x-collector-key"), Some("s=cret"));
    let export = ExportTraceServiceRequest::decode(request.body.as_slice()).unwrap();
    assert_eq!(export.resource_spans.len(), 1);
    let resource = export.resource_spans[0].resource.as_ref().unwrap();
    let attribute = |key: &str| {
        resource
            .attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref())
            .and_then(|value| value.value.clone())
    };
    use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
    assert_eq!(
        attribute("service.name"),
        Some(Any::StringValue("task-board".into()))
    );
    assert_eq!(
        attribute("cloud.region"),
        Some(Any::StringValue("eu-west-1".into()))
    );
    let spans: Vec<_> = export.resource_spans[0]
        .scope_spans
        .iter()
        .flat_map(|scope| scope.spans.iter())
        .collect();
    let names: Vec<&str> = spans.iter().map(|span| span.name.as_str()).collect();
    assert_eq!(names, ["handle TaskCreated", "process TaskCreated"]);
    // The same spans, with the same ids, as the log lines.
    let lines = capture.spans();
    for (sent, line) in spans.iter().zip(&lines) {
        assert_eq!(hex(&sent.trace_id), line.trace_id);
        assert_eq!(hex(&sent.span_id), line.span_id);
    }
    assert_eq!(hex(&spans[0].parent_span_id), lines[1].span_id);
    assert!(spans[1].parent_span_id.is_empty());
    capture.export.shutdown(Duration::from_secs(5));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Without the endpoint variables nothing connects anywhere: not to OTLP's default port
/// (4318, where an exporter built without an endpoint would send), not to an address another
/// signal's variable names.
#[test]
fn without_an_otlp_endpoint_nothing_connects() {
    let (elsewhere, requests) = collector();
    let default_port = TcpListener::bind("127.0.0.1:4318").ok();
    let capture = Capture::with_env(
        "task-board",
        &[
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", &elsewhere),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-collector-key=secret"),
        ],
    );
    tracing::dispatcher::with_default(&capture.dispatch, emit_a_hop);
    let flushed = capture.export.flush();
    capture.export.shutdown(Duration::from_secs(5));
    // The span lines are written all the same.
    assert_eq!(capture.spans().len(), 2);
    assert!(requests.try_recv().is_err());
    if let Some(listener) = default_port {
        listener.set_nonblocking(true).unwrap();
        let accepted = listener.accept();
        assert!(
            matches!(&accepted, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "something connected to 127.0.0.1:4318: {accepted:?}"
        );
    }
    assert!(flushed.is_ok(), "{flushed:?}");
    assert_eq!(capture.export.otlp_endpoint(), None);
}

#[test]
fn a_bad_endpoint_is_an_init_error() {
    let settings = Settings::from_lookup(&|name| {
        (name == otlp::TRACES_ENDPOINT_VAR).then(|| "not a url at all".to_owned())
    });
    let error = TraceExport::build("task-board", &settings, LineSink::Stdout).unwrap_err();
    assert!(error.to_string().contains("not a url at all"), "{error}");
}

/// A hop continuing a caller's context that says "not sampled" (what Lambda's X-Ray header
/// says whenever X-Ray active tracing is off).
fn emit_under_an_unsampled_caller() {
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
    };
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let caller = SpanContext::new(
        TraceId::from(0x6747_a000_0000_0000_0000_0000_0000_0001_u128),
        SpanId::from(1_u64),
        TraceFlags::default(),
        true,
        TraceState::default(),
    );
    let invocation = tracing::info_span!(target: TARGET, "invocation", otel.name = "POST /tasks");
    let _ = invocation.set_parent(opentelemetry::Context::new().with_remote_span_context(caller));
    invocation.in_scope(|| {});
}

#[test]
fn by_default_an_unsampled_caller_does_not_silence_the_spans() {
    let default = Capture::new("task-board");
    tracing::dispatcher::with_default(&default.dispatch, emit_under_an_unsampled_caller);
    let spans = default.spans();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].trace_id, "6747a000000000000000000000000001");
    assert_eq!(spans[0].parent_span_id.as_deref(), Some("0000000000000001"));

    let parent_based = Capture::with_env("task-board", &[(SAMPLER_VAR, "parentbased_always_on")]);
    tracing::dispatcher::with_default(&parent_based.dispatch, emit_under_an_unsampled_caller);
    assert_eq!(parent_based.lines(), Vec::<String>::new());
}
