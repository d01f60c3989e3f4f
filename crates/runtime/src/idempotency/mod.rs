//! Effects once per idempotency key: the semantics of Powertools for AWS Lambda's idempotency
//! utility, for eventrail functions.
//!
//! Delivery is at least once, so a function may see the same event again: a retry, a replay
//! from the archive, a redrive, a duplicate delivery. Wrap the side effect (or the whole
//! handler's work) in [`Idempotency::once`] with the event's idempotency key and its raw data
//! ([`crate::Incoming::raw_data`], `detail.data` as received):
//!
//! - the first attempt writes an `INPROGRESS` record, conditionally, so of concurrent callers
//!   with one key exactly one runs the effect; the record names the attempt that holds it and
//!   stops blocking at the invocation's deadline ([`crate::Incoming::deadline`]), so a crashed
//!   attempt does not block its retries;
//! - when the effect succeeds the record becomes `COMPLETED` with the effect's result, and
//!   lives for the configured time-to-live ([`Idempotency::with_ttl`]); the write is
//!   conditional: only the attempt holding the `INPROGRESS` record completes it;
//! - when that write fails (the store is down, or the hold was lost past the deadline) the
//!   effect has happened but is not recorded: [`Idempotency::once`] fails with
//!   [`IdempotencyError::NotRecorded`], a retryable error, so the invocation fails and Lambda
//!   retries it, rather than leave the record `INPROGRESS` unnoticed until a later duplicate
//!   runs the effect again (Powertools does the same);
//! - a duplicate gets the stored result ([`Done::Replayed`]) without running the effect;
//! - a duplicate that arrives while the first attempt runs gets
//!   [`IdempotencyError::InProgress`], a retryable error;
//! - a duplicate whose payload differs from the first one's (by hash) gets
//!   [`IdempotencyError::PayloadMismatch`]: the same key must carry the same data. The hash is
//!   of the raw JSON in a canonical form ([`payload_hash`]), not of a typed value re-serialised:
//!   data differing in fields the type ignores differs, and the same data written with other
//!   key order, spacing, escapes or number spelling is the same;
//! - a failed effect deletes the record (its own only), so a retry runs the effect again.
//!
//! Records live in an [`IdempotencyStore`]: [`MemoryStore`] for unit tests, and
//! `dynamodb::DynamoDbStore` (cargo feature `dynamodb`) with conditional writes, on AWS and on
//! the local stack.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Number, Value};
use sha2::{Digest, Sha256};
use tracing::Instrument;

use crate::HandlerError;

#[cfg(feature = "dynamodb")]
pub mod dynamodb;
mod memory;

pub use memory::MemoryStore;

/// Environment variable holding the name of the function's idempotency table.
pub use eventrail_contract::names::IDEMPOTENCY_TABLE_VAR as TABLE_VAR;
/// Environment variable holding the records' time-to-live in seconds.
pub use eventrail_contract::names::IDEMPOTENCY_TTL_VAR as TTL_VAR;
/// How long a completed record keeps a key "done" unless configured otherwise: 7 days.
pub const DEFAULT_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long an in-progress record blocks duplicates when the attempt has no deadline
/// (outside Lambda): Lambda's longest timeout is 15 minutes, tests use far less.
pub const DEFAULT_IN_PROGRESS: Duration = Duration::from_secs(60);

/// The state of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// An attempt is running the effect.
    InProgress,
    /// The effect ran; the record holds its result.
    Completed,
}

impl Status {
    /// The stored spelling (Powertools'): `INPROGRESS`, `COMPLETED`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "INPROGRESS",
            Self::Completed => "COMPLETED",
        }
    }

    /// Reads the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "INPROGRESS" => Some(Self::InProgress),
            "COMPLETED" => Some(Self::Completed),
            _ => None,
        }
    }
}

/// What the store keeps per key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The idempotency key.
    pub key: String,
    /// In progress or completed.
    pub status: Status,
    /// Unix seconds after which the record no longer counts (DynamoDB's TTL attribute; TTL
    /// deletes expired items late, so readers compare it with the clock themselves).
    pub expires_at: i64,
    /// Unix milliseconds after which an in-progress record no longer blocks: the attempt's
    /// deadline.
    pub in_progress_until: Option<i64>,
    /// [`payload_hash`] of the payload the key was first seen with.
    pub payload_hash: String,
    /// The effect's result as JSON text, once completed.
    pub result: Option<String>,
    /// The attempt that wrote the record (a random token): only it may complete or delete
    /// its in-progress record. `None` on records written before attempts were named.
    pub attempt: Option<String>,
}

