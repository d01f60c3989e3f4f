//! The order scenarios of the reference shop: a `PlaceOrder` command per documented outcome.
//! The end-to-end tests place them; the demo places [`Scenario::DEMO`], through the demo
//! declaration `events/demo.json` that `tests/demo.rs` generates from them.

use crate::{Address, Order, OrderItem, PlaceOrder};

/// An order whose outcome is decided by its content (functions/*/src/lib.rs document how).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scenario {
    /// In stock, card accepted: reserved, paid, shipped, customer notified.
    HappyPath,
    /// A SKU starting with `OOS-`: stock unavailable, customer notified.
    OutOfStock,
    /// Payment token `tok_decline`: payment failed, customer notified.
    CardDeclined,
    /// Total above 1000.00: fraud suspected (the order still ships; fraud flags it for review).
    Fraudulent,
    /// Ships outside the supported countries: fraud suspected, ships with Globex Freight.
    UnsupportedCountry,
    /// Payment token `tok_gateway_down`: payments fails with a retryable error; after
    /// Lambda's retries the event lands in payments' failure queue.
    GatewayDown,
}

impl Scenario {
    /// The five orders of the demo.
    pub const DEMO: [Self; 5] = [
        Self::HappyPath,
        Self::OutOfStock,
        Self::CardDeclined,
        Self::Fraudulent,
        Self::GatewayDown,
    ];

    /// Every scenario.
    pub const ALL: [Self; 6] = [
        Self::HappyPath,
        Self::OutOfStock,
        Self::CardDeclined,
        Self::Fraudulent,
        Self::UnsupportedCountry,
        Self::GatewayDown,
    ];

    /// Short name.
    pub fn label(self) -> &'static str {
        match self {
            Self::HappyPath => "happy path",
            Self::OutOfStock => "out of stock",
            Self::CardDeclined => "declined card",
            Self::Fraudulent => "fraudulent (high value)",
            Self::UnsupportedCountry => "fraudulent (unsupported country)",
            Self::GatewayDown => "payment gateway down (handler failure)",
        }
    }

    /// What decides the outcome, for people.
    pub fn trigger(self) -> &'static str {
        match self {
            Self::HappyPath => "2 teas and a mug, card tok_visa, ships to the US",
            Self::OutOfStock => "contains SKU OOS-KETTLE-009 (OOS- = out of stock)",
            Self::CardDeclined => "card token tok_decline",
            Self::Fraudulent => "total 1,350.00 USD, above the 1,000.00 review threshold",
            Self::UnsupportedCountry => "ships to BR, outside the supported countries",
            Self::GatewayDown => "card token tok_gateway_down (payments returns a retryable error)",
        }
    }

    /// The `PlaceOrder` command for this scenario, with `order_id`.
    pub fn command(self, order_id: &str) -> PlaceOrder {
        let item = |sku: &str, quantity: u32, unit_price_cents: u64| OrderItem {
            sku: sku.to_owned(),
            quantity,
            unit_price_cents,
        };
        let items = match self {
            Self::OutOfStock => vec![
                item("SKU-TEA-001", 1, 1250),
                item("OOS-KETTLE-009", 1, 4599),
            ],
            Self::Fraudulent => vec![item("SKU-ESPRESSO-PRO", 1, 135_000)],
            _ => vec![item("SKU-TEA-001", 2, 1250), item("SKU-MUG-002", 1, 899)],
        };
        let total_cents = items
            .iter()
            .map(|i| u64::from(i.quantity) * i.unit_price_cents)
            .sum();
        let shipping_address = match self {
            Self::UnsupportedCountry => Address {
                name: "Clarice Lispector".to_owned(),
                line1: "Rua das Flores 7".to_owned(),
                city: "Recife".to_owned(),
                postal_code: "50000-000".to_owned(),
                country: "BR".to_owned(),
            },
            _ => Address {
                name: "Ada Lovelace".to_owned(),
                line1: "12 Analytical Row".to_owned(),
                city: "Springfield".to_owned(),
                postal_code: "12345".to_owned(),
                country: "US".to_owned(),
            },
        };
        let payment_token = match self {
            Self::CardDeclined => "tok_decline",
            Self::GatewayDown => "tok_gateway_down",
            _ => "tok_visa",
        };
        let customer_id = format!("cust-{order_id}");
        PlaceOrder {
            order: Order {
                order_id: order_id.to_owned(),
                customer_email: format!("{customer_id}@example.com"),
                customer_id,
                items,
                total_cents,
                currency: "USD".to_owned(),
                shipping_address,
                payment_token: payment_token.to_owned(),
            },
        }
    }
}

/// Every order id of the scenarios starts with it.
pub const ORDER_ID_PREFIX: &str = "ord-";

/// A fresh, unique order id (`ord-` + 16 hex digits).
pub fn new_order_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{ORDER_ID_PREFIX}{}", &id[..16])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Validate;

    #[test]
    fn every_command_is_valid_and_triggers_its_outcome() {
        for scenario in Scenario::ALL {
            let command = scenario.command("ord-x");
            command
                .validate()
                .unwrap_or_else(|e| panic!("{scenario:?}: {e}"));
            let order = &command.order;
            let suspicious = order.total_cents > crate::FRAUD_REVIEW_THRESHOLD_CENTS
                || !crate::SUPPORTED_COUNTRIES.contains(&order.shipping_address.country.as_str());
            assert_eq!(
                suspicious,
                matches!(
                    scenario,
                    Scenario::Fraudulent | Scenario::UnsupportedCountry
                ),
                "{scenario:?}"
            );
            let out_of_stock = order.items.iter().any(|i| i.sku.starts_with("OOS-"));
            assert_eq!(out_of_stock, scenario == Scenario::OutOfStock);
        }
        assert_eq!(
            Scenario::CardDeclined.command("o").order.payment_token,
            "tok_decline"
        );
        assert_eq!(
            Scenario::GatewayDown.command("o").order.payment_token,
            "tok_gateway_down"
        );
    }

    #[test]
    fn order_ids_are_unique() {
        let a = new_order_id();
        assert!(a.starts_with("ord-") && a.len() == 20, "{a}");
        assert_ne!(a, new_order_id());
    }
}
