//! `shipping`: ships every paid order.
//!
//! On `PaymentCaptured` it emits `OrderShipped` with a carrier chosen by destination
//! (domestic `Parcelway` for US, `Globex Freight` elsewhere) and a tracking number derived
//! from the order id, so a redelivered event ships nothing new.

use eventrail_runtime::{Emitted, HandlerError, Incoming};
use events::{Order, OrderShipped, PaymentCaptured, derive_key};

/// Builds the shipment for a paid `order`.
pub fn ship(order: &Order) -> OrderShipped {
    let country = order.shipping_address.country.clone();
    let (carrier, prefix) = if country == "US" {
        ("Parcelway", "PW")
    } else {
        ("Globex Freight", "GF")
    };
    let key = derive_key(&["shipment", &order.order_id]);
    OrderShipped {
        order_id: order.order_id.clone(),
        customer_id: order.customer_id.clone(),
        customer_email: order.customer_email.clone(),
        carrier: carrier.to_owned(),
        tracking_number: format!("{prefix}-{}", key[..12].to_uppercase()),
        country,
    }
}

/// The function's handler.
pub async fn handle(event: Incoming<PaymentCaptured>) -> Result<Emitted, HandlerError> {
    let shipment = ship(&event.data.order);
    tracing::info!(order_id = %shipment.order_id, tracking = %shipment.tracking_number, "shipping order");
    Ok(Emitted::one(shipment))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn paid_order_ships_with_a_deterministic_tracking_number() {
        let function = eventrail_runtime::test_function!(handle);
        let emitted = function.emitted("payment-captured.json").await;
        assert_eq!(emitted[0].detail_type, "OrderShipped");
        assert_eq!(emitted[0].detail["data"]["carrier"], "Parcelway");
        let tracking = emitted[0].detail["data"]["tracking_number"].clone();
        assert!(tracking.as_str().unwrap().starts_with("PW-"));
        let again = function.emitted("payment-captured.json").await;
        assert_eq!(again[0].detail["data"]["tracking_number"], tracking);
    }
}