impl Record {
    /// Whether the record still holds its key at `now_ms` (unix milliseconds): not expired,
    /// and completed or still within its attempt's deadline. A record that is not live may
    /// be overwritten by a new attempt.
    pub fn is_live(&self, now_ms: i64) -> bool {
        if self.expires_at < now_ms.div_euclid(1000) {
            return false;
        }
        match self.status {
            Status::Completed => true,
            Status::InProgress => self.in_progress_until.is_none_or(|until| until >= now_ms),
        }
    }
}

/// The outcome of trying to start an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The in-progress record was written: this attempt runs the effect.
    Claimed,
    /// A live record holds the key.
    Held(Record),
}

/// What [`IdempotencyStore::complete`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// The attempt's in-progress record is now completed.
    Completed,
    /// The record is no longer this attempt's in-progress record (another attempt took it
    /// over past this one's deadline, or it expired and was deleted): nothing was written.
    NotHeld,
}

/// A failure of the store itself (network, throttling, permissions, an unreadable record).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("idempotency store {store}: {operation} for key {key} failed: {message}")]
pub struct StoreError {
    /// The store (e.g. the DynamoDB table's name).
    pub store: String,
    /// What was being done (`PutItem`, `GetItem`, ...).
    pub operation: &'static str,
    /// The idempotency key.
    pub key: String,
    /// What went wrong and what to check.
    pub message: String,
}

/// Where records live. Implementations must make [`IdempotencyStore::put_in_progress`] atomic:
/// of concurrent calls for one key, at most one returns [`Claim::Claimed`].
pub trait IdempotencyStore: Send + Sync {
    /// Writes `record` (in progress) unless a record that is live at `now_ms` holds its key;
    /// that record is returned instead.
    fn put_in_progress(
        &self,
        record: &Record,
        now_ms: i64,
    ) -> impl Future<Output = Result<Claim, StoreError>> + Send;

    /// Marks `key` completed with `result` (JSON text), expiring at `expires_at` (unix
    /// seconds), on the condition that its record is the in-progress record of `attempt`
    /// (atomically: a record another attempt holds is left alone, [`Completion::NotHeld`]).
    fn complete(
        &self,
        key: &str,
        attempt: &str,
        result: &str,
        expires_at: i64,
    ) -> impl Future<Output = Result<Completion, StoreError>> + Send;

    /// Removes the record of `key` if `attempt` holds it (its effect failed), so that a retry
    /// can run; a record another attempt holds stays.
    fn delete(
        &self,
        key: &str,
        attempt: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

impl<S: IdempotencyStore> IdempotencyStore for Arc<S> {
    fn put_in_progress(
        &self,
        record: &Record,
        now_ms: i64,
    ) -> impl Future<Output = Result<Claim, StoreError>> + Send {
        (**self).put_in_progress(record, now_ms)
    }

    fn complete(
        &self,
        key: &str,
        attempt: &str,
        result: &str,
        expires_at: i64,
    ) -> impl Future<Output = Result<Completion, StoreError>> + Send {
        (**self).complete(key, attempt, result, expires_at)
    }

    fn delete(
        &self,
        key: &str,
        attempt: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).delete(key, attempt)
    }
}

/// What [`Idempotency::once`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done<T> {
    /// The effect ran now; its result.
    Ran(T),
    /// The effect had already run for this key; its stored result.
    Replayed(T),
}

impl<T> Done<T> {
    /// The result, whether it was just produced or stored.
    pub fn into_value(self) -> T {
        match self {
            Self::Ran(value) | Self::Replayed(value) => value,
        }
    }

    /// True when the effect did not run now.
    pub fn replayed(&self) -> bool {
        matches!(self, Self::Replayed(_))
    }
}

