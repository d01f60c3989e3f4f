//! The default export: every finished, sampled span as one JSON line on the function's output
//! (`{"eventrail_span": <SpanLine>}`), which Lambda sends to CloudWatch Logs. No network, no
//! thread, no buffer: the line is written when the span ends.

use std::{
    collections::BTreeMap,
    io::Write,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use eventrail_contract::trace::{
    SPAN_LINE_KEY, SpanKind, SpanLine, SpanLink, SpanStatus, span_id_hex, trace_id_hex,
};
use opentelemetry::{
    Array, Context, KeyValue, Value,
    trace::{SpanContext, SpanId, Status},
};
use opentelemetry_sdk::{
    error::OTelSdkResult,
    trace::{Span, SpanData, SpanProcessor},
};
use serde::ser::{SerializeMap, Serializer};

/// Where span lines go.
#[derive(Clone)]
pub(crate) enum LineSink {
    /// The process's standard output (Lambda's log).
    Stdout,
    /// Kept in memory, one line per entry (tests).
    #[cfg_attr(not(test), allow(dead_code))]
    Memory(Arc<Mutex<Vec<String>>>),
    /// Any writer (the benchmarks count the bytes).
    Writer(Arc<Mutex<dyn Write + Send>>),
}

impl std::fmt::Debug for LineSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Stdout => "Stdout",
            Self::Memory(_) => "Memory",
            Self::Writer(_) => "Writer",
        })
    }
}

impl LineSink {
    fn write(&self, line: &[u8]) {
        match self {
            // One `write_all` of the whole line under the lock, so a line is never interleaved
            // with a log line written by another thread. A failed write to the log has nowhere
            // to be reported.
            Self::Stdout => {
                let _ = std::io::stdout().lock().write_all(line);
            }
            Self::Writer(writer) => {
                if let Ok(mut writer) = writer.lock() {
                    let _ = writer.write_all(line);
                }
            }
            Self::Memory(lines) => {
                if let Ok(mut lines) = lines.lock() {
                    lines.push(String::from_utf8_lossy(line).trim_end().to_owned());
                }
            }
        }
    }
}

/// The span processor that writes each finished span as a span line, as it ends.
#[derive(Debug)]
pub(crate) struct SpanLines {
    /// The function's declared name (every line's `service`).
    service: String,
    sink: LineSink,
}

impl SpanLines {
    pub(crate) fn new(service: &str, sink: LineSink) -> Self {
        Self {
            service: service.to_owned(),
            sink,
        }
    }
}

impl SpanProcessor for SpanLines {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        // The SDK only hands over sampled spans; checked again so an unsampled one never
        // reaches the log.
        if !span.span_context.is_sampled() {
            return;
        }
        let line = span_line(&span, &self.service);
        let mut buffer = Vec::with_capacity(512);
        if write_line(&mut buffer, &line).is_ok() {
            buffer.push(b'\n');
            self.sink.write(&buffer);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// `{"eventrail_span": <line>}` into `buffer`.
fn write_line(buffer: &mut Vec<u8>, line: &SpanLine) -> Result<(), serde_json::Error> {
    let mut serializer = serde_json::Serializer::new(buffer);
    let mut map = serializer.serialize_map(Some(1))?;
    map.serialize_entry(SPAN_LINE_KEY, line)?;
    map.end()
}

/// The contract's span line for a finished span.
pub(crate) fn span_line(span: &SpanData, service: &str) -> SpanLine {
    let parent_span_id =
        (span.parent_span_id != SpanId::INVALID).then(|| span_id_text(span.parent_span_id));
    let (status, status_message) = match &span.status {
        Status::Unset => (SpanStatus::Unset, None),
        Status::Ok => (SpanStatus::Ok, None),
        Status::Error { description } => (
            SpanStatus::Error,
            (!description.is_empty()).then(|| description.to_string()),
        ),
    };
    SpanLine {
        trace_id: trace_id_hex(u128::from_be_bytes(span.span_context.trace_id().to_bytes())),
        span_id: span_id_text(span.span_context.span_id()),
        parent_span_id,
        name: span.name.to_string(),
        kind: kind(&span.span_kind),
        start_unix_nano: unix_nanos(span.start_time),
        end_unix_nano: unix_nanos(span.end_time),
        status,
        status_message,
        attributes: attributes(&span.attributes),
        links: span
            .links
            .links
            .iter()
            .map(|link| link_of(&link.span_context, &link.attributes))
            .collect(),
        service: service.to_owned(),
    }
}

fn link_of(context: &SpanContext, attributes_of_link: &[KeyValue]) -> SpanLink {
    SpanLink {
        trace_id: trace_id_hex(u128::from_be_bytes(context.trace_id().to_bytes())),
        span_id: span_id_text(context.span_id()),
        attributes: attributes(attributes_of_link),
    }
}

fn span_id_text(id: SpanId) -> String {
    span_id_hex(u64::from_be_bytes(id.to_bytes()))
}

fn kind(kind: &opentelemetry::trace::SpanKind) -> SpanKind {
    use opentelemetry::trace::SpanKind as Otel;
    match kind {
        Otel::Client => SpanKind::Client,
        Otel::Server => SpanKind::Server,
        Otel::Producer => SpanKind::Producer,
        Otel::Consumer => SpanKind::Consumer,
        Otel::Internal => SpanKind::Internal,
    }
}

/// Nanoseconds since the Unix epoch (0 before it, saturated far after it).
fn unix_nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |elapsed| {
        u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
    })
}

