//! The state machine on the in-memory store.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

use serde_json::json;

use super::*;

/// A clock the test moves by hand.
#[derive(Clone)]
struct Clock(Arc<AtomicI64>);

impl Clock {
    fn new() -> Self {
        Self(Arc::new(AtomicI64::new(1_800_000_000_000)))
    }
    fn now(&self) -> SystemTime {
        let ms = self.0.load(Ordering::SeqCst);
        UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap())
    }
    fn advance(&self, by: Duration) {
        self.0
            .fetch_add(i64::try_from(by.as_millis()).unwrap(), Ordering::SeqCst);
    }
}

fn utility(clock: &Clock) -> Idempotency<Arc<MemoryStore>> {
    let clock = clock.clone();
    Idempotency::new(Arc::new(MemoryStore::new()))
        .with_ttl(Duration::from_secs(3600))
        .with_clock(move || clock.now())
}

/// An effect that counts its runs and returns the run number.
async fn counting(runs: &AtomicUsize) -> Result<usize, HandlerError> {
    Ok(runs.fetch_add(1, Ordering::SeqCst) + 1)
}

#[tokio::test]
async fn first_run_runs_the_effect_and_stores_its_result() {
    let clock = Clock::new();
    let idem = utility(&clock);
    let runs = AtomicUsize::new(0);
    let done = idem
        .once("k1", &json!("payload"), None, || counting(&runs))
        .await
        .unwrap();
    assert_eq!(done, Done::Ran(1));
    let record = idem.store().record("k1").unwrap();
    assert_eq!(record.status, Status::Completed);
    assert_eq!(record.result.as_deref(), Some("1"));
    assert_eq!(record.payload_hash, payload_hash(&json!("payload")));
    assert_eq!(record.expires_at, unix_millis(clock.now()) / 1000 + 3600);
}

#[tokio::test]
async fn a_duplicate_gets_the_stored_result_without_running_the_effect() {
    let clock = Clock::new();
    let idem = utility(&clock);
    let runs = AtomicUsize::new(0);
    idem.once("k1", &json!("payload"), None, || counting(&runs))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(600));
    let again = idem
        .once("k1", &json!("payload"), None, || counting(&runs))
        .await
        .unwrap();
    assert_eq!(again, Done::Replayed(1));
    assert!(again.replayed());
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    // Another key is another effect.
    let other = idem
        .once("k2", &json!("payload"), None, || counting(&runs))
        .await
        .unwrap();
    assert_eq!(other, Done::Ran(2));
}

