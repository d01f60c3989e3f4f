//! Messages of the queues an app declares watched (`[[workspace.metadata.eventrail.watch]]`):
//! where its functions send messages out of the system, such as messages to customers.

/// A watched queue of the deployed stack: the name the app gives it and its URL (read from
/// the stack output the app names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedQueueUrl {
    /// What people call it (`notices`).
    pub name: String,
    /// Queue URL.
    pub url: String,
}

/// One message read from a watched queue.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchedMessage {
    /// The watched queue's name.
    pub queue: String,
    /// SQS message id.
    pub message_id: String,
    /// `MessageDeduplicationId` (FIFO queues: derived from the causing event's idempotency key
    /// and id).
    pub deduplication_id: Option<String>,
    /// `MessageGroupId` (FIFO queues): the flow's grouping key.
    pub group_id: Option<String>,
    /// The decoded body.
    pub body: MessageBody,
}

/// What a watched message carries: the kind of message and the event that caused it.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct MessageBody {
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

impl MessageBody {
    /// Decodes a message body; the error says what is missing.
    pub fn decode(body: &str) -> Result<Self, String> {
        serde_json::from_str(body).map_err(|e| format!("not a watched message: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_what_a_function_writes() {
        let body = MessageBody::decode(
            r#"{"to":"a@example.com","kind":"task-done",
                "subject":"Task t-1 is done","body":"All steps finished",
                "correlation_id":"c-1","event_id":"e-4","idempotency_key":"k-4"}"#,
        )
        .unwrap();
        assert_eq!(body.kind, "task-done");
        assert_eq!(body.idempotency_key, "k-4");
        let error = MessageBody::decode(r#"{"kind":"x"}"#).unwrap_err();
        assert!(error.contains("missing field"), "{error}");
    }
}