fn attributes(attributes: &[KeyValue]) -> BTreeMap<String, serde_json::Value> {
    attributes
        .iter()
        .map(|kv| (kv.key.as_str().to_owned(), json_value(&kv.value)))
        .collect()
}

fn json_value(value: &Value) -> serde_json::Value {
    use serde_json::Value as Json;
    match value {
        Value::Bool(flag) => Json::Bool(*flag),
        Value::I64(number) => Json::from(*number),
        Value::F64(number) => float(*number),
        Value::String(text) => Json::String(text.as_str().to_owned()),
        Value::Array(Array::Bool(values)) => values.iter().copied().map(Json::Bool).collect(),
        Value::Array(Array::I64(values)) => values.iter().copied().map(Json::from).collect(),
        Value::Array(Array::F64(values)) => values.iter().copied().map(float).collect(),
        Value::Array(Array::String(values)) => values
            .iter()
            .map(|text| Json::String(text.as_str().to_owned()))
            .collect(),
        // A kind of value a later OpenTelemetry adds: its text.
        other => Json::String(other.as_str().into_owned()),
    }
}

/// A float as JSON; NaN and the infinities (which JSON lacks) as their text.
fn float(number: f64) -> serde_json::Value {
    serde_json::Number::from_f64(number)
        .map_or_else(|| serde_json::Value::String(number.to_string()), Into::into)
}

#[cfg(test)]
mod tests {
    use opentelemetry::{
        InstrumentationScope,
        trace::{SpanKind as OtelKind, TraceFlags, TraceId, TraceState},
    };
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};

    use super::*;

    fn context(trace: u128, span: u64, flags: TraceFlags) -> SpanContext {
        SpanContext::new(
            TraceId::from(trace),
            SpanId::from(span),
            flags,
            false,
            TraceState::default(),
        )
    }

    fn data(parent: u64, status: Status) -> SpanData {
        let start = UNIX_EPOCH + Duration::from_nanos(1_765_000_000_123_456_789);
        let mut links = SpanLinks::default();
        links.links.push(opentelemetry::trace::Link::new(
            context(0x0bad, 0x0f00, TraceFlags::SAMPLED),
            vec![KeyValue::new("eventrail.redelivery", "replay")],
            0,
        ));
        SpanData {
            span_context: context(
                0x6900_0000_0000_0000_0000_0000_0000_abcd,
                0x42,
                TraceFlags::SAMPLED,
            ),
            parent_span_id: SpanId::from(parent),
            parent_span_is_remote: true,
            span_kind: OtelKind::Consumer,
            name: "process TaskCreated".into(),
            start_time: start,
            end_time: start + Duration::from_micros(1500),
            attributes: vec![
                KeyValue::new("faas.coldstart", true),
                KeyValue::new("messaging.batch.message_count", 2_i64),
                KeyValue::new("ratio", f64::NAN),
                KeyValue::new(
                    "eventrail.event_ids",
                    Value::Array(Array::String(vec!["a".into(), "b".into()])),
                ),
            ],
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links,
            status,
            instrumentation_scope: InstrumentationScope::builder("test").build(),
        }
    }

    #[test]
    fn a_finished_span_reads_back_as_the_contracts_span_line() {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let processor = SpanLines::new("task-board", LineSink::Memory(lines.clone()));
        processor.on_end(data(
            0x7,
            Status::Error {
                description: "handler failed".into(),
            },
        ));
        let lines = lines.lock().unwrap();
        assert_eq!(lines.len(), 1);
        let value: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        let object = value.as_object().unwrap();
        assert_eq!(object.keys().collect::<Vec<_>>(), [SPAN_LINE_KEY]);
        let line: SpanLine = serde_json::from_value(value[SPAN_LINE_KEY].clone()).unwrap();
        assert_eq!(line.trace_id, "6900000000000000000000000000abcd");
        assert_eq!(line.span_id, "0000000000000042");
        assert_eq!(line.parent_span_id.as_deref(), Some("0000000000000007"));
        assert_eq!(line.name, "process TaskCreated");
        assert_eq!(line.kind, SpanKind::Consumer);
        assert_eq!(line.start_unix_nano, 1_765_000_000_123_456_789);
        assert_eq!(line.end_unix_nano, 1_765_000_000_124_956_789);
        assert_eq!(line.status, SpanStatus::Error);
        assert_eq!(line.status_message.as_deref(), Some("handler failed"));
        assert_eq!(line.service, "task-board");
        assert_eq!(line.attributes["faas.coldstart"], true);
        assert_eq!(line.attributes["messaging.batch.message_count"], 2);
        assert_eq!(line.attributes["ratio"], "NaN");
        assert_eq!(
            line.attributes["eventrail.event_ids"],
            serde_json::json!(["a", "b"])
        );
        assert_eq!(line.links.len(), 1);
        assert_eq!(line.links[0].trace_id, format!("{:032x}", 0x0bad));
        assert_eq!(line.links[0].span_id, "0000000000000f00");
        assert_eq!(line.links[0].attributes["eventrail.redelivery"], "replay");
    }

    #[test]
    fn a_root_span_has_no_parent_and_an_unsampled_span_no_line() {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let processor = SpanLines::new("task-board", LineSink::Memory(lines.clone()));
        let root = span_line(&data(0, Status::Ok), "task-board");
        assert_eq!(root.parent_span_id, None);
        assert_eq!(root.status, SpanStatus::Ok);
        let mut unsampled = data(0x7, Status::Unset);
        unsampled.span_context = context(0x1, 0x2, TraceFlags::default());
        processor.on_end(unsampled);
        assert!(lines.lock().unwrap().is_empty());
    }
}
