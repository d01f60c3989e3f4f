//! An in-memory [`IdempotencyStore`] for unit tests: the same conditional semantics as the
//! DynamoDB store, in one process.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{Claim, Completion, IdempotencyStore, Record, Status, StoreError};

/// Records in a map behind a mutex; every operation is atomic.
#[derive(Debug, Default)]
pub struct MemoryStore {
    records: Mutex<HashMap<String, Record>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The record of `key`, if any (expired ones included, as DynamoDB keeps them until TTL
    /// deletes them).
    pub fn record(&self, key: &str) -> Option<Record> {
        self.lock().get(key).cloned()
    }

    /// How many records the store holds.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when the store holds no record.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Replaces the record of `key` (tests: a record another attempt wrote, or an old one).
    pub fn insert(&self, record: Record) {
        self.lock().insert(record.key.clone(), record);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Record>> {
        // A panic while holding the lock leaves the map consistent (every change is one insert
        // or remove), so the data is still good.
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl IdempotencyStore for MemoryStore {
    async fn put_in_progress(&self, record: &Record, now_ms: i64) -> Result<Claim, StoreError> {
        let mut records = self.lock();
        if let Some(held) = records.get(&record.key)
            && held.is_live(now_ms)
        {
            return Ok(Claim::Held(held.clone()));
        }
        records.insert(record.key.clone(), record.clone());
        Ok(Claim::Claimed)
    }

    async fn complete(
        &self,
        key: &str,
        attempt: &str,
        result: &str,
        expires_at: i64,
    ) -> Result<Completion, StoreError> {
        let mut records = self.lock();
        let Some(record) = records
            .get_mut(key)
            .filter(|r| r.status == Status::InProgress && r.attempt.as_deref() == Some(attempt))
        else {
            return Ok(Completion::NotHeld);
        };
        record.status = Status::Completed;
        record.result = Some(result.to_owned());
        record.expires_at = expires_at;
        record.in_progress_until = None;
        Ok(Completion::Completed)
    }

    async fn delete(&self, key: &str, attempt: &str) -> Result<(), StoreError> {
        let mut records = self.lock();
        if records
            .get(key)
            .is_some_and(|r| r.attempt.as_deref() == Some(attempt))
        {
            records.remove(key);
        }
        Ok(())
    }
}
