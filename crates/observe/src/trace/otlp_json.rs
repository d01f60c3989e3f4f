//! A trace as OTLP JSON (OpenTelemetry's protocol in its JSON encoding, as an OTLP/HTTP
//! collector takes it and Jaeger and otel-desktop-viewer import it): `resourceSpans`, one per
//! service (`service.name`), each with one `scopeSpans` of its spans. As the encoding asks:
//! ids are hex strings, 64-bit integers (times, int attributes) are decimal strings, enums
//! (span kind, status code) are their numbers, field names are lowerCamelCase.

use std::collections::BTreeMap;

use eventrail_contract::trace::{SpanKind, SpanLine, SpanStatus};
use serde_json::{Map, Value, json};

/// The instrumentation scope the spans are exported under.
pub const SCOPE_NAME: &str = "eventrail";

/// The OTLP JSON document (`ExportTraceServiceRequest`) of `spans`, grouped by service.
pub fn export(spans: &[SpanLine]) -> Value {
    let mut by_service: BTreeMap<&str, Vec<&SpanLine>> = BTreeMap::new();
    for span in spans {
        by_service
            .entry(span.service.as_str())
            .or_default()
            .push(span);
    }
    let resource_spans: Vec<Value> = by_service
        .into_iter()
        .map(|(service, mut spans)| {
            spans.sort_by_key(|s| s.start_unix_nano);
            json!({
                "resource": {
                    "attributes": [key_value("service.name", &Value::from(service))]
                },
                "scopeSpans": [{
                    "scope": {"name": SCOPE_NAME, "version": env!("CARGO_PKG_VERSION")},
                    "spans": spans.into_iter().map(span).collect::<Vec<_>>()
                }]
            })
        })
        .collect();
    json!({ "resourceSpans": resource_spans })
}

fn span(span: &SpanLine) -> Value {
    let mut out = Map::new();
    out.insert("traceId".into(), span.trace_id.to_ascii_lowercase().into());
    out.insert("spanId".into(), span.span_id.to_ascii_lowercase().into());
    if let Some(parent) = &span.parent_span_id {
        out.insert("parentSpanId".into(), parent.to_ascii_lowercase().into());
    }
    out.insert("name".into(), span.name.clone().into());
    out.insert("kind".into(), kind(span.kind).into());
    out.insert(
        "startTimeUnixNano".into(),
        span.start_unix_nano.to_string().into(),
    );
    out.insert(
        "endTimeUnixNano".into(),
        span.end_unix_nano.to_string().into(),
    );
    out.insert("attributes".into(), attributes(&span.attributes));
    if !span.links.is_empty() {
        let links: Vec<Value> = span
            .links
            .iter()
            .map(|link| {
                json!({
                    "traceId": link.trace_id.to_ascii_lowercase(),
                    "spanId": link.span_id.to_ascii_lowercase(),
                    "attributes": attributes(&link.attributes),
                })
            })
            .collect();
        out.insert("links".into(), links.into());
    }
    let mut status = Map::new();
    status.insert("code".into(), status_code(span.status).into());
    if let Some(message) = &span.status_message {
        status.insert("message".into(), message.clone().into());
    }
    out.insert("status".into(), status.into());
    Value::Object(out)
}

