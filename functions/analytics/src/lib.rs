//! `analytics`: sees every event of the application (rule: source prefix `eventrail.`).
//!
//! It records one metric line per event (CloudWatch embedded-metric style: a JSON log line
//! with the event's type and, for orders, the amount) and emits nothing.

use eventrail_runtime::{Emitted, HandlerError, Incoming};
use events::AnyAppEvent;
use serde_json::{Value, json};

/// The metric recorded for one event.
pub fn metric(detail_type: &str, source: &str, data: &Value) -> Value {
    let amount = data
        .pointer("/order/total_cents")
        .or_else(|| data.get("amount_cents"))
        .and_then(Value::as_u64);
    json!({
        "metric": "eventrail.events",
        "detail_type": detail_type,
        "source": source,
        "amount_cents": amount,
    })
}

/// The function's handler.
pub async fn handle(event: Incoming<AnyAppEvent>) -> Result<Emitted, HandlerError> {
    let recorded = metric(&event.detail_type, &event.source, &event.data.0);
    tracing::info!(metric = %recorded, "recorded");
    Ok(Emitted::none().with_effect(recorded))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_sample_is_recorded() {
        let function = eventrail_runtime::test_function!(handle);
        let mut seen = 0;
        for name in function.sample_names() {
            let effects = function.effects(&name).await;
            assert_eq!(
                effects[0]["detail_type"],
                function.sample(&name)["detail-type"]
            );
            assert!(function.emitted(&name).await.is_empty());
            seen += 1;
        }
        assert!(seen >= 7);
    }

    #[test]
    fn amount_is_read_from_orders_and_payments() {
        assert_eq!(
            metric("OrderPlaced", "s", &json!({"order": {"total_cents": 5}}))["amount_cents"],
            5
        );
        assert_eq!(
            metric("PaymentFailed", "s", &json!({"amount_cents": 7}))["amount_cents"],
            7
        );
        assert_eq!(
            metric("OrderShipped", "s", &json!({}))["amount_cents"],
            Value::Null
        );
    }
}