/// Why [`Idempotency::once`] did not return a result.
#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError<E> {
    /// Another attempt holds the key and has not finished; retry after its deadline.
    #[error(
        "idempotency key {key}: another attempt is running the effect (it holds the key until \
         {until}); retry later"
    )]
    InProgress {
        /// The key.
        key: String,
        /// When the other attempt's hold ends, for the message.
        until: String,
    },
    /// The key was first seen with other data.
    #[error(
        "idempotency key {key}: the payload differs from the one this key was first seen with \
         (payload hash {found}, stored {stored}); an idempotency key must always carry the same \
         data, so fix how the producer derives it"
    )]
    PayloadMismatch {
        /// The key.
        key: String,
        /// Hash of the first payload.
        stored: String,
        /// Hash of this payload.
        found: String,
    },
    /// The effect ran, but its record could not be marked completed: the store failed, or
    /// the record was no longer this attempt's. The invocation must fail so that Lambda retries
    /// it (the retry finds the record completed by whoever holds it, or takes it over after
    /// this attempt's deadline and completes it); reporting success would leave the record
    /// in progress unnoticed, and a duplicate after the deadline would run the effect again.
    #[error(
        "idempotency key {key}: the effect ran but its record was not marked completed: {reason}; \
         failing so the invocation is retried"
    )]
    NotRecorded {
        /// The key.
        key: String,
        /// Why: the store's error, or that the record is no longer this attempt's.
        reason: String,
        /// The store's error, when it failed.
        #[source]
        source: Option<Box<StoreError>>,
    },
    /// The stored result does not decode as the effect's result type (the code changed).
    #[error(
        "idempotency key {key}: the stored result does not decode ({reason}); the effect's result \
         type changed since it ran: delete the record to run the effect again, or wait for its \
         time-to-live"
    )]
    StoredResult {
        /// The key.
        key: String,
        /// serde's message.
        reason: String,
    },
    /// The store failed; worth retrying.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The effect failed (its record was deleted, so a retry runs it again).
    #[error("{0}")]
    Effect(E),
}

impl<E: Into<HandlerError> + fmt::Display> From<IdempotencyError<E>> for HandlerError {
    /// In progress and store failures are retryable; a payload mismatch or an unreadable
    /// record can never succeed, so they are poison (the event goes to the failure queue with
    /// the reason); the effect's own error keeps its kind.
    fn from(error: IdempotencyError<E>) -> Self {
        match error {
            IdempotencyError::Effect(inner) => inner.into(),
            // The store's error stays typed; the other two are conditions, not errors of a
            // dependency: their text is the cause.
            IdempotencyError::Store(store) => HandlerError::retryable(store),
            retry
            @ (IdempotencyError::InProgress { .. } | IdempotencyError::NotRecorded { .. }) => {
                HandlerError::retryable(retry.to_string())
            }
            poison @ (IdempotencyError::PayloadMismatch { .. }
            | IdempotencyError::StoredResult { .. }) => HandlerError::Poison(poison.to_string()),
        }
    }
}

type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Runs effects once per idempotency key, recording them in a store.
#[derive(Clone)]
pub struct Idempotency<S> {
    store: S,
    ttl: Duration,
    in_progress: Duration,
    clock: Clock,
}

impl<S> fmt::Debug for Idempotency<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Idempotency")
            .field("ttl", &self.ttl)
            .field("in_progress", &self.in_progress)
            .finish_non_exhaustive()
    }
}

/// Unix milliseconds of `time` (0 before the epoch).
pub fn unix_millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .unwrap_or_default()
}

/// Marks the hashes [`payload_hash`] writes; a stored hash without it is from before the
/// canonical form and is not compared (it was of a re-serialised typed value).
pub const HASH_SCHEME: &str = "canonical-sha256:";

/// What detects a key arriving with other data: [`HASH_SCHEME`] and the SHA-256 (hex) of
/// `payload` in canonical JSON ([`canonical_json`]). Hash the data as received (the raw
/// `detail.data`), not a typed value re-serialised: a type drops fields it does not know and
/// may write the rest differently.
pub fn payload_hash(payload: &Value) -> String {
    let canonical = canonical_json(payload);
    format!(
        "{HASH_SCHEME}{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    )
}

/// `value` as canonical JSON text: object keys sorted by their UTF-8 bytes, no whitespace,
/// strings escaped only where JSON requires (`"`, `\`, control characters), numbers by value
/// (an integral number as an integer, `1.0` and `1e2` as `1` and `100`; others in the shortest
/// form that reads back to the same 64-bit float). Two documents holding the same data give
/// the same text, however they were spaced, ordered, escaped or spelled.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => write_number(number, out),
        Value::String(text) => write_string(text, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
    }
}

