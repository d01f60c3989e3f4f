use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::validate::{Validate, ValidationError, message_id_safe, non_empty};

/// Metadata carried in every event's `detail`, beside the payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
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
}

impl Metadata {
    /// Metadata for the first event of a flow (no causation).
    pub fn origin(schema_version: u32, correlation_id: String, idempotency_key: String) -> Self {
        Self {
            schema_version,
            correlation_id,
            causation_id: None,
            idempotency_key,
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
