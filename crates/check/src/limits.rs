//! The ranges AWS accepts for the retry settings the invariants check.

use std::ops::RangeInclusive;

/// EventBridge target `RetryPolicy.MaximumEventAgeInSeconds` range.
pub const TARGET_MAX_EVENT_AGE: RangeInclusive<i64> = 60..=86_400;
/// EventBridge target `RetryPolicy.MaximumRetryAttempts` range.
pub const TARGET_MAX_RETRY_ATTEMPTS: RangeInclusive<i64> = 0..=185;
/// Lambda `EventInvokeConfig.MaximumEventAgeInSeconds` range.
pub const INVOKE_MAX_EVENT_AGE: RangeInclusive<i64> = 60..=21_600;
/// Lambda `EventInvokeConfig.MaximumRetryAttempts` range.
pub const INVOKE_MAX_RETRY_ATTEMPTS: RangeInclusive<i64> = 0..=2;
