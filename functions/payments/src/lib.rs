//! `payments`: captures the payment of every order whose stock is reserved.
//!
//! On `StockReserved` it emits `PaymentCaptured`, or `PaymentFailed` when the card declines.
//! The gateway is simulated and deterministic by payment token:
//! - `tok_decline`: declined -> `PaymentFailed`;
//! - `tok_gateway_down`: the gateway is unreachable -> a retryable error (Lambda retries,
//!   then the event lands in this function's on-failure queue). This is the documented
//!   trigger for exercising the failure path. The outage ends, for the orders listed in
//!   `PAYMENT_GATEWAY_RECOVERED` (comma-separated order ids, read at each call), so a test or
//!   a demo can bring the gateway back for its own order and redrive it without changing
//!   the outcome of anyone else's;
//! - any other token: captured.

use eventrail_runtime::{Emitted, HandlerError, Incoming};
use events::{PaymentCaptured, PaymentFailed, StockReserved, derive_key};

/// Token the simulated gateway declines.
pub const DECLINED_TOKEN: &str = "tok_decline";
/// Token for which the simulated gateway is unreachable (retryable failure).
pub const GATEWAY_DOWN_TOKEN: &str = "tok_gateway_down";

/// What the simulated payment gateway answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayAnswer {
    /// Money captured, with the payment id.
    Captured(String),
    /// Card declined, with the reason for the customer.
    Declined(String),
    /// The gateway could not be reached.
    Unavailable(String),
}

/// Environment variable listing the order ids for which the gateway outage is over.
pub const RECOVERED_VAR: &str = "PAYMENT_GATEWAY_RECOVERED";

/// Whether the outage is over for `order_id` (see [`RECOVERED_VAR`]).
fn recovered(order_id: &str) -> bool {
    listed(std::env::var(RECOVERED_VAR).ok().as_deref(), order_id)
}

/// Whether `order_id` is in a comma-separated `list`.
fn listed(list: Option<&str>, order_id: &str) -> bool {
    list.is_some_and(|list| list.split(',').any(|id| id.trim() == order_id))
}

/// Asks the simulated gateway to capture `amount_cents` for `order_id` with `token`.
pub fn charge(order_id: &str, token: &str, amount_cents: u64) -> GatewayAnswer {
    match token {
        GATEWAY_DOWN_TOKEN if recovered(order_id) => {
            GatewayAnswer::Captured(format!("pay-{}", derive_key(&["payment", order_id])))
        }
        DECLINED_TOKEN => GatewayAnswer::Declined("card declined by issuer".to_owned()),
        GATEWAY_DOWN_TOKEN => GatewayAnswer::Unavailable(format!(
            "payment gateway unavailable while charging {amount_cents} cents for order {order_id}"
        )),
        _ => GatewayAnswer::Captured(format!("pay-{}", derive_key(&["payment", order_id]))),
    }
}

/// The function's handler.
pub async fn handle(event: Incoming<StockReserved>) -> Result<Emitted, HandlerError> {
    let order = event.data.order;
    let amount_cents = order.total_cents;
    tracing::info!(order_id = %order.order_id, amount_cents, "capturing payment");
    match charge(&order.order_id, &order.payment_token, amount_cents) {
        GatewayAnswer::Captured(payment_id) => Ok(Emitted::one(PaymentCaptured {
            order,
            payment_id,
            amount_cents,
        })),
        GatewayAnswer::Declined(reason) => Ok(Emitted::one(PaymentFailed {
            order_id: order.order_id,
            customer_id: order.customer_id,
            customer_email: order.customer_email,
            amount_cents,
            reason,
        })),
        GatewayAnswer::Unavailable(reason) => Err(HandlerError::retryable(reason)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventrail_runtime::ConsumerError;

    #[tokio::test]
    async fn reserved_order_is_captured() {
        let emitted = eventrail_runtime::test_function!(handle)
            .emitted("stock-reserved.json")
            .await;
        assert_eq!(emitted[0].detail_type, "PaymentCaptured");
        assert_eq!(emitted[0].detail["data"]["amount_cents"], 3399);
    }

    #[tokio::test]
    async fn declined_card_fails_the_payment() {
        let emitted = eventrail_runtime::test_function!(handle)
            .emitted("stock-reserved-card-declined.json")
            .await;
        assert_eq!(emitted[0].detail_type, "PaymentFailed");
        assert_eq!(
            emitted[0].detail["data"]["reason"],
            "card declined by issuer"
        );
    }

    #[test]
    fn the_outage_ends_only_for_the_listed_orders() {
        assert!(listed(Some("ord-1, ord-2"), "ord-2"));
        assert!(!listed(Some("ord-1,ord-2"), "ord-3"));
        assert!(!listed(None, "ord-1"));
        assert!(!listed(Some(""), "ord-1"));
    }

    #[tokio::test]
    async fn gateway_down_is_a_retryable_error() {
        let error = eventrail_runtime::test_function!(handle)
            .run_sample("stock-reserved-gateway-down.json")
            .await
            .unwrap_err();
        assert!(
            matches!(&error, ConsumerError::Handler { source: HandlerError::Retryable(m), .. } if m.to_string().contains("gateway unavailable")),
            "{error:?}"
        );
    }
}
