//! The payload types of the reference application, a shop's order choreography.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Event, SOURCE_PREFIX, Validate, ValidationError};
use eventrail_contract::{message_id_safe, non_empty};

/// Countries the shop ships to without a fraud review.
pub const SUPPORTED_COUNTRIES: [&str; 6] = ["US", "CA", "GB", "DE", "FR", "NL"];
/// Orders above this total (in cents) are reviewed for fraud.
pub const FRAUD_REVIEW_THRESHOLD_CENTS: u64 = 100_000;

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderItem {
    /// Stock keeping unit. SKUs starting with `OOS-` are out of stock.
    pub sku: String,
    /// Units ordered, at least 1.
    pub quantity: u32,
    /// Price of one unit in the order's currency, in cents.
    pub unit_price_cents: u64,
}

/// Where an order ships to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// Recipient.
    #[schemars(extend("x-personal" = true))]
    pub name: String,
    /// Street and number.
    #[schemars(extend("x-personal" = true))]
    pub line1: String,
    /// City.
    pub city: String,
    /// Postal code.
    #[schemars(extend("x-personal" = true))]
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 country code, upper case.
    pub country: String,
}

/// The full order, carried by the events of the flow (event-carried state transfer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Order {
    /// Unique order id, chosen by the client.
    pub order_id: String,
    /// Customer id.
    pub customer_id: String,
    /// Where customer-facing notifications go.
    #[schemars(extend("x-personal" = true))]
    pub customer_email: String,
    /// At least one line.
    pub items: Vec<OrderItem>,
    /// Sum of quantity x unit price over the items, in cents.
    pub total_cents: u64,
    /// ISO 4217 currency code.
    pub currency: String,
    /// Shipping address.
    pub shipping_address: Address,
    /// Tokenised payment method. `tok_decline` declines; `tok_gateway_down` makes the
    /// payment gateway fail with a retryable error.
    pub payment_token: String,
}

impl Order {
    /// Sum of the lines, or `None` on overflow.
    pub fn computed_total_cents(&self) -> Option<u64> {
        self.items.iter().try_fold(0u64, |acc, item| {
            acc.checked_add(u64::from(item.quantity).checked_mul(item.unit_price_cents)?)
        })
    }
}

impl Validate for Address {
    fn validate(&self) -> Result<(), ValidationError> {
        non_empty("name", &self.name)?;
        non_empty("line1", &self.line1)?;
        non_empty("city", &self.city)?;
        non_empty("postal_code", &self.postal_code)?;
        let country_ok =
            self.country.len() == 2 && self.country.chars().all(|c| c.is_ascii_uppercase());
        if !country_ok {
            return Err(ValidationError::new(
                "country",
                "expected a two-letter upper-case ISO country code",
            ));
        }
        Ok(())
    }
}

impl Validate for Order {
    fn validate(&self) -> Result<(), ValidationError> {
        // The order id becomes the outbox's FIFO message group id.
        message_id_safe("order_id", &self.order_id)?;
        non_empty("customer_id", &self.customer_id)?;
        if !self.customer_email.contains('@') {
            return Err(ValidationError::new(
                "customer_email",
                "must be an email address",
            ));
        }
        if self.items.is_empty() {
            return Err(ValidationError::new(
                "items",
                "an order needs at least one item",
            ));
        }
        for (i, item) in self.items.iter().enumerate() {
            let at = format!("items[{i}]");
            non_empty("sku", &item.sku).map_err(|e| e.within(&at))?;
            if item.quantity == 0 {
                return Err(ValidationError::new(
                    format!("{at}.quantity"),
                    "must be at least 1",
                ));
            }
        }
        match self.computed_total_cents() {
            Some(total) if total == self.total_cents => {}
            Some(_) => {
                return Err(ValidationError::new(
                    "total_cents",
                    "does not equal the sum of the items' price times quantity",
                ));
            }
            None => {
                return Err(ValidationError::new(
                    "total_cents",
                    "the items' total overflows",
                ));
            }
        }
        let currency_ok =
            self.currency.len() == 3 && self.currency.chars().all(|c| c.is_ascii_uppercase());
        if !currency_ok {
            return Err(ValidationError::new(
                "currency",
                "expected a three-letter ISO 4217 code",
            ));
        }
        self.shipping_address
            .validate()
            .map_err(|e| e.within("shipping_address"))?;
        non_empty("payment_token", &self.payment_token)
    }
}