/// Integers below 2^53 in magnitude are exact in a 64-bit float; beyond, a float is written
/// as a float.
const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0;

fn write_number(number: &Number, out: &mut String) {
    use std::fmt::Write as _;
    if let Some(unsigned) = number.as_u64() {
        let _ = write!(out, "{unsigned}");
    } else if let Some(signed) = number.as_i64() {
        let _ = write!(out, "{signed}");
    } else if let Some(float) = number.as_f64() {
        if float.fract() == 0.0 && float.abs() < EXACT_INTEGER_LIMIT {
            // Exact: the float is an integer within i64's range.
            #[allow(clippy::cast_possible_truncation)]
            let integer = float as i64;
            let _ = write!(out, "{integer}");
        } else {
            let _ = write!(out, "{float:?}");
        }
    } else {
        // Not reachable without serde_json's arbitrary precision; its text is its value then.
        let _ = write!(out, "{number}");
    }
}

fn write_string(text: &str, out: &mut String) {
    use std::fmt::Write as _;
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// SHA-256 of `bytes`, in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn describe_millis(ms: Option<i64>) -> String {
    match ms.and_then(chrono::DateTime::from_timestamp_millis) {
        Some(time) => time.to_rfc3339(),
        None => "its time-to-live ends".to_owned(),
    }
}

/// Reads the records' time-to-live from [`TTL_VAR`] (seconds), or [`DEFAULT_TTL`] when unset.
pub fn ttl_from_env() -> Result<Duration, TtlError> {
    match std::env::var(TTL_VAR) {
        Ok(value) if !value.trim().is_empty() => parse_ttl(&value),
        _ => Ok(DEFAULT_TTL),
    }
}

/// Parses a time-to-live in seconds (a positive integer).
pub fn parse_ttl(value: &str) -> Result<Duration, TtlError> {
    match value.trim().parse::<u64>() {
        Ok(seconds) if seconds > 0 => Ok(Duration::from_secs(seconds)),
        _ => Err(TtlError {
            value: value.to_owned(),
        }),
    }
}

/// [`TTL_VAR`] holds something other than a positive number of seconds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "environment variable {TTL_VAR} is `{value}`, not a positive number of seconds; set it to \
     one (the template sets it from the declaration's `idempotency.ttl-hours`) or unset it for \
     the default of 7 days"
)]
pub struct TtlError {
    /// What the variable held.
    pub value: String,
}

impl<S: IdempotencyStore> Idempotency<S> {
    /// Records in `store`, for [`DEFAULT_TTL`], on the system clock.
    pub fn new(store: S) -> Self {
        Self {
            store,
            ttl: DEFAULT_TTL,
            in_progress: DEFAULT_IN_PROGRESS,
            clock: Arc::new(SystemTime::now),
        }
    }

    /// How long a completed key stays done: a duplicate later than this runs the effect again.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How long an attempt without a deadline holds its key (default [`DEFAULT_IN_PROGRESS`]).
    pub fn with_in_progress_timeout(mut self, timeout: Duration) -> Self {
        self.in_progress = timeout;
        self
    }

