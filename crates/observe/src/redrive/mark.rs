//! The mark an operating tool leaves on an event it sends again: the event keeps its trace
//! context (`detail.metadata.traceparent`, so the consumer's spans join the trace the event
//! was first published in) and its `tracestate` says how it came back (`eventrail=redrive`
//! for a redrive, `eventrail=reput` for `eventrail put` of a stored event), so the consumer
//! opens a span that says so. An earlier `eventrail=` member is replaced, other vendors'
//! members are kept ([`mark_redelivery`]).
//!
//! Only an event that carries a `traceparent` is marked: a `tracestate` without a
//! `traceparent` means nothing (W3C Trace Context), and an event published before tracing
//! goes back exactly as it was, so a consumer that does not know the fields yet never sees
//! them on it.

use eventrail_contract::trace::{Redelivery, mark_redelivery};
use serde_json::Value;

/// `event` (an EventBridge event: `detail.metadata`) marked as delivered again by `kind`;
/// unchanged when it carries no `traceparent`.
pub fn mark_redelivered(event: &Value, kind: Redelivery) -> Value {
    let mut marked = event.clone();
    let Some(metadata) = marked
        .pointer_mut("/detail/metadata")
        .and_then(Value::as_object_mut)
    else {
        return marked;
    };
    if !metadata.get("traceparent").is_some_and(Value::is_string) {
        return marked;
    }
    let state = mark_redelivery(metadata.get("tracestate").and_then(Value::as_str), kind);
    metadata.insert("tracestate".to_owned(), Value::String(state));
    marked
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn event(metadata: Value) -> Value {
        json!({"id": "e1", "source": "app.upstream", "detail-type": "Thing",
               "detail": {"metadata": metadata, "data": {"ok": true}}})
    }

    #[test]
    fn a_traced_event_keeps_its_traceparent_and_says_how_it_came_back() {
        let original = event(json!({"correlation_id": "c", "traceparent": PARENT}));
        let marked = mark_redelivered(&original, Redelivery::Redrive);
        assert_eq!(marked["detail"]["metadata"]["traceparent"], PARENT);
        assert_eq!(
            marked["detail"]["metadata"]["tracestate"],
            "eventrail=redrive"
        );
        // Nothing else changes.
        let mut without = marked.clone();
        if let Some(metadata) = without["detail"]["metadata"].as_object_mut() {
            metadata.remove("tracestate");
        }
        assert_eq!(without, original);
    }

    #[test]
    fn an_earlier_mark_is_replaced_and_other_vendors_members_are_kept() {
        let original = event(json!({"traceparent": PARENT,
                                    "tracestate": "congo=t61rcWkgMzE,eventrail=redrive"}));
        let marked = mark_redelivered(&original, Redelivery::Reput);
        assert_eq!(
            marked["detail"]["metadata"]["tracestate"],
            "eventrail=reput,congo=t61rcWkgMzE"
        );
    }

    #[test]
    fn an_event_without_trace_context_goes_back_as_it_was() {
        for original in [
            event(json!({"correlation_id": "c"})),
            event(json!({"correlation_id": "c", "tracestate": "congo=1"})),
            json!({"id": "e1", "detail": "not an object"}),
            json!("a queue's text"),
        ] {
            assert_eq!(mark_redelivered(&original, Redelivery::Redrive), original);
        }
    }
}
