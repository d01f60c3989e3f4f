//! Putting events on a bus: the one place a PutEvents entry is built and its answer read.

use std::time::SystemTime;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use eventrail_contract::trace::TraceParent;
use serde_json::Value;

use crate::error::{ObserveError, Result, aws};

/// An event to put on the bus as is (tests use it for poison events and replays).
#[derive(Debug, Clone, PartialEq)]
pub struct BusEvent {
    /// `source`.
    pub source: String,
    /// `detail-type`.
    pub detail_type: String,
    /// `detail`.
    pub detail: Value,
    /// `Time`; EventBridge uses the time of the call when absent.
    pub time: Option<SystemTime>,
}

/// What one PutEvents entry carries, borrowed from a [`BusEvent`] or an envelope.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry<'a> {
    source: &'a str,
    detail_type: &'a str,
    detail: &'a Value,
    resources: Option<Vec<String>>,
    time: Option<SystemTime>,
}

impl<'a> Entry<'a> {
    /// The event's fields.
    pub(crate) fn of_event(event: &'a BusEvent) -> Self {
        Self {
            source: &event.source,
            detail_type: &event.detail_type,
            detail: &event.detail,
            resources: None,
            time: event.time,
        }
    }

    /// An envelope's `source`, `detail-type`, `detail` (and `resources`, when any); `None`
    /// when one of the first three is missing or `source`/`detail-type` is not a string.
    pub(crate) fn of_envelope(event: &'a Value) -> Option<Self> {
        let text = |name: &str| event.get(name).and_then(Value::as_str);
        let resources = event
            .get("resources")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .filter(|r| !r.is_empty());
        Some(Self {
            source: text("source")?,
            detail_type: text("detail-type")?,
            detail: event.get("detail")?,
            resources,
            time: None,
        })
    }

    /// The PutEvents entry that puts it on `bus_name`. An event that carries trace context
    /// (`detail.metadata.traceparent`) gets the same trace as the entry's X-Ray `TraceHeader`,
    /// as the runtime's publishes do, so X-Ray follows an event the tools put again too.
    pub(crate) fn on(self, bus_name: &str) -> PutEventsRequestEntry {
        let trace_header = self
            .detail
            .pointer("/metadata/traceparent")
            .and_then(Value::as_str)
            .and_then(|value| TraceParent::parse(value).ok())
            .map(|parent| parent.to_xray_header());
        PutEventsRequestEntry::builder()
            .event_bus_name(bus_name)
            .source(self.source)
            .detail_type(self.detail_type)
            .detail(self.detail.to_string())
            .set_resources(self.resources)
            .set_time(self.time.map(aws_smithy_types::DateTime::from))
            .set_trace_header(trace_header)
            .build()
    }
}

/// Puts one `entry` on `bus_name`; returns the new event id, or an error with the entry's
/// error code.
pub(crate) async fn put_one(
    events: &aws_sdk_eventbridge::Client,
    bus_name: &str,
    entry: Entry<'_>,
) -> Result<String> {
    let output = events
        .put_events()
        .entries(entry.on(bus_name))
        .send()
        .await
        .map_err(aws("events:PutEvents", bus_name))?;
    let first = output.entries().first();
    match first.and_then(|e| e.event_id()) {
        Some(id) if output.failed_entry_count() == 0 => Ok(id.to_owned()),
        _ => Err(ObserveError::Aws {
            operation: "events:PutEvents",
            target: bus_name.to_owned(),
            message: format!(
                "the entry failed: {} {}",
                first
                    .and_then(|e| e.error_code())
                    .unwrap_or("no error code"),
                first.and_then(|e| e.error_message()).unwrap_or("")
            ),
        }),
    }
}

/// Puts an envelope's `source`, `detail-type`, `detail` (and `resources`) on `bus_name`;
/// returns the new event id, or an error with the entry's error code.
pub async fn put_envelope(
    events: &aws_sdk_eventbridge::Client,
    bus_name: &str,
    event: &Value,
) -> Result<String> {
    let entry = Entry::of_envelope(event).ok_or_else(|| {
        ObserveError::Invalid(
            "the event needs string fields `source` and `detail-type` and a `detail`".to_owned(),
        )
    })?;
    put_one(events, bus_name, entry).await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;

    #[test]
    fn an_envelope_becomes_an_entry_on_the_bus_and_a_partial_one_does_not() {
        let event = json!({
            "source": "app.intake",
            "detail-type": "TaskCreated",
            "detail": {"taskId": "t-1"},
            "resources": ["arn:a", 7],
        });
        let entry = Entry::of_envelope(&event).expect("an entry").on("bus");
        assert_eq!(entry.event_bus_name(), Some("bus"));
        assert_eq!(entry.source(), Some("app.intake"));
        assert_eq!(entry.detail_type(), Some("TaskCreated"));
        assert_eq!(entry.detail(), Some(r#"{"taskId":"t-1"}"#));
        assert_eq!(entry.resources(), ["arn:a"]);
        assert!(entry.time().is_none());
        let no_resources =
            json!({"source": "s", "detail-type": "T", "detail": {}, "resources": []});
        assert!(
            Entry::of_envelope(&no_resources)
                .expect("an entry")
                .on("bus")
                .resources
                .is_none()
        );
        for partial in [
            json!({"detail-type": "T", "detail": {}}),
            json!({"source": "s", "detail": {}}),
            json!({"source": "s", "detail-type": "T"}),
            json!({"source": 1, "detail-type": "T", "detail": {}}),
        ] {
            assert!(Entry::of_envelope(&partial).is_none(), "{partial}");
        }
    }

    #[test]
    fn an_event_becomes_the_same_entry_with_its_time() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let event = BusEvent {
            source: "app.intake".into(),
            detail_type: "TaskCreated".into(),
            detail: json!({"taskId": "t-1"}),
            time: Some(at),
        };
        let entry = Entry::of_event(&event).on("bus");
        assert_eq!(entry.event_bus_name(), Some("bus"));
        assert_eq!(entry.source(), Some("app.intake"));
        assert_eq!(entry.detail_type(), Some("TaskCreated"));
        assert_eq!(entry.detail(), Some(r#"{"taskId":"t-1"}"#));
        assert_eq!(entry.time().map(|t| t.secs()), Some(1_700_000_000));
        assert!(entry.resources.is_none());
    }

    #[test]
    fn an_event_with_trace_context_carries_its_trace_as_the_entry_s_trace_header() {
        let traced = json!({"source": "s", "detail-type": "T", "detail": {"metadata": {
            "traceparent": "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01"}}});
        let entry = Entry::of_envelope(&traced).expect("an entry").on("bus");
        assert_eq!(
            entry.trace_header(),
            Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
        );
        for untraced in [
            json!({"source": "s", "detail-type": "T", "detail": {"metadata": {}}}),
            json!({"source": "s", "detail-type": "T",
                   "detail": {"metadata": {"traceparent": "not one"}}}),
        ] {
            let entry = Entry::of_envelope(&untraced).expect("an entry").on("bus");
            assert_eq!(entry.trace_header(), None, "{untraced}");
        }
    }
}