/// Command accepted by the `orders` function (direct invoke): place an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrder {
    /// The order to place; `total_cents` must equal the sum of its items.
    pub order: Order,
}

impl Validate for PlaceOrder {
    fn validate(&self) -> Result<(), ValidationError> {
        self.order.validate().map_err(|e| e.within("order"))
    }
}

macro_rules! catalog_event {
    ($ty:ident, $source:literal) => {
        impl Event for $ty {
            const SOURCE: &'static str = $source;
            const DETAIL_TYPE: &'static str = stringify!($ty);
            const VERSION: u32 = 1;
        }
    };
}

/// An order was accepted. Carries the whole order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderPlaced {
    /// The order as placed.
    pub order: Order,
}
catalog_event!(OrderPlaced, "eventrail.orders");

impl Validate for OrderPlaced {
    fn validate(&self) -> Result<(), ValidationError> {
        self.order.validate().map_err(|e| e.within("order"))
    }
}

/// Every item of an order is reserved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StockReserved {
    /// The order, carried on for payments.
    pub order: Order,
    /// Deterministic id of the reservation.
    pub reservation_id: String,
}
catalog_event!(StockReserved, "eventrail.inventory");

impl Validate for StockReserved {
    fn validate(&self) -> Result<(), ValidationError> {
        self.order.validate().map_err(|e| e.within("order"))?;
        non_empty("reservation_id", &self.reservation_id)
    }
}

/// Some items of an order are out of stock; nothing was reserved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StockUnavailable {
    /// The order.
    pub order_id: String,
    /// Customer to tell.
    pub customer_id: String,
    /// Where to tell them.
    #[schemars(extend("x-personal" = true))]
    pub customer_email: String,
    /// The SKUs that are out of stock, in order of appearance.
    pub unavailable_skus: Vec<String>,
}
catalog_event!(StockUnavailable, "eventrail.inventory");

impl Validate for StockUnavailable {
    fn validate(&self) -> Result<(), ValidationError> {
        non_empty("order_id", &self.order_id)?;
        non_empty("customer_email", &self.customer_email)?;
        if self.unavailable_skus.is_empty() {
            return Err(ValidationError::new(
                "unavailable_skus",
                "must name at least one SKU",
            ));
        }
        Ok(())
    }
}

/// The order's payment was captured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentCaptured {
    /// The order, carried on for shipping.
    pub order: Order,
    /// Deterministic id of the payment.
    pub payment_id: String,
    /// Amount captured, in cents.
    pub amount_cents: u64,
}
catalog_event!(PaymentCaptured, "eventrail.payments");

impl Validate for PaymentCaptured {
    fn validate(&self) -> Result<(), ValidationError> {
        self.order.validate().map_err(|e| e.within("order"))?;
        non_empty("payment_id", &self.payment_id)
    }
}

/// The order's payment was declined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentFailed {
    /// The order.
    pub order_id: String,
    /// Customer to tell.
    pub customer_id: String,
    /// Where to tell them.
    #[schemars(extend("x-personal" = true))]
    pub customer_email: String,
    /// Amount that was not captured, in cents.
    pub amount_cents: u64,
    /// Why the payment failed, fit to show the customer.
    pub reason: String,
}
catalog_event!(PaymentFailed, "eventrail.payments");

impl Validate for PaymentFailed {
    fn validate(&self) -> Result<(), ValidationError> {
        non_empty("order_id", &self.order_id)?;
        non_empty("customer_email", &self.customer_email)?;
        non_empty("reason", &self.reason)
    }
}

/// The order left the warehouse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderShipped {
    /// The order.
    pub order_id: String,
    /// Customer to tell.
    pub customer_id: String,
    /// Where to tell them.
    #[schemars(extend("x-personal" = true))]
    pub customer_email: String,
    /// Carrier name.
    pub carrier: String,
    /// Deterministic tracking number.
    pub tracking_number: String,
    /// Destination country.
    pub country: String,
}
catalog_event!(OrderShipped, "eventrail.shipping");

impl Validate for OrderShipped {
    fn validate(&self) -> Result<(), ValidationError> {
        non_empty("order_id", &self.order_id)?;
        non_empty("customer_email", &self.customer_email)?;
        non_empty("tracking_number", &self.tracking_number)
    }
}

/// An order looks fraudulent and needs review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FraudSuspected {
    /// The order.
    pub order_id: String,
    /// The customer.
    pub customer_id: String,
    /// Order total, in cents.
    pub total_cents: u64,
    /// Destination country.
    pub country: String,
    /// Why the order is suspicious, one line per signal.
    pub reasons: Vec<String>,
}
catalog_event!(FraudSuspected, "eventrail.fraud");

