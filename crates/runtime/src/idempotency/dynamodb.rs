//! The DynamoDB [`IdempotencyStore`]: one item per key in the function's own table
//! (partition key `id`, a string; DynamoDB TTL on `expiration`), conditional writes.
//!
//! The in-progress record is written with `PutItem` on the condition that no live record holds
//! the key: the item does not exist, or it expired, or it is an in-progress record whose
//! attempt's deadline has passed. DynamoDB evaluates the condition and writes atomically, so
//! of concurrent callers with one key exactly one wins. The SDK finds the endpoint the standard
//! way (`AWS_ENDPOINT_URL_DYNAMODB`, then `AWS_ENDPOINT_URL`), so the same code runs on AWS, on
//! LocalStack and on any other DynamoDB emulator.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{Claim, Completion, IdempotencyStore, Record, Status, StoreError, TABLE_VAR};
use crate::config::{ConfigError, require_var};

/// Partition key attribute.
pub const KEY: &str = "id";
/// Unix seconds after which the record no longer counts; the table's TTL attribute.
pub const EXPIRATION: &str = "expiration";
/// `INPROGRESS` or `COMPLETED`.
pub const STATUS: &str = "status";
/// Unix milliseconds: the in-progress attempt's deadline.
pub const IN_PROGRESS_EXPIRATION: &str = "in_progress_expiration";
/// SHA-256 of the payload.
pub const VALIDATION: &str = "validation";
/// The effect's result, JSON text.
pub const DATA: &str = "data";
/// The token of the attempt that wrote the record: the condition of its completion and deletion.
pub const ATTEMPT: &str = "attempt";

/// How often a conditional write is retried when the record that blocked it vanished
/// before it could be read (deleted by its failed attempt).
const CLAIM_ATTEMPTS: usize = 3;

/// Records in a DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoDbStore {
    client: Client,
    table: String,
}

impl DynamoDbStore {
    /// A store in `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// A store in the table named by [`TABLE_VAR`] (the template sets it from the function's
    /// `idempotency` declaration).
    pub fn from_env(sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let table = require_var(
            TABLE_VAR,
            "the DynamoDB table that records idempotency keys (declare `[package.metadata.eventrail.idempotency]`)",
        )?;
        Ok(Self::new(Client::new(sdk), table))
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    fn error(&self, operation: &'static str, key: &str, message: String) -> StoreError {
        StoreError {
            store: format!("DynamoDB table {}", self.table),
            operation,
            key: key.to_owned(),
            message,
        }
    }

    async fn read(&self, key: &str) -> Result<Option<Record>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(key.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.error("GetItem", key, DisplayErrorContext(e).to_string()))?;
        output
            .item
            .map(|item| record_from_item(key, &item).map_err(|m| self.error("GetItem", key, m)))
            .transpose()
    }
}

/// The item for `record`.
pub fn item(record: &Record) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        (KEY.to_owned(), AttributeValue::S(record.key.clone())),
        (
            STATUS.to_owned(),
            AttributeValue::S(record.status.as_str().to_owned()),
        ),
        (
            EXPIRATION.to_owned(),
            AttributeValue::N(record.expires_at.to_string()),
        ),
        (
            VALIDATION.to_owned(),
            AttributeValue::S(record.payload_hash.clone()),
        ),
    ]);
    if let Some(until) = record.in_progress_until {
        item.insert(
            IN_PROGRESS_EXPIRATION.to_owned(),
            AttributeValue::N(until.to_string()),
        );
    }
    if let Some(result) = &record.result {
        item.insert(DATA.to_owned(), AttributeValue::S(result.clone()));
    }
    if let Some(attempt) = &record.attempt {
        item.insert(ATTEMPT.to_owned(), AttributeValue::S(attempt.clone()));
    }
    item
}

/// Reads an item back; the error names the attribute that is missing or malformed.
pub fn record_from_item(
    key: &str,
    item: &HashMap<String, AttributeValue>,
) -> Result<Record, String> {
    let string = |name: &str| match item.get(name) {
        Some(AttributeValue::S(text)) => Ok(Some(text.clone())),
        None => Ok(None),
        Some(other) => Err(format!("attribute {name} is {other:?}, not a string")),
    };
    let number = |name: &str| match item.get(name) {
        Some(AttributeValue::N(text)) => text
            .parse::<i64>()
            .map(Some)
            .map_err(|e| format!("attribute {name} is `{text}`, not an integer: {e}")),
        None => Ok(None),
        Some(other) => Err(format!("attribute {name} is {other:?}, not a number")),
    };
    let status_text = string(STATUS)?.ok_or_else(|| format!("attribute {STATUS} is missing"))?;
    let status = Status::parse(&status_text).ok_or_else(|| {
        format!("attribute {STATUS} is `{status_text}`, not INPROGRESS or COMPLETED")
    })?;
    Ok(Record {
        key: key.to_owned(),
        status,
        expires_at: number(EXPIRATION)?
            .ok_or_else(|| format!("attribute {EXPIRATION} is missing"))?,
        in_progress_until: number(IN_PROGRESS_EXPIRATION)?,
        payload_hash: string(VALIDATION)?.unwrap_or_default(),
        result: string(DATA)?,
        attempt: string(ATTEMPT)?,
    })
}

