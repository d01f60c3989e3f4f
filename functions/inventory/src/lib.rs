//! `inventory`: reserves stock for every placed order.
//!
//! On `OrderPlaced` it emits `StockReserved` when every SKU is in stock, or
//! `StockUnavailable` naming the SKUs that are not. Stock is simulated and deterministic:
//! a SKU starting with `OOS-` is out of stock, every other SKU is in stock.
//! Running twice on the same event emits the same events with the same idempotency keys.

use eventrail_runtime::{Emitted, HandlerError, Incoming};
use events::{Order, OrderPlaced, StockReserved, StockUnavailable, derive_key};

/// SKUs with this prefix are out of stock.
pub const OUT_OF_STOCK_PREFIX: &str = "OOS-";

/// The SKUs of `order` that cannot be reserved, in order of appearance.
pub fn unavailable_skus(order: &Order) -> Vec<String> {
    order
        .items
        .iter()
        .filter(|item| item.sku.starts_with(OUT_OF_STOCK_PREFIX))
        .map(|item| item.sku.clone())
        .collect()
}

/// Decides the outcome of reserving stock for `order`.
pub fn reserve(order: Order) -> Emitted {
    let missing = unavailable_skus(&order);
    if missing.is_empty() {
        let reservation_id = format!("res-{}", derive_key(&["reservation", &order.order_id]));
        Emitted::one(StockReserved {
            order,
            reservation_id,
        })
    } else {
        Emitted::one(StockUnavailable {
            order_id: order.order_id,
            customer_id: order.customer_id,
            customer_email: order.customer_email,
            unavailable_skus: missing,
        })
    }
}

/// The function's handler.
pub async fn handle(event: Incoming<OrderPlaced>) -> Result<Emitted, HandlerError> {
    let order = event.data.order;
    tracing::info!(order_id = %order.order_id, items = order.items.len(), "reserving stock");
    Ok(reserve(order))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// build.rs (`eventrail_build::lambda_binary`) hands the declaration to
    /// `declaration!()` at build time, and it reads as the manifest's text does.
    #[test]
    fn the_declaration_is_compiled_in_by_the_build_script() {
        let embedded = eventrail_runtime::declaration!();
        assert!(
            embedded.declaration_json.is_some(),
            "build.rs did not apply"
        );
        let from_text = eventrail_runtime::EmbeddedManifest {
            declaration_json: None,
            ..embedded
        };
        assert_eq!(
            embedded.declaration().unwrap(),
            from_text.declaration().unwrap()
        );
    }

    #[tokio::test]
    async fn in_stock_order_is_reserved() {
        let emitted = eventrail_runtime::test_function!(handle)
            .emitted("order-placed.json")
            .await;
        assert_eq!(emitted.len(), 1);
        assert_eq!(emitted[0].detail_type, "StockReserved");
        assert_eq!(emitted[0].detail["data"]["order"]["order_id"], "ord-1001");
        assert!(
            emitted[0].detail["data"]["reservation_id"]
                .as_str()
                .unwrap()
                .starts_with("res-")
        );
    }

    #[tokio::test]
    async fn out_of_stock_order_names_the_missing_skus() {
        let emitted = eventrail_runtime::test_function!(handle)
            .emitted("order-placed-out-of-stock.json")
            .await;
        assert_eq!(emitted[0].detail_type, "StockUnavailable");
        assert_eq!(
            emitted[0].detail["data"]["unavailable_skus"],
            serde_json::json!(["OOS-KETTLE-009"])
        );
    }

    #[tokio::test]
    async fn invalid_order_is_dead_lettered() {
        let reason = eventrail_runtime::test_function!(handle)
            .dead_letter_reason("poison/order-placed-zero-quantity.json")
            .await;
        assert!(reason.contains("quantity"), "{reason}");
    }

    #[test]
    fn reservation_is_deterministic() {
        let function = eventrail_runtime::test_function!(handle);
        let order = || {
            let raw = function.sample("order-placed.json");
            serde_json::from_value::<Order>(raw["detail"]["data"]["order"].clone()).unwrap()
        };
        assert_eq!(reserve(order()), reserve(order()));
    }
}