#[tokio::test]
async fn a_concurrent_duplicate_is_told_to_retry_and_then_gets_the_result() {
    let clock = Clock::new();
    let idem = Arc::new(utility(&clock));
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let (finish_tx, finish_rx) = tokio::sync::oneshot::channel::<()>();
    let first = tokio::spawn({
        let idem = Arc::clone(&idem);
        async move {
            idem.once("k1", &json!("payload"), None, || async move {
                let _ = started_tx.send(());
                let _ = finish_rx.await;
                Ok::<_, String>("sent".to_owned())
            })
            .await
        }
    });
    started_rx.await.unwrap();
    let runs = AtomicUsize::new(0);
    let error = idem
        .once("k1", &json!("payload"), None, || counting(&runs))
        .await
        .unwrap_err();
    assert!(
        matches!(error, IdempotencyError::InProgress { ref key, .. } if key == "k1"),
        "{error}"
    );
    assert!(matches!(
        HandlerError::from(error),
        HandlerError::Retryable(reason) if reason.to_string().contains("another attempt is running")
    ));
    finish_tx.send(()).unwrap();
    assert_eq!(first.await.unwrap().unwrap(), Done::Ran("sent".to_owned()));
    let retried: Done<String> = idem
        .once("k1", &json!("payload"), None, || async {
            Ok::<_, String>("twice".into())
        })
        .await
        .unwrap();
    assert_eq!(retried, Done::Replayed("sent".to_owned()));
    assert_eq!(runs.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_crashed_attempt_blocks_until_its_deadline_then_a_retry_runs() {
    let clock = Clock::new();
    let idem = Arc::new(utility(&clock));
    let deadline = clock.now() + Duration::from_secs(10);
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    // The first attempt never finishes: its task is killed mid-effect, as a crash or a
    // Lambda timeout would, and leaves its in-progress record behind.
    let crashed = tokio::spawn({
        let idem = Arc::clone(&idem);
        async move {
            idem.once("k1", &json!("payload"), Some(deadline), || async move {
                let _ = started_tx.send(());
                std::future::pending::<Result<u32, String>>().await
            })
            .await
        }
    });
    started_rx.await.unwrap();
    crashed.abort();
    assert!(crashed.await.unwrap_err().is_cancelled());
    let record = idem.store().record("k1").unwrap();
    assert_eq!(record.status, Status::InProgress);
    assert_eq!(record.in_progress_until, Some(unix_millis(deadline)));

    let runs = AtomicUsize::new(0);
    clock.advance(Duration::from_secs(9));
    let error = idem
        .once("k1", &json!("payload"), None, || counting(&runs))
        .await
        .unwrap_err();
    assert!(
        matches!(error, IdempotencyError::InProgress { .. }),
        "{error}"
    );

    clock.advance(Duration::from_secs(2));
    let done = idem
        .once("k1", &json!("payload"), None, || counting(&runs))
        .await
        .unwrap();
    assert_eq!(done, Done::Ran(1));
    assert_eq!(idem.store().record("k1").unwrap().status, Status::Completed);
}

#[tokio::test]
async fn the_same_key_with_another_payload_is_an_error_not_a_skip() {
    let clock = Clock::new();
    let idem = utility(&clock);
    let runs = AtomicUsize::new(0);
    idem.once("k1", &json!({"order": "o-1"}), None, || counting(&runs))
        .await
        .unwrap();
    let error = idem
        .once("k1", &json!({"order": "o-2"}), None, || counting(&runs))
        .await
        .unwrap_err();
    let IdempotencyError::PayloadMismatch { key, stored, found } = &error else {
        panic!("expected a payload mismatch, got {error}");
    };
    assert_eq!(key, "k1");
    assert_ne!(stored, found);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    // Retrying cannot help: the event is poison, with the reason.
    let HandlerError::Poison(reason) = HandlerError::from(error) else {
        panic!("a payload mismatch must be poison");
    };
    assert!(reason.contains("payload differs"), "{reason}");
}

#[tokio::test]
async fn a_failed_effect_deletes_its_record_so_a_retry_runs() {
    let clock = Clock::new();
    let idem = utility(&clock);
    let error = idem
        .once("k1", &json!("payload"), None, || async {
            Err::<u32, _>(HandlerError::retryable("outbox down"))
        })
        .await
        .unwrap_err();
    assert!(matches!(error, IdempotencyError::Effect(_)));
    assert_eq!(
        HandlerError::from(error),
        HandlerError::Retryable("outbox down".into())
    );
    assert!(idem.store().record("k1").is_none());
    let runs = AtomicUsize::new(0);
    let done = idem
        .once("k1", &json!("payload"), None, || counting(&runs))
        .await
        .unwrap();
    assert_eq!(done, Done::Ran(1));
}

#[tokio::test]
async fn after_the_ttl_the_key_runs_again() {
    let clock = Clock::new();
    let idem = utility(&clock);
    let runs = AtomicUsize::new(0);
    idem.once("k1", &json!("payload"), None, || counting(&runs))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(3599));
    let within = idem
        .once("k1", &json!("payload"), None, || counting(&runs))
        .await
        .unwrap();
    assert_eq!(within, Done::Replayed(1));
    clock.advance(Duration::from_secs(2));
    let after = idem
        .once("k1", &json!("payload"), None, || counting(&runs))
        .await
        .unwrap();
    assert_eq!(after, Done::Ran(2));
}

#[tokio::test]
async fn a_stored_result_of_another_type_is_reported() {
    let clock = Clock::new();
    let idem = utility(&clock);
    idem.once("k1", &json!("payload"), None, || async {
        Ok::<_, String>("text".to_owned())
    })
    .await
    .unwrap();
    let error = idem
        .once("k1", &json!("payload"), None, || async {
            Ok::<u32, String>(1)
        })
        .await
        .unwrap_err();
    assert!(
        matches!(error, IdempotencyError::StoredResult { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("delete the record"), "{error}");
}

#[test]
fn ttl_values_are_positive_seconds() {
    assert_eq!(parse_ttl("3600").unwrap(), Duration::from_secs(3600));
    assert_eq!(parse_ttl(" 60 ").unwrap(), Duration::from_secs(60));
    for bad in ["0", "-1", "1h", ""] {
        let error = parse_ttl(bad).unwrap_err();
        assert!(error.to_string().contains(TTL_VAR), "{error}");
    }
}

#[test]
fn liveness_follows_expiry_and_deadline() {
    let record = Record {
        key: "k".into(),
        status: Status::InProgress,
        expires_at: 2_000,
        in_progress_until: Some(1_500_000),
        payload_hash: String::new(),
        result: None,
        attempt: None,
    };
    assert!(record.is_live(1_500_000));
    assert!(!record.is_live(1_500_001));
    let completed = Record {
        status: Status::Completed,
        in_progress_until: None,
        ..record
    };
    assert!(completed.is_live(2_000_999));
    assert!(!completed.is_live(2_001_000));
    assert_eq!(Status::parse("COMPLETED"), Some(Status::Completed));
    assert_eq!(
        Status::parse(Status::InProgress.as_str()),
        Some(Status::InProgress)
    );
    assert_eq!(Status::parse("other"), None);
}

#[test]
fn the_same_data_however_written_hashes_the_same() {
    let first: Value = serde_json::from_str(
        r#"{"order_id":"o-1","amount":100,"price":2.5,"note":"A\u00e9\n","items":[{"sku":"a","qty":1}]}"#,
    )
    .unwrap();
    // Other key order, spacing, escapes and number spelling: the same data.
    let second: Value = serde_json::from_str(
        "{ \"items\" : [ { \"qty\" : 1.0, \"sku\" : \"\\u0061\" } ],\n  \"price\": 25e-1,\
         \"note\": \"\\u0041\u{e9}\\n\", \"amount\": 1e2, \"order_id\": \"o-1\" }",
    )
    .unwrap();
    assert_eq!(payload_hash(&first), payload_hash(&second));
    assert_eq!(canonical_json(&first), canonical_json(&second));
    assert_eq!(
        canonical_json(&first),
        r#"{"amount":100,"items":[{"qty":1,"sku":"a"}],"note":"Aé\n","order_id":"o-1","price":2.5}"#
    );
    assert!(payload_hash(&first).starts_with(HASH_SCHEME));
    // Other data hashes otherwise: a field more (one a type would ignore), another value,
    // another type.
    let mut extra = first.clone();
    extra["gift_wrap"] = json!(true);
    let mut other = first.clone();
    other["amount"] = json!(101);
    let mut text = first.clone();
    text["amount"] = json!("100");
    for different in [extra, other, text] {
        assert_ne!(
            payload_hash(&first),
            payload_hash(&different),
            "{different}"
        );
    }
}

#[tokio::test]
async fn a_field_the_consumer_s_type_ignores_still_makes_the_payload_differ() {
    let clock = Clock::new();
    let idem = utility(&clock);
    let runs = AtomicUsize::new(0);
    let first: Value = serde_json::from_str(r#"{"order_id":"o-1"}"#).unwrap();
    idem.once("k1", &first, None, || counting(&runs))
        .await
        .unwrap();
    // Written otherwise, the same data: a duplicate.
    let respelled: Value = serde_json::from_str("{ \"order_id\" : \"o-\\u0031\" }").unwrap();
    let again = idem
        .once("k1", &respelled, None, || counting(&runs))
        .await
        .unwrap();
    assert_eq!(again, Done::Replayed(1));
    // A field more: not the same data, even if the handler's type drops it.
    let extended: Value = serde_json::from_str(r#"{"order_id":"o-1","coupon":"SAVE10"}"#).unwrap();
    let error = idem
        .once("k1", &extended, None, || counting(&runs))
        .await
        .unwrap_err();
    assert!(
        matches!(error, IdempotencyError::PayloadMismatch { .. }),
        "{error}"
    );
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_record_from_before_the_canonical_hash_is_not_compared() {
    let clock = Clock::new();
    let idem = utility(&clock);
    idem.store().insert(Record {
        key: "k1".into(),
        status: Status::Completed,
        expires_at: unix_millis(clock.now()) / 1000 + 60,
        in_progress_until: None,
        payload_hash: "0".repeat(64),
        result: Some("7".into()),
        attempt: None,
    });
    let runs = AtomicUsize::new(0);
    let done = idem
        .once("k1", &json!({"a": 1}), None, || counting(&runs))
        .await
        .unwrap();
    assert_eq!(done, Done::Replayed(7));
}

/// A store whose completing write fails (DynamoDB throttled or unreachable at that moment).
struct CompleteFails(Arc<MemoryStore>);

impl IdempotencyStore for CompleteFails {
    async fn put_in_progress(&self, record: &Record, now_ms: i64) -> Result<Claim, StoreError> {
        self.0.put_in_progress(record, now_ms).await
    }

    async fn complete(
        &self,
        key: &str,
        _attempt: &str,
        _result: &str,
        _expires_at: i64,
    ) -> Result<Completion, StoreError> {
        Err(StoreError {
            store: "test".into(),
            operation: "UpdateItem",
            key: key.to_owned(),
            message: "ProvisionedThroughputExceededException".into(),
        })
    }

    async fn delete(&self, key: &str, attempt: &str) -> Result<(), StoreError> {
        self.0.delete(key, attempt).await
    }
}

#[tokio::test]
async fn a_failed_completed_write_fails_the_invocation_so_it_is_retried() {
    let clock = Clock::new();
    let records = Arc::new(MemoryStore::new());
    let idem = {
        let clock = clock.clone();
        Idempotency::new(CompleteFails(Arc::clone(&records))).with_clock(move || clock.now())
    };
    let runs = AtomicUsize::new(0);
    let error = idem
        .once("k1", &json!("payload"), None, || counting(&runs))
        .await
        .unwrap_err();
    assert_eq!(runs.load(Ordering::SeqCst), 1, "the effect ran");
    let IdempotencyError::NotRecorded { key, source, .. } = &error else {
        panic!("expected NotRecorded, got {error}");
    };
    assert_eq!(key, "k1");
    assert!(source.is_some());
    assert!(
        error.to_string().contains("ProvisionedThroughputExceeded"),
        "{error}"
    );
    // Retryable: the invocation fails, Lambda retries it.
    assert!(matches!(
        HandlerError::from(error),
        HandlerError::Retryable(reason) if reason.to_string().contains("not marked completed")
    ));
    // The record is left in progress (not deleted: the effect happened), so a duplicate
    // meanwhile is told to retry rather than run the effect again.
    assert_eq!(records.record("k1").unwrap().status, Status::InProgress);
}

#[tokio::test]
async fn only_the_attempt_holding_the_record_completes_it() {
    let clock = Clock::new();
    let idem = Arc::new(utility(&clock));
    let deadline = clock.now() + Duration::from_secs(10);
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let (finish_tx, finish_rx) = tokio::sync::oneshot::channel::<()>();
    // A slow attempt runs past its deadline...
    let slow = tokio::spawn({
        let idem = Arc::clone(&idem);
        async move {
            idem.once("k1", &json!("payload"), Some(deadline), || async move {
                let _ = started_tx.send(());
                let _ = finish_rx.await;
                Ok::<_, String>("slow".to_owned())
            })
            .await
        }
    });
    started_rx.await.unwrap();
    clock.advance(Duration::from_secs(11));
    // ... so a retry takes the key over and completes it.
    let retry: Done<String> = idem
        .once("k1", &json!("payload"), None, || async {
            Ok::<_, String>("retry".to_owned())
        })
        .await
        .unwrap();
    assert_eq!(retry, Done::Ran("retry".to_owned()));
    // The slow attempt finishes: its completing write must not overwrite the retry's record.
    finish_tx.send(()).unwrap();
    let error = slow.await.unwrap().unwrap_err();
    assert!(
        matches!(error, IdempotencyError::NotRecorded { source: None, .. }),
        "{error}"
    );
    let record = idem.store().record("k1").unwrap();
    assert_eq!(record.status, Status::Completed);
    assert_eq!(record.result.as_deref(), Some("\"retry\""));
}

#[tokio::test]
async fn a_failed_effect_deletes_only_its_own_record() {
    let clock = Clock::new();
    let idem = Arc::new(utility(&clock));
    let deadline = clock.now() + Duration::from_secs(10);
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let (finish_tx, finish_rx) = tokio::sync::oneshot::channel::<()>();
    let slow = tokio::spawn({
        let idem = Arc::clone(&idem);
        async move {
            idem.once("k1", &json!("payload"), Some(deadline), || async move {
                let _ = started_tx.send(());
                let _ = finish_rx.await;
                Err::<String, _>("outbox down".to_owned())
            })
            .await
        }
    });
    started_rx.await.unwrap();
    clock.advance(Duration::from_secs(11));
    let retry: Done<String> = idem
        .once("k1", &json!("payload"), None, || async {
            Ok::<_, String>("retry".to_owned())
        })
        .await
        .unwrap();
    assert_eq!(retry, Done::Ran("retry".to_owned()));
    finish_tx.send(()).unwrap();
    assert!(matches!(
        slow.await.unwrap(),
        Err(IdempotencyError::Effect(_))
    ));
    let record = idem.store().record("k1").unwrap();
    assert_eq!(record.result.as_deref(), Some("\"retry\""));
}
