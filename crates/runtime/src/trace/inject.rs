//! Writing a trace context into an event's `detail.metadata` (`traceparent`, and `tracestate`
//! when there is one) without decoding the event: the detail's text is cut once around its
//! metadata ([`Injectable`]), and each PutEvents call splices in its publish span's
//! `traceparent` (a fixed 55 bytes), so a retry costs a copy, not a parse, and the entry's
//! size is known before the span exists. The data keeps its bytes (and its keys' order).
//! Earlier `traceparent`/`tracestate` members are replaced.

use eventrail_contract::trace::TraceParent;

/// The length of a version-00 `traceparent`.
const TRACEPARENT_LEN: usize = 55;

/// An event's detail, cut where its `traceparent` goes: `head + traceparent + tail`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Injectable {
    head: String,
    tail: String,
}

impl Injectable {
    /// Cuts `detail` (a JSON object with a `metadata` object); `None` when it is not one, and
    /// then the event goes as it is.
    pub(crate) fn new(detail: &str, tracestate: Option<&str>) -> Option<Self> {
        let bytes = detail.as_bytes();
        let open = skip_ws(bytes, 0);
        if bytes.get(open) != Some(&b'{') {
            return None;
        }
        let (top, _) = members(bytes, open)?;
        let metadata = top
            .iter()
            .find(|m| &detail[m.key.0..m.key.1] == "\"metadata\"")?;
        if bytes.get(metadata.value.0) != Some(&b'{') {
            return None;
        }
        let (fields, close) = members(bytes, metadata.value.0)?;
        let mut head = String::with_capacity(metadata.value.0 + 32);
        head.push_str(&detail[..=metadata.value.0]);
        head.push_str("\"traceparent\":\"");
        let mut tail = String::with_capacity(detail.len() - metadata.value.0 + 64);
        tail.push('"');
        if let Some(state) = tracestate.filter(|s| !s.is_empty()) {
            tail.push_str(",\"tracestate\":");
            tail.push_str(&serde_json::to_string(state).ok()?);
        }
        for field in fields {
            let key = &detail[field.key.0..field.key.1];
            if key == "\"traceparent\"" || key == "\"tracestate\"" {
                continue;
            }
            tail.push(',');
            tail.push_str(&detail[field.key.0..field.value.1]);
        }
        tail.push_str(&detail[close..]);
        Some(Self { head, tail })
    }

    /// The detail carrying `traceparent`.
    pub(crate) fn with(&self, traceparent: &TraceParent) -> String {
        let mut detail = String::with_capacity(self.len());
        detail.push_str(&self.head);
        detail.push_str(&traceparent.to_string());
        detail.push_str(&self.tail);
        detail
    }

    /// The detail's length once it carries a `traceparent`.
    pub(crate) fn len(&self) -> usize {
        self.head.len() + TRACEPARENT_LEN + self.tail.len()
    }
}

/// One member of a JSON object: the byte ranges of its key (quotes included) and its value.
struct Member {
    key: (usize, usize),
    value: (usize, usize),
}

/// The members of the object opening at `open`, and the index of its closing brace.
fn members(bytes: &[u8], open: usize) -> Option<(Vec<Member>, usize)> {
    let mut found = Vec::new();
    let mut at = skip_ws(bytes, open + 1);
    if bytes.get(at) == Some(&b'}') {
        return Some((found, at));
    }
    loop {
        if bytes.get(at) != Some(&b'"') {
            return None;
        }
        let key_end = skip_string(bytes, at)?;
        let colon = skip_ws(bytes, key_end);
        if bytes.get(colon) != Some(&b':') {
            return None;
        }
        let value = skip_ws(bytes, colon + 1);
        let value_end = skip_value(bytes, value)?;
        found.push(Member {
            key: (at, key_end),
            value: (value, value_end),
        });
        let next = skip_ws(bytes, value_end);
        match bytes.get(next)? {
            b',' => at = skip_ws(bytes, next + 1),
            b'}' => return Some((found, next)),
            _ => return None,
        }
    }
}

fn skip_ws(bytes: &[u8], mut at: usize) -> usize {
    while bytes.get(at).is_some_and(u8::is_ascii_whitespace) {
        at += 1;
    }
    at
}

/// The index after the string opening at `at`.
fn skip_string(bytes: &[u8], at: usize) -> Option<usize> {
    let mut i = at + 1;
    while let Some(&byte) = bytes.get(i) {
        match byte {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// The index after the value starting at `at`.
fn skip_value(bytes: &[u8], at: usize) -> Option<usize> {
    match bytes.get(at)? {
        b'"' => skip_string(bytes, at),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = at;
            while let Some(&byte) = bytes.get(i) {
                match byte {
                    b'"' => {
                        i = skip_string(bytes, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            None
        }
        _ => {
            let mut i = at;
            while bytes
                .get(i)
                .is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace())
            {
                i += 1;
            }
            (i > at).then_some(i)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    const PARENT: TraceParent = TraceParent {
        trace_id: 0x6000_0000_1111_2222_3333_4444_5555_aaaa,
        span_id: 0x00f0_67aa_0ba9_02b7,
        sampled: true,
    };

    #[test]
    fn the_traceparent_goes_into_the_metadata_and_the_data_keeps_its_bytes() {
        let detail = r#"{"metadata":{"correlation_id":"c-1","traceparent":"old","tracestate":"x=1"},"data":{"z":1,"a":"}\"{","list":[1,{"b":[]}]}}"#;
        let injectable = Injectable::new(detail, Some("congo=t61rcWkgMzE")).unwrap();
        let written = injectable.with(&PARENT);
        assert_eq!(written.len(), injectable.len());
        assert!(
            written.ends_with(r#""data":{"z":1,"a":"}\"{","list":[1,{"b":[]}]}}"#),
            "{written}"
        );
        let value: Value = serde_json::from_str(&written).unwrap();
        assert_eq!(
            value["metadata"],
            json!({"correlation_id": "c-1", "traceparent": PARENT.to_string(),
                   "tracestate": "congo=t61rcWkgMzE"})
        );
    }

    #[test]
    fn spaced_and_data_first_details_are_cut_too() {
        let detail = r#" { "data" : [1, "a"] , "metadata" : { } } "#;
        let written = Injectable::new(detail, None).unwrap().with(&PARENT);
        let value: Value = serde_json::from_str(&written).unwrap();
        assert_eq!(
            value["metadata"],
            json!({"traceparent": PARENT.to_string()})
        );
        assert_eq!(value["data"], json!([1, "a"]));
    }

    #[test]
    fn a_detail_without_a_metadata_object_is_left_alone() {
        for detail in [
            "xxxx",
            "{\"data\":1}",
            "{\"metadata\":3}",
            "{\"metadata\":{",
            "",
        ] {
            assert_eq!(Injectable::new(detail, None), None, "{detail}");
        }
    }
}