impl IdempotencyStore for DynamoDbStore {
    async fn put_in_progress(&self, record: &Record, now_ms: i64) -> Result<Claim, StoreError> {
        let key = record.key.as_str();
        for _ in 0..CLAIM_ATTEMPTS {
            let written = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item(record)))
                .condition_expression(
                    "attribute_not_exists(#id) OR #expiration < :now \
                     OR (#status = :in_progress AND #in_progress_expiration < :now_ms)",
                )
                .expression_attribute_names("#id", KEY)
                .expression_attribute_names("#expiration", EXPIRATION)
                .expression_attribute_names("#status", STATUS)
                .expression_attribute_names("#in_progress_expiration", IN_PROGRESS_EXPIRATION)
                .expression_attribute_values(
                    ":now",
                    AttributeValue::N(now_ms.div_euclid(1000).to_string()),
                )
                .expression_attribute_values(":now_ms", AttributeValue::N(now_ms.to_string()))
                .expression_attribute_values(
                    ":in_progress",
                    AttributeValue::S(Status::InProgress.as_str().to_owned()),
                )
                .send()
                .await;
            match written {
                Ok(_) => return Ok(Claim::Claimed),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
                {
                    // A live record holds the key: read it (it may have been deleted since,
                    // by a failed attempt; then try again).
                    if let Some(held) = self.read(key).await? {
                        return Ok(Claim::Held(held));
                    }
                }
                Err(e) => {
                    return Err(self.error("PutItem", key, DisplayErrorContext(e).to_string()));
                }
            }
        }
        Err(self.error(
            "PutItem",
            key,
            format!(
                "the key was held and released {CLAIM_ATTEMPTS} times in a row while claiming it; retry"
            ),
        ))
    }

    async fn complete(
        &self,
        key: &str,
        attempt: &str,
        result: &str,
        expires_at: i64,
    ) -> Result<Completion, StoreError> {
        let written = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(key.to_owned()))
            .update_expression(
                "SET #status = :completed, #data = :data, #expiration = :expiration \
                 REMOVE #in_progress_expiration",
            )
            // Only the attempt holding the in-progress record completes it: not a record
            // another attempt took over past this one's deadline, nor one that is gone (an
            // update would create it).
            .condition_expression("#status = :in_progress AND #attempt = :attempt")
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#data", DATA)
            .expression_attribute_names("#expiration", EXPIRATION)
            .expression_attribute_names("#in_progress_expiration", IN_PROGRESS_EXPIRATION)
            .expression_attribute_names("#attempt", ATTEMPT)
            .expression_attribute_values(
                ":completed",
                AttributeValue::S(Status::Completed.as_str().to_owned()),
            )
            .expression_attribute_values(
                ":in_progress",
                AttributeValue::S(Status::InProgress.as_str().to_owned()),
            )
            .expression_attribute_values(":attempt", AttributeValue::S(attempt.to_owned()))
            .expression_attribute_values(":data", AttributeValue::S(result.to_owned()))
            .expression_attribute_values(":expiration", AttributeValue::N(expires_at.to_string()))
            .send()
            .await;
        match written {
            Ok(_) => Ok(Completion::Completed),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(Completion::NotHeld)
            }
            Err(e) => Err(self.error("UpdateItem", key, DisplayErrorContext(e).to_string())),
        }
    }

    async fn delete(&self, key: &str, attempt: &str) -> Result<(), StoreError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(key.to_owned()))
            .condition_expression("#attempt = :attempt")
            .expression_attribute_names("#attempt", ATTEMPT)
            .expression_attribute_values(":attempt", AttributeValue::S(attempt.to_owned()))
            .send()
            .await;
        match deleted {
            // Deleted, or the record is another attempt's (or gone): either way not ours.
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(self.error("DeleteItem", key, DisplayErrorContext(e).to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_round_trip_and_errors_name_the_attribute() {
        let record = Record {
            key: "k".into(),
            status: Status::Completed,
            expires_at: 1_800_000_000,
            in_progress_until: None,
            payload_hash: "abc".into(),
            result: Some("{\"a\":1}".into()),
            attempt: Some("t-1".into()),
        };
        let mut item = item(&record);
        assert_eq!(record_from_item("k", &item).unwrap(), record);
        item.insert(STATUS.into(), AttributeValue::S("DONE".into()));
        let error = record_from_item("k", &item).unwrap_err();
        assert!(error.contains("status"), "{error}");
        item.insert(STATUS.into(), AttributeValue::S("COMPLETED".into()));
        item.insert(EXPIRATION.into(), AttributeValue::S("soon".into()));
        let error = record_from_item("k", &item).unwrap_err();
        assert!(error.contains("expiration"), "{error}");
    }
}
