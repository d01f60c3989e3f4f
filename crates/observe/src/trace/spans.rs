//! Span lines read back from log messages: a function logs each finished span as one JSON
//! line `{"eventrail_span": <SpanLine>}` beside its other (JSON or text) log lines, and one
//! log message may hold several lines.

use eventrail_contract::trace::{SPAN_LINE_KEY, SpanLine, SpanLink, attr};
use serde_json::Value;

/// What one log message held.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadSpans {
    /// The span lines that decoded.
    pub spans: Vec<SpanLine>,
    /// Span lines that did not decode (`eventrail_span` present, its value not a span), with
    /// the reason.
    pub malformed: Vec<String>,
}

/// The span lines of one log message. Lines that are not JSON objects, and JSON lines without
/// `eventrail_span`, are other logs and are skipped; text before a line's first `{` (a
/// timestamp a log router added) is ignored.
pub fn spans_in_message(message: &str) -> ReadSpans {
    let mut read = ReadSpans::default();
    for line in message.lines() {
        let Some(start) = line.find('{') else {
            continue;
        };
        if !line[start..].contains(SPAN_LINE_KEY) {
            continue;
        }
        let Ok(value) = serde_json::from_str::<Value>(line[start..].trim_end()) else {
            continue;
        };
        let Some(span) = value.get(SPAN_LINE_KEY) else {
            continue;
        };
        match serde_json::from_value::<SpanLine>(span.clone()) {
            Ok(span) => read.spans.push(span),
            Err(error) => read.malformed.push(error.to_string()),
        }
    }
    read
}

/// The correlation ids of the toolkit's other JSON log lines in `message` that hold `key` as
/// one of their values: the runtime's JSON log lines carry their span's fields
/// (`correlation_id`, at the top or under `span`). An event whose business key sits elsewhere
/// than the app declares gives its spans no business key; a handler's log line naming the key
/// still leads to the flow.
pub fn correlations_naming(message: &str, key: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in message.lines() {
        let Some(start) = line.find('{') else {
            continue;
        };
        let Ok(value) = serde_json::from_str::<Value>(line[start..].trim_end()) else {
            continue;
        };
        if value.get(SPAN_LINE_KEY).is_some() || !holds(&value, key, 0) {
            continue;
        }
        let correlation = value
            .get("correlation_id")
            .or_else(|| value.pointer("/span/correlation_id"))
            .and_then(Value::as_str);
        if let Some(id) = correlation.filter(|id| *id != key && !found.iter().any(|f| f == id)) {
            found.push(id.to_owned());
        }
    }
    found
}

/// Whether `value` holds `key` as a string value (at most a few levels down).
fn holds(value: &Value, key: &str, depth: usize) -> bool {
    match value {
        Value::String(text) => text == key,
        Value::Object(fields) if depth < 4 => fields.values().any(|v| holds(v, key, depth + 1)),
        Value::Array(items) if depth < 4 => items.iter().any(|v| holds(v, key, depth + 1)),
        _ => false,
    }
}

/// A string attribute of `span`.
pub fn attr_str<'a>(span: &'a SpanLine, key: &str) -> Option<&'a str> {
    span.attributes.get(key).and_then(Value::as_str)
}