impl Validate for FraudSuspected {
    fn validate(&self) -> Result<(), ValidationError> {
        non_empty("order_id", &self.order_id)?;
        if self.reasons.is_empty() {
            return Err(ValidationError::new(
                "reasons",
                "must give at least one reason",
            ));
        }
        Ok(())
    }
}

/// The stock on hand of one SKU, as counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StockLevel {
    /// Stock keeping unit.
    pub sku: String,
    /// Units on the shelves when counted.
    pub on_hand: u32,
}

/// The warehouse's stock was counted: the scheduled reconciliation (`stock-count`) emits one
/// per scheduled time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StockCounted {
    /// The time the count was scheduled for (ISO 8601, UTC): a retried or doubled firing of
    /// the same count carries the same time, and the same idempotency key.
    pub scheduled_time: String,
    /// Every SKU counted, in SKU order.
    pub levels: Vec<StockLevel>,
}
catalog_event!(StockCounted, "eventrail.stock-count");

impl Validate for StockCounted {
    fn validate(&self) -> Result<(), ValidationError> {
        non_empty("scheduled_time", &self.scheduled_time)?;
        if self.levels.is_empty() {
            return Err(ValidationError::new(
                "levels",
                "a count names at least one SKU",
            ));
        }
        for (i, level) in self.levels.iter().enumerate() {
            non_empty("sku", &level.sku).map_err(|e| e.within(&format!("levels[{i}]")))?;
        }
        Ok(())
    }
}

/// Any event of this application, payload untyped: what `analytics` consumes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct AnyAppEvent(pub serde_json::Value);

impl Event for AnyAppEvent {
    const SOURCE: &'static str = SOURCE_PREFIX;
    const DETAIL_TYPE: &'static str = "*";
    const VERSION: u32 = 1;

    fn accepts(source: &str, _detail_type: &str) -> bool {
        source.starts_with(SOURCE_PREFIX)
    }
}

impl Validate for AnyAppEvent {
    fn validate(&self) -> Result<(), ValidationError> {
        Ok(())
    }
}

/// One entry of the catalog, for tools that walk every event type (schemas, samples, docs).
#[derive(Debug, Clone, Copy)]
pub struct CatalogEntry {
    /// `source`.
    pub source: &'static str,
    /// `detail-type`.
    pub detail_type: &'static str,
    /// Schema version.
    pub version: u32,
    /// File stem of its schema and sample, kebab-case: `order-placed`.
    pub file_stem: &'static str,
    /// JSON Schema of the event's `detail` (metadata + data).
    pub detail_schema: fn() -> serde_json::Value,
    /// Decodes a `detail` as this event's envelope and validates it; the error says why not.
    pub check_detail: fn(&serde_json::Value) -> Result<(), String>,
}

fn entry<E: Event>(file_stem: &'static str) -> CatalogEntry {
    CatalogEntry {
        source: E::SOURCE,
        detail_type: E::DETAIL_TYPE,
        version: E::VERSION,
        file_stem,
        detail_schema: || schemars::schema_for!(crate::Envelope<E>).to_value(),
        check_detail: |detail| {
            let envelope: crate::Envelope<E> =
                serde_json::from_value(detail.clone()).map_err(|e| e.to_string())?;
            envelope.validate().map_err(|e| e.to_string())?;
            if envelope.metadata.schema_version != E::VERSION {
                return Err(format!(
                    "schema_version {} != {}",
                    envelope.metadata.schema_version,
                    E::VERSION
                ));
            }
            Ok(())
        },
    }
}

/// Every typed event of the catalog.
pub fn catalog() -> Vec<CatalogEntry> {
    vec![
        entry::<OrderPlaced>("order-placed"),
        entry::<StockReserved>("stock-reserved"),
        entry::<StockUnavailable>("stock-unavailable"),
        entry::<PaymentCaptured>("payment-captured"),
        entry::<PaymentFailed>("payment-failed"),
        entry::<OrderShipped>("order-shipped"),
        entry::<FraudSuspected>("fraud-suspected"),
        entry::<StockCounted>("stock-counted"),
        // `eventrail new event` adds its entries above this line.
    ]
}

/// JSON Schema of the `PlaceOrder` command.
pub fn place_order_schema() -> serde_json::Value {
    schemars::schema_for!(PlaceOrder).to_value()
}
