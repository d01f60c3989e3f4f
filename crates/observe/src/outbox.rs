//! Messages of the notifications outbox (a FIFO queue).

use serde::Deserialize;
use serde_json::Value;

/// One customer notification read from the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
    /// SQS message id.
    pub message_id: String,
    /// `MessageDeduplicationId`: the causing event's idempotency key.
    pub deduplication_id: Option<String>,
    /// `MessageGroupId`: the order id.
    pub group_id: Option<String>,
    /// The decoded body.
    pub body: OutboxBody,
}

/// The body notifications writes (functions/notifications `OutboxMessage`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OutboxBody {
    /// The order.
    pub order_id: String,
    /// Recipient.
    pub to: String,
    /// `stock-unavailable`, `payment-failed` or `order-shipped`.
    pub kind: String,
    /// Subject line.
    pub subject: String,
    /// Text.
    pub body: String,
    /// The flow.
    pub correlation_id: String,
    /// The event that caused the message.
    pub event_id: String,
    /// The causing event's idempotency key.
    pub idempotency_key: String,
}

impl OutboxBody {
    /// Decodes a message body; the error says which field is wrong.
    pub fn decode(body: &str) -> Result<Self, String> {
        let value: Value =
            serde_json::from_str(body).map_err(|e| format!("body is not JSON: {e}"))?;
        serde_json::from_value(value).map_err(|e| format!("not an outbox message: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_what_notifications_writes() {
        let body = OutboxBody::decode(
            r#"{"order_id":"o-1","to":"a@example.com","kind":"order-shipped",
                "subject":"Order o-1 has shipped","body":"Parcelway is carrying your parcel",
                "correlation_id":"c-1","event_id":"e-4","idempotency_key":"k-4"}"#,
        )
        .unwrap();
        assert_eq!(body.kind, "order-shipped");
        assert_eq!(body.idempotency_key, "k-4");
        let error = OutboxBody::decode(r#"{"order_id":"o-1"}"#).unwrap_err();
        assert!(error.contains("missing field"), "{error}");
    }
}
