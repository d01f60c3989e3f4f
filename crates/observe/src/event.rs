//! One event seen on the bus, with the flow metadata read out of its `detail`.

use serde_json::Value;

/// An EventBridge event as a target receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedEvent {
    /// EventBridge event id.
    pub id: String,
    /// `source`.
    pub source: String,
    /// `detail-type`.
    pub detail_type: String,
    /// `time` as EventBridge wrote it.
    pub time: String,
    /// `detail.metadata.correlation_id`, when the event carries eventrail metadata.
    pub correlation_id: Option<String>,
    /// `detail.metadata.causation_id`.
    pub causation_id: Option<String>,
    /// `detail.metadata.idempotency_key`.
    pub idempotency_key: Option<String>,
    /// `replay-name`: set on events re-delivered by an archive replay.
    pub replay_name: Option<String>,
    /// The whole event.
    pub raw: Value,
}

impl ObservedEvent {
    /// Reads an event; fails (with the reason) when it is not an EventBridge event.
    pub fn from_value(raw: Value) -> Result<Self, String> {
        let field = |name: &str| -> Result<String, String> {
            raw.get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("not an EventBridge event: no string field `{name}`"))
        };
        let metadata = |name: &str| {
            raw.pointer(&format!("/detail/metadata/{name}"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        Ok(Self {
            id: field("id")?,
            source: field("source")?,
            detail_type: field("detail-type")?,
            time: raw
                .get("time")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            correlation_id: metadata("correlation_id"),
            causation_id: metadata("causation_id"),
            idempotency_key: metadata("idempotency_key"),
            replay_name: raw
                .get("replay-name")
                .and_then(Value::as_str)
                .map(str::to_owned),
            raw,
        })
    }

    /// Parses an SQS message body holding an event.
    pub fn from_json(body: &str) -> Result<Self, String> {
        let value: Value =
            crate::json::parse(body).map_err(|e| format!("body is not JSON: {e}"))?;
        Self::from_value(value)
    }

    /// Who emitted the event, read from its source: the part after the last dot
    /// (`eventrail.planner` -> `planner`; a source without a dot is returned whole).
    pub fn emitter(&self) -> &str {
        self.source
            .rsplit_once('.')
            .map_or(self.source.as_str(), |(_, last)| last)
    }

    /// `detail.data`.
    pub fn data(&self) -> &Value {
        self.raw.pointer("/detail/data").unwrap_or(&Value::Null)
    }

    /// True for an event re-delivered by a replay.
    pub fn is_replayed(&self) -> bool {
        self.replay_name.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_envelope_and_metadata() {
        let event = ObservedEvent::from_value(json!({
            "version": "0", "id": "e-2", "source": "eventrail.planner",
            "detail-type": "TaskAssigned", "time": "2026-11-20T10:15:31Z",
            "detail": {"metadata": {"schema_version": 1, "correlation_id": "c-1",
                        "causation_id": "e-1", "idempotency_key": "k-2"},
                       "data": {"task": {"task_id": "t-1"}, "assignee": "w"}}
        }))
        .unwrap();
        assert_eq!(event.emitter(), "planner");
        assert_eq!(event.correlation_id.as_deref(), Some("c-1"));
        assert_eq!(event.causation_id.as_deref(), Some("e-1"));
        assert_eq!(event.idempotency_key.as_deref(), Some("k-2"));
        assert!(!event.is_replayed());
    }

    #[test]
    fn null_causation_and_replay_name() {
        let event = ObservedEvent::from_json(
            r#"{"id":"e","source":"eventrail.intake","detail-type":"TaskCreated","time":"t",
                "replay-name":"r1",
                "detail":{"metadata":{"correlation_id":"c","causation_id":null},"data":{"task_id":"t"}}}"#,
        )
        .unwrap();
        assert_eq!(event.causation_id, None);
        assert_eq!(event.replay_name.as_deref(), Some("r1"));
    }

    #[test]
    fn rejects_what_is_not_an_event() {
        let error = ObservedEvent::from_json(r#"{"id":"x"}"#).unwrap_err();
        assert!(error.contains("`source`"), "{error}");
        assert!(ObservedEvent::from_json("nope").is_err());
    }
}
