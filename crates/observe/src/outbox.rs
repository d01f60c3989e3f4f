//! Messages of the notifier outbox (a FIFO queue).

/// One customer notification read from the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
    /// SQS message id.
    pub message_id: String,
    /// `MessageDeduplicationId` (the reference app derives it from the causing event's
    /// idempotency key and id).
    pub deduplication_id: Option<String>,
    /// `MessageGroupId`: the flow's grouping key.
    pub group_id: Option<String>,
    /// The decoded body.
    pub body: OutboxBody,
}

/// What an observable outbox message carries: the kind of message and the event that caused
/// it (any other fields of the body are kept in `raw`).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct OutboxBody {
    /// What kind of message (`task-done`).
    pub kind: String,
    /// The flow it belongs to.
    pub correlation_id: String,
    /// The EventBridge id of the event that caused it.
    pub event_id: String,
    /// The idempotency key of that event: readers deduplicate on it.
    pub idempotency_key: String,
    /// Recipient, when the message has one.
    #[serde(default)]
    pub to: String,
    /// Subject line, when the message has one.
    #[serde(default)]
    pub subject: String,
}

impl OutboxBody {
    /// Decodes a message body; the error says what is missing.
    pub fn decode(body: &str) -> Result<Self, String> {
        serde_json::from_str(body).map_err(|e| format!("not an outbox message: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_what_a_function_writes() {
        let body = OutboxBody::decode(
            r#"{"to":"a@example.com","kind":"task-done",
                "subject":"Task t-1 is done","body":"All steps finished",
                "correlation_id":"c-1","event_id":"e-4","idempotency_key":"k-4"}"#,
        )
        .unwrap();
        assert_eq!(body.kind, "task-done");
        assert_eq!(body.idempotency_key, "k-4");
        let error = OutboxBody::decode(r#"{"kind":"x"}"#).unwrap_err();
        assert!(error.contains("missing field"), "{error}");
    }
}
