//! Messages that are not bus events but still cross a boundary between programs: the
//! `orders` function's answer and the notifications outbox message. Writers and readers
//! (the demo, the end-to-end tests) share these types.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `orders` function's answer to a `PlaceOrder` command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderAccepted {
    /// The order.
    pub order_id: String,
    /// The flow's correlation id: every event of this order carries it.
    pub correlation_id: String,
    /// `OrderPlaced`'s idempotency key.
    pub idempotency_key: String,
    /// Id EventBridge gave `OrderPlaced`; absent in dry-run mode.
    pub event_id: Option<String>,
    /// The `detail` published.
    pub detail: Value,
}

/// One customer notification, as `notifications` writes it to the outbox queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxMessage {
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
    /// The event that caused this message.
    pub event_id: String,
    /// Deduplication key: the causing event's idempotency key.
    pub idempotency_key: String,
}

impl OutboxMessage {
    /// Decodes a message body read from the outbox; the error says which field is wrong.
    pub fn decode(body: &str) -> Result<Self, String> {
        let value: Value =
            serde_json::from_str(body).map_err(|e| format!("body is not JSON: {e}"))?;
        serde_json::from_value(value).map_err(|e| format!("not an outbox message: {e}"))
    }
}
