//! `stock-count`: the scheduled stock reconciliation. Once per scheduled time (daily, as
//! declared; every minute on the local stack, where samconfig sets the template parameter
//! `StockCountSchedule`) it counts the warehouse's shelves and emits `StockCounted`.
//!
//! Stock is simulated and deterministic, as inventory's is: a SKU starting with `OOS-` has
//! none on hand, every other SKU's count is derived from the SKU and the scheduled time. A
//! retried or doubled firing of one scheduled time therefore emits the same `StockCounted`,
//! and the runtime gives it the same idempotency key (derived from the function and the
//! scheduled time), so downstream consumers keep one.

use eventrail_runtime::prelude::*;
use events::{StockCounted, StockLevel, derive_key};

/// The SKUs on the warehouse's shelves, in SKU order.
pub const SHELVES: [&str; 4] = [
    "OOS-KETTLE-009",
    "SKU-ESPRESSO-PRO",
    "SKU-MUG-002",
    "SKU-TEA-001",
];

/// SKUs with this prefix are out of stock (as inventory has it).
pub const OUT_OF_STOCK_PREFIX: &str = "OOS-";

/// The most units of one SKU on the shelves.
pub const MAX_ON_HAND: u32 = 200;

/// The count for `scheduled_time` (ISO 8601, UTC): the same for the same time.
pub fn count(scheduled_time: &str) -> StockCounted {
    let levels = SHELVES
        .iter()
        .map(|sku| StockLevel {
            sku: (*sku).to_owned(),
            on_hand: on_hand(sku, scheduled_time),
        })
        .collect();
    StockCounted {
        scheduled_time: scheduled_time.to_owned(),
        levels,
    }
}

/// Units of `sku` on hand at `scheduled_time`: none for an out-of-stock SKU, else 1 to
/// [`MAX_ON_HAND`], derived from both.
fn on_hand(sku: &str, scheduled_time: &str) -> u32 {
    if sku.starts_with(OUT_OF_STOCK_PREFIX) {
        return 0;
    }
    let key = derive_key(&["stock-count", sku, scheduled_time]);
    let seed = key
        .get(..8)
        .and_then(|hex| u32::from_str_radix(hex, 16).ok())
        .unwrap_or(0);
    seed % MAX_ON_HAND + 1
}

/// The function's handler: one count per firing, for the time it was scheduled for.
pub async fn handle(scheduled: Scheduled, context: Context) -> Result<(), HandlerError> {
    let time = scheduled.canonical_time();
    let counted = count(&time);
    tracing::info!(scheduled_time = %time, attempt = scheduled.attempt, skus = counted.levels.len(), "stock counted");
    context
        .publish(&counted)
        .await
        .map_err(HandlerError::retryable)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A firing, dry, as the kit runs it: one StockCounted with the count of the scheduled
    /// time; firing the same time again (a retry, a doubled firing, `local fire`) gives the
    /// same idempotency key and data, another time another key.
    #[tokio::test]
    async fn a_firing_emits_the_count_of_its_scheduled_time_with_a_key_of_that_time() {
        let fire = |time: &str, attempt: &str| {
            let payload = serde_json::json!({
                "scheduledTime": time, "executionId": "e-1", "scheduleArn": "arn", "attempt": attempt
            });
            async move {
                eventrail_runtime::schedule::fire(
                    &handle,
                    &payload,
                    "stock-count",
                    Context::new(None, None),
                )
                .await
                .unwrap()
            }
        };
        let first = fire("2026-11-21T03:00:00Z", "1").await;
        assert_eq!(first.emitted.len(), 1);
        let emitted = &first.emitted[0];
        assert_eq!(emitted.detail_type, "StockCounted");
        assert_eq!(
            emitted.detail["data"],
            serde_json::to_value(count("2026-11-21T03:00:00Z")).unwrap()
        );
        let retried = fire("2026-11-21T03:00:00Z", "2").await;
        assert_eq!(retried.emitted[0].detail, emitted.detail);
        let next = fire("2026-11-22T03:00:00Z", "1").await;
        assert_ne!(
            next.emitted[0].detail["metadata"]["idempotency_key"],
            emitted.detail["metadata"]["idempotency_key"]
        );
    }

    #[test]
    fn a_count_is_the_same_for_the_same_time_and_valid() {
        let first = count("2026-11-21T03:00:00Z");
        assert_eq!(first, count("2026-11-21T03:00:00Z"));
        assert_ne!(first, count("2026-11-22T03:00:00Z"));
        assert_eq!(first.levels.len(), SHELVES.len());
        for level in &first.levels {
            if level.sku.starts_with(OUT_OF_STOCK_PREFIX) {
                assert_eq!(level.on_hand, 0, "{}", level.sku);
            } else {
                assert!((1..=MAX_ON_HAND).contains(&level.on_hand), "{level:?}");
            }
        }
        events::Validate::validate(&first).unwrap();
    }
}