/// A string or array-of-strings attribute of `span`, as a list.
pub fn attr_strings<'a>(span: &'a SpanLine, key: &str) -> Vec<&'a str> {
    match span.attributes.get(key) {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Whether `span` names `key` as its business key, its flow's correlation id, the id of the
/// event it processed, or one of the event ids it published.
pub fn names_key(span: &SpanLine, key: &str) -> bool {
    [
        attr::BUSINESS_KEY,
        attr::CORRELATION_ID,
        attr::MESSAGING_MESSAGE_ID,
    ]
    .iter()
    .any(|name| attr_str(span, name) == Some(key))
        || attr_strings(span, attr::EVENT_IDS).contains(&key)
}

/// Whether `span` is a publish to the bus (one PutEvents call).
pub fn is_publish(span: &SpanLine) -> bool {
    use eventrail_contract::trace::SpanKind;
    span.kind == SpanKind::Producer
        && (attr_str(span, attr::MESSAGING_OPERATION_NAME) == Some("PutEvents")
            || span.name.starts_with("publish "))
}

/// Whether `span` is a dead-letter send (a failure queue and its reason).
pub fn is_dead_letter(span: &SpanLine) -> bool {
    span.attributes.contains_key(attr::FAILURE_QUEUE)
}

/// Whether `link` ties an event delivered again to its original trace (a replay of an event
/// over X-Ray's 30 days starts a new trace linked so). Other links (a batch record's span to
/// its batch's span) are context, not part of the flow.
pub fn is_redelivery_link(link: &SpanLink) -> bool {
    link.attributes.contains_key(attr::REDELIVERY)
}

/// Whether `span` is the span a consumer opens for an event delivered again (replay, redrive,
/// re-put): the hop's invocation span is its child.
pub fn is_redelivery(span: &SpanLine) -> bool {
    use eventrail_contract::trace::SpanKind;
    span.kind == SpanKind::Consumer
        && span.attributes.contains_key(attr::REDELIVERY)
        && !span.attributes.contains_key(attr::RESULT)
        && ["replay ", "redrive ", "reput "]
            .iter()
            .any(|prefix| span.name.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn line(span: Value) -> String {
        json!({ SPAN_LINE_KEY: span }).to_string()
    }

    fn span_value(name: &str) -> Value {
        json!({
            "trace_id": "6740a1b2c3d4e5f60718293a4b5c6d7e",
            "span_id": "1111111111111111",
            "name": name,
            "kind": "consumer",
            "start_unix_nano": 10u64,
            "end_unix_nano": 20u64,
            "attributes": {"eventrail.business_key": "p-1", "eventrail.event_ids": ["e-1", "e-2"]},
            "service": "parcels"
        })
    }

    #[test]
    fn span_lines_are_found_among_other_log_lines() {
        let message = format!(
            "START RequestId: 1\n{{\"level\":\"INFO\",\"message\":\"handled\"}}\n{}\n\
             2026-12-07T10:00:00Z\t{}\nnot json {{ at all\n",
            line(span_value("process Shipped")),
            line(span_value("publish bus"))
        );
        let read = spans_in_message(&message);
        let names: Vec<&str> = read.spans.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["process Shipped", "publish bus"]);
        assert!(read.malformed.is_empty());
    }

    #[test]
    fn a_span_line_that_does_not_decode_is_reported() {
        let read = spans_in_message(&line(json!({"trace_id": "x"})));
        assert!(read.spans.is_empty());
        assert_eq!(read.malformed.len(), 1, "{read:?}");
        assert!(read.malformed[0].contains("span_id"), "{read:?}");
    }

    #[test]
    fn a_log_line_holding_the_key_gives_its_span_s_correlation_id() {
        let message = format!(
            "{}\n{{\"level\":\"INFO\",\"message\":\"reserving\",\"parcel_id\":\"p-1\",\
             \"span\":{{\"correlation_id\":\"c-9\",\"name\":\"handle\"}}}}\n\
             {{\"level\":\"INFO\",\"parcel_id\":\"p-10\",\"correlation_id\":\"c-10\"}}\n\
             {{\"level\":\"ERROR\",\"error\":\"no gateway for p-1\",\"correlation_id\":\"c-11\"}}\n\
             {{\"level\":\"INFO\",\"ids\":[\"p-1\"],\"correlation_id\":\"c-9\"}}",
            line(span_value("process Shipped"))
        );
        assert_eq!(correlations_naming(&message, "p-1"), ["c-9"]);
        assert!(correlations_naming(&message, "p-2").is_empty());
    }

    #[test]
    fn a_key_is_named_by_business_key_correlation_event_id_or_published_ids() {
        let read = spans_in_message(&line(span_value("process Shipped")));
        let span = &read.spans[0];
        assert!(names_key(span, "p-1"));
        assert!(names_key(span, "e-2"));
        assert!(!names_key(span, "p-"));
        assert!(!names_key(span, "parcels"));
        assert_eq!(attr_strings(span, attr::EVENT_IDS), ["e-1", "e-2"]);
        assert_eq!(attr_str(span, attr::BUSINESS_KEY), Some("p-1"));
    }
}
