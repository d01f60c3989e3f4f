//! Messages of the notifications outbox (a FIFO queue).

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

/// The body notifications writes: the catalog's outbox message.
pub type OutboxBody = events::OutboxMessage;

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
