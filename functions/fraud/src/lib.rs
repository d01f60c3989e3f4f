//! `fraud`: flags suspicious orders for review.
//!
//! Its rule only delivers `OrderPlaced` events that are suspicious by content filtering
//! (total above 1000.00, or a destination outside the supported countries). The handler
//! checks the same signals again, so a direct invoke or a widened rule cannot flag a clean
//! order: with no signal it emits nothing.

use eventrail_runtime::{Emitted, HandlerError, Incoming};
use events::{
    FRAUD_REVIEW_THRESHOLD_CENTS, FraudSuspected, Order, OrderPlaced, SUPPORTED_COUNTRIES,
};

/// Why `order` looks fraudulent; empty when it does not.
pub fn fraud_signals(order: &Order) -> Vec<String> {
    let mut reasons = Vec::new();
    if order.total_cents > FRAUD_REVIEW_THRESHOLD_CENTS {
        reasons.push(format!(
            "total {} cents is above the review threshold of {FRAUD_REVIEW_THRESHOLD_CENTS}",
            order.total_cents
        ));
    }
    let country = &order.shipping_address.country;
    if !SUPPORTED_COUNTRIES.contains(&country.as_str()) {
        reasons.push(format!(
            "ships to {country}, outside the supported countries"
        ));
    }
    reasons
}

/// The function's handler.
pub async fn handle(event: Incoming<OrderPlaced>) -> Result<Emitted, HandlerError> {
    let order = event.data.order;
    let reasons = fraud_signals(&order);
    if reasons.is_empty() {
        tracing::info!(order_id = %order.order_id, "no fraud signal");
        return Ok(Emitted::none());
    }
    tracing::warn!(order_id = %order.order_id, ?reasons, "fraud suspected");
    Ok(Emitted::one(FraudSuspected {
        order_id: order.order_id,
        customer_id: order.customer_id,
        total_cents: order.total_cents,
        country: order.shipping_address.country,
        reasons,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn run(name: &str) -> Vec<eventrail_runtime::EmittedSummary> {
        eventrail_runtime::test_function!(handle)
            .emitted(name)
            .await
    }

    #[tokio::test]
    async fn high_value_order_is_suspected() {
        let emitted = run("order-placed-high-value.json").await;
        assert_eq!(emitted[0].detail_type, "FraudSuspected");
        assert_eq!(
            emitted[0].detail["data"]["reasons"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }

    #[tokio::test]
    async fn unsupported_country_is_suspected() {
        let emitted = run("order-placed-unsupported-country.json").await;
        assert!(
            emitted[0].detail["data"]["reasons"][0]
                .as_str()
                .unwrap()
                .contains("BR")
        );
    }

    #[tokio::test]
    async fn clean_order_emits_nothing() {
        assert!(run("order-placed.json").await.is_empty());
    }
}