    /// Reads the time from `clock` instead of the system clock (tests).
    pub fn with_clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The configured time-to-live.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Runs `effect` unless it already ran for `key`, and records its result.
    ///
    /// `payload` is what the key stands for: the event's data as received
    /// ([`crate::Incoming::raw_data`]), hashed in canonical form ([`payload_hash`]); a key seen
    /// again with other data is an error. `deadline` is when this attempt will be stopped (the
    /// invocation's, [`crate::Incoming::deadline`]); until then duplicates are told the effect
    /// is in progress, after it a new attempt may take over.
    pub async fn once<T, E, F, Fut>(
        &self,
        key: &str,
        payload: &Value,
        deadline: Option<SystemTime>,
        effect: F,
    ) -> Result<Done<T>, IdempotencyError<E>>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let hash = payload_hash(payload);
        let attempt = attempt_token();
        let now = (self.clock)();
        let now_ms = unix_millis(now);
        let until = deadline.unwrap_or(now + self.in_progress);
        let record = Record {
            key: key.to_owned(),
            status: Status::InProgress,
            expires_at: self.expires_at(now),
            in_progress_until: Some(unix_millis(until)),
            payload_hash: hash.clone(),
            result: None,
            attempt: Some(attempt.clone()),
        };
        let check = crate::trace::spans::idempotency_check(key);
        let claim = self
            .store
            .put_in_progress(&record, now_ms)
            .instrument(check.clone())
            .await;
        let claim = match claim {
            Ok(claim) => claim,
            Err(error) => {
                crate::trace::spans::fail(&check, error.to_string());
                return Err(error.into());
            }
        };
        match claim {
            Claim::Claimed => crate::trace::spans::idempotency_outcome(&check, "claimed"),
            Claim::Held(held) => {
                let outcome = match held.status {
                    Status::Completed => "completed",
                    Status::InProgress => "in_progress",
                };
                crate::trace::spans::idempotency_outcome(&check, outcome);
                let replayed = replay(held, &hash);
                if matches!(replayed, Ok(Done::Replayed(_))) {
                    crate::trace::spans::note_skip();
                }
                return replayed;
            }
        }
        drop(check);
        match effect().await {
            Ok(value) => {
                let text = match serde_json::to_string(&value) {
                    Ok(text) => text,
                    Err(e) => {
                        // The effect happened: keep the in-progress record (it expires at the
                        // deadline) rather than delete it and invite a second run.
                        tracing::error!(key, error = %e, "the effect's result does not serialise; its record stays in progress until the deadline");
                        return Ok(Done::Ran(value));
                    }
                };
                let expires_at = self.expires_at((self.clock)());
                match self.store.complete(key, &attempt, &text, expires_at).await {
                    Ok(Completion::Completed) => Ok(Done::Ran(value)),
                    Ok(Completion::NotHeld) => {
                        tracing::error!(
                            key,
                            "the effect ran but its record is no longer this attempt's (held past its deadline); failing so the invocation is retried"
                        );
                        Err(IdempotencyError::NotRecorded {
                            key: key.to_owned(),
                            reason: "the record is no longer this attempt's in-progress record \
                                     (another attempt took it over after this one's deadline)"
                                .to_owned(),
                            source: None,
                        })
                    }
                    Err(e) => {
                        tracing::error!(key, error = %e, "the effect ran but could not be recorded as completed; failing so the invocation is retried");
                        Err(IdempotencyError::NotRecorded {
                            key: key.to_owned(),
                            reason: e.to_string(),
                            source: Some(Box::new(e)),
                        })
                    }
                }
            }
            Err(error) => {
                if let Err(e) = self.store.delete(key, &attempt).await {
                    tracing::warn!(key, error = %e, "could not delete the failed attempt's record; retries wait for its deadline");
                }
                Err(IdempotencyError::Effect(error))
            }
        }
    }

    fn expires_at(&self, now: SystemTime) -> i64 {
        unix_millis(now + self.ttl).div_euclid(1000)
    }
}

/// A random token naming one attempt (128 bits, hex).
fn attempt_token() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

fn replay<T: DeserializeOwned, E>(
    held: Record,
    hash: &str,
) -> Result<Done<T>, IdempotencyError<E>> {
    // A record from before the canonical hash holds a hash of other bytes: not comparable.
    let comparable = held.payload_hash.starts_with(HASH_SCHEME);
    if comparable && held.payload_hash != hash {
        return Err(IdempotencyError::PayloadMismatch {
            key: held.key,
            stored: held.payload_hash,
            found: hash.to_owned(),
        });
    }
    match held.status {
        Status::InProgress => Err(IdempotencyError::InProgress {
            until: describe_millis(held.in_progress_until),
            key: held.key,
        }),
        Status::Completed => {
            let text = held.result.as_deref().unwrap_or("null");
            serde_json::from_str(text).map(Done::Replayed).map_err(|e| {
                IdempotencyError::StoredResult {
                    key: held.key,
                    reason: e.to_string(),
                }
            })
        }
    }
}

#[cfg(test)]
mod tests;
