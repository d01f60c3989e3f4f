use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::validate::{Validate, ValidationError, message_id_safe, non_empty};

/// Metadata carried in every event's `detail`, beside the payload.
///
/// Open to additions: a decoder ignores metadata fields it does not know, and the catalog's
/// schema says so (`additionalProperties: true`), so a field a newer producer adds (such as
/// [`Metadata::traceparent`] was) never makes an event poison for a consumer not yet updated.
/// The payload (`data`) and the envelope around it stay closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(
    extend("additionalProperties" = true),
    description = "Metadata carried in every event's `detail`, beside the payload. Open to additions: consumers ignore metadata fields they do not know."
)]
pub struct Metadata {
    /// Version of the payload's schema ([`crate::Event::VERSION`]).
    #[schemars(description = "Version of the payload's schema (the event type's `VERSION`).")]
    pub schema_version: u32,
    /// Constant across a whole flow: every event caused, directly or not, by one command.
    pub correlation_id: String,
    /// The EventBridge id of the event that caused this one; `null` for the first event.
    pub causation_id: Option<String>,
    /// Stable across retries, replays and redrives: consumers deduplicate on it.
    pub idempotency_key: String,
    /// W3C trace context of the span that published the event (`00-<trace>-<span>-<flags>`,
    /// [`crate::trace::TraceParent`]); absent on events from before tracing, or from a
    /// producer that does not trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        description = "W3C traceparent of the span that published the event (00-<32 hex trace id>-<16 hex span id>-<2 hex flags>)."
    )]
    pub traceparent: Option<String>,
    /// W3C `tracestate` that came with the trace, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(description = "W3C tracestate carried with the traceparent, when present.")]
    pub tracestate: Option<String>,
}

impl Metadata {
    /// Metadata for the first event of a flow (no causation).
    pub fn origin(schema_version: u32, correlation_id: String, idempotency_key: String) -> Self {
        Self {
            schema_version,
            correlation_id,
            causation_id: None,
            idempotency_key,
            traceparent: None,
            tracestate: None,
        }
    }

    /// Metadata for an event caused by the event `cause_id` carrying `self`: same correlation,
    /// causation = the cause's id, and an idempotency key derived deterministically from
    /// the cause's key, the new event's detail-type and its position among the emitted events.
    pub fn caused(
        &self,
        cause_id: &str,
        schema_version: u32,
        detail_type: &str,
        index: usize,
    ) -> Self {
        Self {
            schema_version,
            correlation_id: self.correlation_id.clone(),
            causation_id: Some(cause_id.to_owned()),
            idempotency_key: derive_key(&[&self.idempotency_key, detail_type, &index.to_string()]),
            // The publisher writes the new event's trace context (its own publish span).
            traceparent: None,
            tracestate: None,
        }
    }
}

impl Validate for Metadata {
    fn validate(&self) -> Result<(), ValidationError> {
        non_empty("metadata.correlation_id", &self.correlation_id)?;
        message_id_safe("metadata.idempotency_key", &self.idempotency_key)?;
        if let Some(cause) = &self.causation_id {
            non_empty("metadata.causation_id", cause)?;
        }
        Ok(())
    }
}

/// The `detail` of every eventrail event: metadata plus the typed payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Envelope<T> {
    /// Flow metadata.
    pub metadata: Metadata,
    /// The event's payload.
    pub data: T,
}

impl<T: Validate> Validate for Envelope<T> {
    fn validate(&self) -> Result<(), ValidationError> {
        self.metadata.validate()?;
        self.data.validate().map_err(|e| e.within("data"))
    }
}

/// A deterministic key: hex SHA-256 (first 32 characters) of the parts joined by `\u{1f}`.
pub fn derive_key(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            hasher.update([0x1f]);
        }
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caused_metadata_keeps_correlation_and_points_at_cause() {
        let origin = Metadata::origin(1, "corr-1".into(), "key-1".into());
        let next = origin.caused("evt-9", 1, "TaskAssigned", 0);
        assert_eq!(next.correlation_id, "corr-1");
        assert_eq!(next.causation_id.as_deref(), Some("evt-9"));
        assert_ne!(next.idempotency_key, origin.idempotency_key);
        // Deterministic: the same cause yields the same key (safe under redelivery).
        assert_eq!(next, origin.caused("evt-9", 1, "TaskAssigned", 0));
        // Different type or position yields a different key.
        assert_ne!(
            next.idempotency_key,
            origin.caused("evt-9", 1, "TaskRejected", 0).idempotency_key
        );
        assert_ne!(
            next.idempotency_key,
            origin.caused("evt-9", 1, "TaskAssigned", 1).idempotency_key
        );
    }

    #[test]
    fn metadata_without_trace_context_decodes_and_keeps_none() {
        let m: Metadata = serde_json::from_value(serde_json::json!({
            "schema_version": 1,
            "correlation_id": "c",
            "causation_id": null,
            "idempotency_key": "k"
        }))
        .unwrap();
        assert_eq!(m, Metadata::origin(1, "c".into(), "k".into()));
        // And writes none back: an event from a producer that does not trace stays as it was.
        let written = serde_json::to_value(&m).unwrap();
        assert!(written.get("traceparent").is_none() && written.get("tracestate").is_none());
    }

    #[test]
    fn metadata_ignores_fields_it_does_not_know() {
        let m: Metadata = serde_json::from_value(serde_json::json!({
            "schema_version": 1,
            "correlation_id": "c",
            "causation_id": null,
            "idempotency_key": "k",
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "tracestate": "eventrail=redrive",
            "added_by_a_newer_producer": {"any": ["shape"]}
        }))
        .unwrap();
        assert_eq!(
            m.traceparent.as_deref(),
            Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        );
        assert_eq!(m.tracestate.as_deref(), Some("eventrail=redrive"));
    }

    #[test]
    fn the_envelope_stays_closed_around_open_metadata() {
        let detail = serde_json::json!({
            "metadata": {"schema_version": 1, "correlation_id": "c", "causation_id": null,
                         "idempotency_key": "k", "unknown": 1},
            "data": 1,
            "beside": true
        });
        let error = serde_json::from_value::<Envelope<u32>>(detail).unwrap_err();
        assert!(error.to_string().contains("beside"), "{error}");
    }

    #[test]
    fn the_metadata_schema_is_open_and_lists_trace_context_as_optional() {
        let schema = serde_json::to_value(schemars::schema_for!(Metadata)).unwrap();
        assert_eq!(schema["additionalProperties"], serde_json::json!(true));
        for field in ["traceparent", "tracestate"] {
            assert!(schema["properties"].get(field).is_some(), "{schema}");
        }
        let required = schema["required"].as_array().unwrap();
        assert!(
            !required
                .iter()
                .any(|r| r == "traceparent" || r == "tracestate")
        );
    }

    #[test]
    fn derive_key_separates_parts() {
        assert_ne!(derive_key(&["ab", "c"]), derive_key(&["a", "bc"]));
        assert_eq!(derive_key(&["x"]).len(), 32);
    }

    #[test]
    fn empty_correlation_is_invalid() {
        let m = Metadata::origin(1, " ".into(), "k".into());
        assert_eq!(m.validate().unwrap_err().field, "metadata.correlation_id");
    }
}