/// OTLP's `Span.SpanKind` numbers.
fn kind(kind: SpanKind) -> u8 {
    match kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

/// OTLP's `Status.StatusCode` numbers.
fn status_code(status: SpanStatus) -> u8 {
    match status {
        SpanStatus::Unset => 0,
        SpanStatus::Ok => 1,
        SpanStatus::Error => 2,
    }
}

fn attributes(map: &BTreeMap<String, Value>) -> Value {
    map.iter()
        .filter(|(_, value)| !value.is_null())
        .map(|(key, value)| key_value(key, value))
        .collect::<Vec<_>>()
        .into()
}

fn key_value(key: &str, value: &Value) -> Value {
    json!({"key": key, "value": any_value(value)})
}

/// An OTLP `AnyValue`: exactly one of its fields.
fn any_value(value: &Value) -> Value {
    match value {
        Value::String(text) => json!({"stringValue": text}),
        Value::Bool(flag) => json!({"boolValue": flag}),
        Value::Number(number) => match (number.as_i64(), number.as_f64()) {
            (Some(int), _) => json!({"intValue": int.to_string()}),
            (None, Some(float)) if number.is_f64() => json!({"doubleValue": float}),
            // An integer past i64 (OTLP's int64): kept exactly, as text.
            _ => json!({"stringValue": number.to_string()}),
        },
        Value::Array(items) => json!({"arrayValue": {
            "values": items.iter().filter(|v| !v.is_null()).map(any_value).collect::<Vec<_>>()
        }}),
        Value::Object(fields) => json!({"kvlistValue": {
            "values": fields.iter().filter(|(_, v)| !v.is_null())
                .map(|(k, v)| key_value(k, v)).collect::<Vec<_>>()
        }}),
        Value::Null => json!({}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::fixture;

    /// The OTLP JSON rules a reader (a collector, Jaeger, otel-desktop-viewer) relies on,
    /// checked field by field: the nesting, lowerCamelCase names only, hex ids of the right
    /// length, decimal strings for 64-bit integers, enum numbers in range, one field per value.
    fn check_document(document: &Value) -> Vec<String> {
        let mut problems = Vec::new();
        let mut fail = |at: &str, what: &str| problems.push(format!("{at}: {what}"));
        let Some(resources) = document.get("resourceSpans").and_then(Value::as_array) else {
            fail("/", "no resourceSpans array");
            return problems;
        };
        for (r, resource) in resources.iter().enumerate() {
            let at = format!("resourceSpans[{r}]");
            check_keys(
                resource,
                &["resource", "scopeSpans", "schemaUrl"],
                &at,
                &mut fail,
            );
            match resource
                .pointer("/resource/attributes")
                .and_then(Value::as_array)
            {
                Some(list) => check_attributes(list, &at, &mut fail),
                None => fail(&at, "no resource.attributes"),
            }
            let scopes = resource.get("scopeSpans").and_then(Value::as_array);
            for (s, scope) in scopes.into_iter().flatten().enumerate() {
                let at = format!("{at}.scopeSpans[{s}]");
                check_keys(scope, &["scope", "spans", "schemaUrl"], &at, &mut fail);
                if scope
                    .pointer("/scope/name")
                    .and_then(Value::as_str)
                    .is_none()
                {
                    fail(&at, "scope without a name");
                }
                for (i, span) in scope
                    .get("spans")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    check_span(span, &format!("{at}.spans[{i}]"), &mut fail);
                }
            }
        }
        problems
    }

    fn check_keys(value: &Value, allowed: &[&str], at: &str, fail: &mut impl FnMut(&str, &str)) {
        for key in value.as_object().into_iter().flat_map(|m| m.keys()) {
            if !allowed.contains(&key.as_str()) {
                fail(at, &format!("unknown field {key}"));
            }
        }
    }

    fn is_hex(text: Option<&Value>, len: usize) -> bool {
        text.and_then(Value::as_str).is_some_and(|t| {
            t.len() == len
                && t.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
    }

    fn is_decimal_string(value: Option<&Value>) -> bool {
        value
            .and_then(Value::as_str)
            .is_some_and(|t| !t.is_empty() && t.parse::<u64>().is_ok())
    }

    fn check_span(span: &Value, at: &str, fail: &mut impl FnMut(&str, &str)) {
        let allowed = [
            "traceId",
            "spanId",
            "parentSpanId",
            "traceState",
            "flags",
            "name",
            "kind",
            "startTimeUnixNano",
            "endTimeUnixNano",
            "attributes",
            "droppedAttributesCount",
            "events",
            "droppedEventsCount",
            "links",
            "droppedLinksCount",
            "status",
        ];
        check_keys(span, &allowed, at, fail);
        if !is_hex(span.get("traceId"), 32) {
            fail(at, "traceId is not 32 lower-case hex digits");
        }
        if !is_hex(span.get("spanId"), 16) {
            fail(at, "spanId is not 16 lower-case hex digits");
        }
        if span.get("parentSpanId").is_some() && !is_hex(span.get("parentSpanId"), 16) {
            fail(at, "parentSpanId is not 16 lower-case hex digits");
        }
        for time in ["startTimeUnixNano", "endTimeUnixNano"] {
            if !is_decimal_string(span.get(time)) {
                fail(at, &format!("{time} is not a decimal string"));
            }
        }
        if span
            .get("kind")
            .and_then(Value::as_u64)
            .is_none_or(|k| k > 5)
        {
            fail(at, "kind is not a SpanKind number");
        }
        if !span.get("name").is_some_and(Value::is_string) {
            fail(at, "no name");
        }
        match span.get("attributes").and_then(Value::as_array) {
            Some(list) => check_attributes(list, at, fail),
            None => fail(at, "attributes is not an array"),
        }
        for link in span
            .get("links")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            check_keys(
                link,
                &[
                    "traceId",
                    "spanId",
                    "traceState",
                    "attributes",
                    "droppedAttributesCount",
                    "flags",
                ],
                at,
                fail,
            );
            if !is_hex(link.get("traceId"), 32) || !is_hex(link.get("spanId"), 16) {
                fail(at, "a link's ids are not hex");
            }
        }
        let status = span.get("status");
        check_keys(
            status.unwrap_or(&Value::Null),
            &["code", "message"],
            at,
            fail,
        );
        if status
            .and_then(|s| s.get("code"))
            .and_then(Value::as_u64)
            .is_none_or(|c| c > 2)
        {
            fail(at, "status.code is not a StatusCode number");
        }
    }

    fn check_attributes(list: &[Value], at: &str, fail: &mut impl FnMut(&str, &str)) {
        for item in list {
            check_keys(item, &["key", "value"], at, fail);
            if !item.get("key").is_some_and(Value::is_string) {
                fail(at, "an attribute without a key");
            }
            check_any_value(item.get("value").unwrap_or(&Value::Null), at, fail);
        }
    }

    fn check_any_value(value: &Value, at: &str, fail: &mut impl FnMut(&str, &str)) {
        let Some(fields) = value.as_object().filter(|m| m.len() == 1) else {
            fail(
                at,
                &format!("an AnyValue without exactly one field: {value}"),
            );
            return;
        };
        for (name, inner) in fields {
            let ok = match name.as_str() {
                "stringValue" => inner.is_string(),
                "boolValue" => inner.is_boolean(),
                "intValue" => inner.as_str().is_some_and(|t| t.parse::<i64>().is_ok()),
                "doubleValue" => inner.is_number(),
                "arrayValue" | "kvlistValue" => {
                    let values = inner.get("values").and_then(Value::as_array);
                    for item in values.into_iter().flatten() {
                        if name == "arrayValue" {
                            check_any_value(item, at, fail);
                        } else {
                            check_attributes(std::slice::from_ref(item), at, fail);
                        }
                    }
                    values.is_some()
                }
                _ => false,
            };
            if !ok {
                fail(at, &format!("{name} holds {inner}"));
            }
        }
    }

    #[test]
    fn the_export_follows_the_otlp_json_rules() {
        let spans = fixture::stopped_flow();
        let document = export(&spans);
        let problems = check_document(&document);
        assert!(problems.is_empty(), "{problems:#?}\n{document:#}");
        let services: Vec<&str> = document["resourceSpans"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| {
                r.pointer("/resource/attributes/0/value/stringValue")?
                    .as_str()
            })
            .collect();
        assert_eq!(services, ["billing", "mailer", "parcels", "sorting"]);
        let exported: usize = document["resourceSpans"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["scopeSpans"][0]["spans"].as_array().map_or(0, Vec::len))
            .sum();
        assert_eq!(exported, spans.len());
    }

    #[test]
    fn values_ids_and_times_take_their_otlp_shapes() {
        let spans = fixture::stopped_flow();
        let document = export(&spans);
        let publish = document["resourceSpans"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["scopeSpans"][0]["spans"].as_array().unwrap().iter())
            .find(|s| s["name"] == "publish app-bus" && s["spanId"] == fixture::PARCELS_PUBLISH)
            .unwrap();
        assert_eq!(publish["kind"], 4);
        assert_eq!(publish["parentSpanId"], fixture::PARCELS_HANDLER);
        assert_eq!(
            publish["startTimeUnixNano"],
            (fixture::T0 + 30_000_000).to_string()
        );
        let attribute = |key: &str| {
            publish["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["key"] == key)
                .map(|a| a["value"].clone())
        };
        assert_eq!(
            attribute("eventrail.event_ids"),
            Some(json!({"arrayValue": {"values": [{"stringValue": "e-1"}]}}))
        );
        assert_eq!(
            attribute("messaging.batch.message_count"),
            Some(json!({"intValue": "1"}))
        );
        assert_eq!(any_value(&json!(0.5)), json!({"doubleValue": 0.5}));
        assert_eq!(any_value(&json!(true)), json!({"boolValue": true}));
        assert_eq!(
            any_value(&json!(u64::MAX)),
            json!({"stringValue": u64::MAX.to_string()})
        );
        let failed = document["resourceSpans"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["scopeSpans"][0]["spans"].as_array().unwrap().iter())
            .find(|s| s["spanId"] == fixture::BILLING_HOP)
            .unwrap();
        assert_eq!(
            failed["status"],
            json!({"code": 2, "message": "gateway down"})
        );
        assert!(failed.get("parentSpanId").is_some());
    }

    #[test]
    fn the_checker_catches_what_readers_refuse() {
        let mut document = export(&fixture::stopped_flow());
        let span = document
            .pointer_mut("/resourceSpans/0/scopeSpans/0/spans/0")
            .unwrap();
        span["startTimeUnixNano"] = json!(12);
        span["traceId"] = json!("ABC");
        span["kind"] = json!("SPAN_KIND_SERVER");
        span["attributes"] = json!([{"key": "k", "value": {"stringValue": "a", "intValue": "1"}}]);
        let problems = check_document(&document).join("\n");
        for expected in ["startTimeUnixNano", "traceId", "kind", "exactly one field"] {
            assert!(problems.contains(expected), "{expected} in {problems}");
        }
    }
}
